"""Huge pages: which mappings the daemon advises, read back from the kernel's own flags.

``VmFlags: ... hg`` in ``/proc/PID/smaps`` is the kernel's record of ``MADV_HUGEPAGE`` on a
mapping; whether huge pages then back it is the kernel's choice, so that is not asserted.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from litettsd.huge_pages import MIN_BYTES, HugePages

from .conftest import audio_of


def _thp_on() -> bool:
    mode = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return mode.exists() and "[never]" not in mode.read_text()


pytestmark = pytest.mark.skipif(not _thp_on(), reason="transparent huge pages are off in this kernel")


@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    name: str
    advised: bool


def _mappings(pid: int | str = "self") -> list[Mapping]:
    """Every mapping of the process, and whether it carries the huge-page advice."""
    found: list[Mapping] = []
    head: list[str] = []
    for line in Path(f"/proc/{pid}/smaps").read_text(errors="replace").splitlines():
        fields = line.split()
        if "-" in fields[0] and not fields[0].endswith(":"):
            head = fields
        elif fields[0] == "VmFlags:":
            start, end = (int(bound, 16) for bound in head[0].split("-"))
            found.append(Mapping(start, end, " ".join(head[5:]), "hg" in fields[1:]))
    return found


def _advised(address: int, pid: int | str = "self") -> bool:
    return next(m.advised for m in _mappings(pid) if m.start <= address < m.end)


def _address(region: mmap.mmap) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(region))


def _mprotect(address: int, size: int, protection: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    assert libc.mprotect(address, size, protection) == 0, ctypes.get_errno()


def _fenced(*parts: tuple[int, int]) -> tuple[mmap.mmap, list[int]]:
    """One mapping cut into parts of (size, protection) by read-only pages on every side, so
    that the kernel merges no part with a neighbouring mapping; and where each part starts."""
    page = mmap.PAGESIZE
    region = mmap.mmap(-1, page + sum(size + page for size, _ in parts), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    at, starts = _address(region), []
    for size, protection in parts:
        _mprotect(at, page, mmap.PROT_READ)
        starts.append(at + page)
        if protection != mmap.PROT_READ | mmap.PROT_WRITE:
            _mprotect(at + page, size, protection)
        at += page + size
    _mprotect(at, page, mmap.PROT_READ)
    return region, starts


READ_WRITE = mmap.PROT_READ | mmap.PROT_WRITE


def test_large_anonymous_mappings_are_advised_and_small_ones_are_not() -> None:
    region, (small_at, large_at) = _fenced((MIN_BYTES // 2, READ_WRITE), (2 * MIN_BYTES, READ_WRITE))
    try:
        assert not _advised(large_at), "the kernel advised the region before we did"
        HugePages().advise_new()
        assert _advised(large_at)
        assert not _advised(small_at), "a mapping smaller than MIN_BYTES (a thread stack's size) was advised"
    finally:
        region.close()


def test_a_stack_right_above_its_guard_page_is_left_out() -> None:
    """A thread's stack sits right above its guard page, and the kernel may merge it with the
    mapping above it: the stack's own size above the guard is not advised, the rest is."""
    advisor = HugePages()
    stack_bytes = advisor._stack_bytes
    region, (guard_at,) = _fenced((mmap.PAGESIZE + stack_bytes + 2 * MIN_BYTES, READ_WRITE))
    _mprotect(guard_at, mmap.PAGESIZE, 0)  # PROT_NONE
    stack_at = guard_at + mmap.PAGESIZE
    top = stack_at + stack_bytes + 2 * MIN_BYTES - 1
    try:
        advisor.advise_new()
        assert not _advised(guard_at)
        assert not _advised(stack_at)
        assert not _advised(stack_at + stack_bytes - 1)
        assert _advised(top)
    finally:
        region.close()


def test_a_mapping_made_after_a_scan_is_advised_at_the_next() -> None:
    advisor = HugePages()
    advisor.advise_new()
    region, (at,) = _fenced((2 * MIN_BYTES, READ_WRITE))
    try:
        assert not _advised(at)
        advisor.advise_new()
        assert _advised(at)
    finally:
        region.close()


def test_a_mapping_gone_before_its_advice_does_not_end_the_advising() -> None:
    """Another thread may unmap what a scan found before ``madvise`` reaches it (ENOMEM):
    that mapping is skipped and the next call scans again. The race is forced with a stand-in
    for ``madvise`` that fails the way the kernel does; the scan and the retry are real."""
    advisor = HugePages()
    real_madvise, failures = advisor._madvise, []
    assert real_madvise is not None

    def vanished(start: int, length: int, advice: int) -> int:
        failures.append(start)
        ctypes.set_errno(errno.ENOMEM)
        return -1

    region, (at,) = _fenced((2 * MIN_BYTES, READ_WRITE))
    try:
        advisor._madvise = vanished
        advisor.advise_new()
        assert failures, "no mapping was found to advise"
        assert advisor._madvise is vanished, "advising was given up over one vanished mapping"
        assert advisor._size == -1, "the next call would not look again"
        advisor._madvise = real_madvise
        advisor.advise_new()  # nothing was mapped since: only the failure makes it look again
        assert _advised(at)
    finally:
        region.close()


def _in_child(body: str) -> list[str]:
    """Run ``body`` in a fresh interpreter, with its own mappings; the words it printed."""
    script = f"import ctypes, mmap, sys\nsys.path[:0] = {sys.path!r}\n" + textwrap.dedent(body)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent.parent
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_reserved_heap_keeps_the_advice_as_it_is_opened_up() -> None:
    """glibc reserves a thread's heap without access and opens it as the heap grows; the
    part opened after the scan must carry the advice (checked in a child: mprotect)."""
    words = _in_child(
        """
        from litettsd.huge_pages import HugePages
        from tests.test_huge_pages import _advised
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        size = 64 << 20
        base = libc.mmap(None, size, 0, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        HugePages().advise_new()
        assert libc.mprotect(base, 8 << 20, mmap.PROT_READ | mmap.PROT_WRITE) == 0
        ctypes.memset(base, 1, 8 << 20)
        print(_advised(base), _advised(base + size - 1))
        """
    )
    assert words == ["True", "True"]


def test_the_daemon_advises_its_arena_unless_told_not_to(start_daemon) -> None:
    """onnxruntime's arena is the daemon's one anonymous mapping of 64 MB or more (its first
    region, see ``arena``); other memory may carry the advice from elsewhere (numpy advises
    its own large arrays), so only the arena is looked at."""
    for setting, expected in (("true", True), ("false", False)):
        private = start_daemon(f"[cache]\nphrases = []\nmax_bytes = 0\n[cpu]\nhuge_pages = {setting}\n")
        with private.connect() as conn:
            assert audio_of(conn.request({"op": "synthesize", "id": 1, "text": "A sentence or two of speech."}))
        arena = [m for m in _mappings(private.proc.pid) if not m.name and m.end - m.start >= 64 << 20]
        assert arena, "no mapping the size of onnxruntime's arena"
        assert all(m.advised == expected for m in arena), (setting, arena)
        private.stop()
