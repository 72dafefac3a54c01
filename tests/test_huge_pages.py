"""Huge pages: which mappings the daemon advises, read back from the kernel's own flags.

``VmFlags: ... hg`` in ``/proc/PID/smaps`` is the kernel's record of ``MADV_HUGEPAGE`` on a
mapping; whether huge pages then back it is the kernel's choice, so that is not asserted.
"""

from __future__ import annotations

import mmap
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from litettsd.huge_pages import MIN_BYTES, HugePages

from .conftest import audio_of


def _thp_available() -> bool:
    mode = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return mode.exists() and "[never]" not in mode.read_text()


pytestmark = pytest.mark.skipif(not _thp_available(), reason="this kernel has no transparent huge pages")


def _advised_ranges(pid: int | str = "self") -> dict[tuple[int, int], bool]:
    """Every mapping of the process, and whether it carries the huge-page advice."""
    flags: dict[tuple[int, int], bool] = {}
    current = (0, 0)
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            start, end = (int(bound, 16) for bound in head.split("-"))
            current = (start, end)
        elif head == "VmFlags:":
            flags[current] = "hg" in line.split()[1:]
    return flags


def _flag_of(address: int, flags: dict[tuple[int, int], bool]) -> bool:
    return next(advised for (start, end), advised in flags.items() if start <= address < end)


def _address(region: mmap.mmap) -> int:
    import ctypes

    return ctypes.addressof(ctypes.c_char.from_buffer(region))


def _fenced(*sizes: int) -> tuple[mmap.mmap, list[int]]:
    """One mapping cut into writable parts of ``sizes`` by read-only pages on every side, so
    that the kernel cannot merge a part with a neighbouring mapping; and where each part starts."""
    import ctypes

    page = mmap.PAGESIZE
    region = mmap.mmap(-1, page + sum(size + page for size in sizes), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    at, starts = _address(region), []
    for size in sizes:
        assert libc.mprotect(at, page, mmap.PROT_READ) == 0
        starts.append(at + page)
        at += page + size
    assert libc.mprotect(at, page, mmap.PROT_READ) == 0
    return region, starts


def test_large_anonymous_mappings_are_advised_and_small_ones_are_not() -> None:
    region, (small_at, large_at) = _fenced(MIN_BYTES // 2, 2 * MIN_BYTES)
    try:
        before = _advised_ranges()
        assert not _flag_of(large_at, before), "the kernel advised the region before we did"
        advisor = HugePages()
        advisor.advise_new()
        after = _advised_ranges()
        assert _flag_of(large_at, after)
        assert not _flag_of(small_at, after), "a mapping smaller than MIN_BYTES (a thread stack's size) was advised"
        assert advisor.advised_bytes >= 2 * MIN_BYTES
    finally:
        region.close()


def test_a_mapping_made_after_a_scan_is_advised_at_the_next() -> None:
    advisor = HugePages()
    advisor.advise_new()
    region = mmap.mmap(-1, 2 * MIN_BYTES, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        assert not _flag_of(_address(region), _advised_ranges())
        advisor.advise_new()
        assert _flag_of(_address(region), _advised_ranges())
    finally:
        region.close()


def test_a_reserved_heap_keeps_the_advice_as_it_is_opened_up() -> None:
    """glibc reserves a thread's heap without access and opens it as the heap grows; the
    part opened after the scan must carry the advice (checked in a child: mprotect)."""
    script = textwrap.dedent(
        f"""
        import ctypes, mmap, sys
        sys.path[:0] = {sys.path!r}
        from litettsd.huge_pages import HugePages
        from tests.test_huge_pages import _advised_ranges, _flag_of
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        size = 64 << 20
        base = libc.mmap(None, size, 0, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        HugePages().advise_new()
        assert libc.mprotect(base, 8 << 20, mmap.PROT_READ | mmap.PROT_WRITE) == 0
        ctypes.memset(base, 1, 8 << 20)
        print(_flag_of(base, _advised_ranges()), _flag_of(base + size - 1, _advised_ranges()))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent.parent
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_the_daemon_advises_its_arena_unless_told_not_to(start_daemon) -> None:
    for setting, expected in (("true", True), ("false", False)):
        private = start_daemon(f"[cache]\nphrases = []\nmax_bytes = 0\n[cpu]\nhuge_pages = {setting}\n")
        with private.connect() as conn:
            assert audio_of(conn.request({"op": "synthesize", "id": 1, "text": "A sentence or two of speech."}))
        flags = _advised_ranges(private.proc.pid)
        advised = sum(end - start for (start, end), advised in flags.items() if advised)
        if expected:
            # onnxruntime's arena region alone is 64 MB (see arena._FIRST_REGION)
            assert advised >= 64 << 20, f"only {advised >> 20} MB advised"
        else:
            assert advised == 0, f"{advised >> 20} MB advised with huge_pages = false"
        private.stop()
