"""Transparent huge pages for the memory inference works in.

Every chunk's inference sweeps tens of megabytes of activations and kernel buffers. With
4 KB pages those sweeps keep missing the TLB; one 2 MB page maps what 512 small ones do.
Most distributions back memory with huge pages only where a process asks for them (THP in
``madvise`` mode), and glibc asks for its heaps only when ``glibc.malloc.hugetlb`` is in
the environment at exec, which a daemon started by hand does not have. So the daemon asks
itself: before each inference, if its address space has grown, it advises ``MADV_HUGEPAGE``
on its new large anonymous mappings (onnxruntime's arena regions, the malloc heap). Pages
not yet touched then come as huge pages; pages touched before the advice (a region the arena
grew in the middle of a run) are merged later by the kernel's ``khugepaged``, off our CPU.

Only mappings of at least ``MIN_BYTES`` and the main heap are advised: a thread stack (8 MB,
touched a page or two at a time) backed by huge pages would cost 2 MB a thread.

Piper's corpus on the 2-core CI machine: 0.98x the time with the advice (raw onnxruntime,
10 alternating rounds; glibc's own tunable reached 0.97x), with the same peak RSS.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)

MIN_BYTES = 16 << 20
"""Smallest anonymous mapping advised: above a thread stack, below onnxruntime's first arena region."""
_MADV_HUGEPAGE = 14
"""From ``<sys/mman.h>`` (Linux, every architecture)."""


class HugePages:
    """Advises huge pages on the process's large anonymous mappings as they appear."""

    def __init__(self) -> None:
        self._size = -1
        """Address-space size at the last scan: a cheap sign that nothing was mapped since."""
        self._advised: set[tuple[int, int]] = set()
        self._madvise = _libc_madvise()
        self.advised_bytes = 0
        """Bytes advised so far (mappings that grew are counted again)."""

    def advise_new(self) -> None:
        """Advise every large anonymous mapping not advised yet; cheap when nothing was mapped."""
        if self._madvise is None:
            return
        try:
            size = _address_space_pages()
            if size == self._size:
                return
            mappings = _large_anonymous_mappings()
        except (OSError, ValueError, IndexError) as exc:  # an unusual /proc: inference goes on without
            log.info("cannot read this process's mappings (%s); not advising huge pages", exc)
            self._madvise = None
            return
        self._size = size
        for start, end in mappings:
            if (start, end) in self._advised:
                continue
            if self._madvise(start, end - start, _MADV_HUGEPAGE) != 0:
                # EINVAL: a kernel without transparent huge pages; nothing here will change that.
                log.info("huge pages unavailable (%s); not advising them", os.strerror(_errno()))
                self._madvise = None
                return
            self._advised.add((start, end))
            self.advised_bytes += end - start


def _libc_madvise() -> Callable[[int, int, int], int] | None:
    """libc's ``madvise``, or None where there is no ``/proc`` to find mappings in."""
    if not os.path.exists("/proc/self/maps"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise  # type: ignore[no-any-return]


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def _address_space_pages() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split(maxsplit=1)[0])


def _large_anonymous_mappings() -> list[tuple[int, int]]:
    """Private anonymous mappings of at least ``MIN_BYTES``, and the main heap.

    Reserved (``---p``) ones count: glibc reserves 64 MB for each thread's heap and opens it
    up as the heap grows, and what is opened keeps the advice, so the inference thread's
    heap is covered from its first megabyte to its last.
    """
    found = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if fields[1] not in ("rw-p", "---p") or fields[4] != "0":
                continue
            name = fields[5] if len(fields) > 5 else ""
            start, end = (int(bound, 16) for bound in fields[0].split("-"))
            if (name == "" and end - start >= MIN_BYTES) or name == "[heap]":
                found.append((start, end))
    return found
