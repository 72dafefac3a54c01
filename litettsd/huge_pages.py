"""Transparent huge pages for the memory inference works in.

Every chunk's inference sweeps tens of megabytes of activations and kernel buffers. With
4 KB pages those sweeps keep missing the TLB; one 2 MB page maps what 512 small ones do.
Most distributions back memory with huge pages only where a process asks for them (THP in
``madvise`` mode), and glibc asks for its heaps only when ``glibc.malloc.hugetlb`` is in
the environment at exec, which a daemon started by hand does not have. So the daemon asks
itself: before each inference, if its address space has grown, it advises ``MADV_HUGEPAGE``
on its large anonymous mappings (onnxruntime's arena regions, the malloc heaps). Pages not
yet touched then come as huge pages; pages touched before the advice (a region the arena
grew in the middle of a run) are merged later by the kernel's ``khugepaged``, off our CPU.

The size is read from ``/proc/self/statm`` through a call that keeps the interpreter lock
(``ctypes.PyDLL``): a read through Python's own I/O gives the lock up, which let the event
loop take it between two inferences, and the next one started ~0.6 ms later (21-chunk
corpus: 44 ms of gaps instead of 32). The peak RSS from ``getrusage`` would keep the lock
too, but a process inherits its parent's peak across fork and exec, so it misses growth.

Thread stacks are left alone: a stack backed by huge pages would cost 2 MB a thread for the
few kilobytes it uses. A mapping right above a guard page starts with a stack (one the
kernel merged with the mapping above it, or a stack larger than ``MIN_BYTES``), so only what
lies a stack's size above the guard is advised.

Piper's corpus through the daemon on the 2-core Sapphire Rapids machine: 0.98x the time with the advice
(12 alternating rounds against a daemon without it), at the same peak RSS; glibc's own
tunable, set at exec, did no better.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

MIN_BYTES = 16 << 20
"""Smallest anonymous mapping advised: above a default 8 MB thread stack, below
onnxruntime's first arena region (64 MB)."""
_HUGE_PAGE = 2 << 20
_DEFAULT_STACK = 8 << 20
"""glibc's thread stack size where the stack size limit is unlimited."""
_PERMANENT = frozenset({errno.EINVAL, errno.EPERM, errno.ENOSYS})
"""``madvise`` failures that no later call will escape: a kernel without huge pages, a
seccomp filter. Others (ENOMEM: a mapping gone meanwhile) only skip that mapping."""
_GUARD_BYTES = 1 << 20
"""A reserved mapping this small right below a writable one is taken for a stack's guard."""
_MADV_HUGEPAGE = 14
"""From ``<sys/mman.h>`` (Linux, every architecture)."""
_THP_MODE = "/sys/kernel/mm/transparent_hugepage/enabled"


class HugePages:
    """Advises huge pages on the process's large anonymous mappings as they appear."""

    def __init__(self) -> None:
        self._size = -1
        """Address-space size at the last scan: while it stays, nothing was mapped since."""
        self._madvise = _libc_madvise()
        self._stack_bytes = _stack_limit() or _DEFAULT_STACK

    def advise_new(self) -> None:
        """Advise every large anonymous mapping; cheap when nothing was mapped since the last call."""
        if self._madvise is None:
            return
        try:
            size = _address_space_pages()
            if size == self._size:
                return
            mappings = _large_anonymous_mappings(self._stack_bytes)
        except Exception as exc:  # an unusual /proc; only an optimization is lost, never a job
            log.info("cannot read this process's mappings (%s); not advising huge pages", exc)
            self._madvise = None
            return
        self._size = size
        for start, end in mappings:  # advising again what was advised before changes nothing
            if self._madvise(start, end - start, _MADV_HUGEPAGE) == 0:
                continue
            failure = _errno()
            if failure in _PERMANENT:
                log.info("huge pages unavailable (%s); not advising them", os.strerror(failure))
                self._madvise = None
                return
            self._size = -1  # look again next time


def _libc_madvise() -> Callable[[int, int, int], int] | None:
    """libc's ``madvise``, or None where huge pages are off or there is no ``/proc``."""
    if not os.path.exists("/proc/self/maps"):
        return None
    try:
        with open(_THP_MODE) as mode:
            if "[never]" in mode.read():
                return None
    except OSError:  # no THP in this kernel (or no sysfs): madvise will say
        pass
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise  # type: ignore[no-any-return]


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


_statm: tuple[Callable[..., int], int, Any] | None = None
"""``pread`` keeping the interpreter lock, an open ``/proc/self/statm`` and a buffer, made
once and used by the inference thread alone."""


def _address_space_pages() -> int:
    global _statm
    import ctypes

    if _statm is None:
        libc_pread = ctypes.PyDLL(None, use_errno=True).pread64
        libc_pread.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64]
        libc_pread.restype = ctypes.c_ssize_t
        _statm = (libc_pread, os.open("/proc/self/statm", os.O_RDONLY), ctypes.create_string_buffer(128))
    pread, descriptor, buffer = _statm
    length = pread(descriptor, buffer, len(buffer), 0)
    if length <= 0:
        raise OSError(ctypes.get_errno(), "cannot read /proc/self/statm")
    return int(buffer.raw[:length].split(maxsplit=1)[0])


def _stack_limit() -> int:
    """The soft stack size limit, which glibc gives every thread's stack by default (0: unlimited)."""
    soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    return 0 if soft == resource.RLIM_INFINITY else soft


def _large_anonymous_mappings(stack_bytes: int) -> list[tuple[int, int]]:
    """Private anonymous mappings of at least ``MIN_BYTES`` (those right above a guard page
    without the stack's ``stack_bytes`` that start them), and the main heap.

    Reserved (``---p``) ones count: glibc reserves 64 MB for each thread's heap and opens it
    up as the heap grows, and what is opened keeps the advice, so the inference thread's
    heap is covered from its first megabyte to its last.
    """
    found = []
    below: tuple[int, bytes] = (-1, b"")  # where the previous mapping ended, and its kind
    with open("/proc/self/maps", "rb") as maps:  # bytes: a mapped file's name may not be UTF-8
        for line in maps:
            fields = line.split()
            start, end = (int(bound, 16) for bound in fields[0].split(b"-"))
            anonymous = fields[4] == b"0" and len(fields) == 5
            guarded = below == (start, b"guard")
            if fields[1] == b"---p" and anonymous and end - start <= _GUARD_BYTES:
                below = (end, b"guard")
            else:
                below = (end, b"")
            if fields[1] not in (b"rw-p", b"---p") or fields[4] != b"0":
                continue
            if fields[5:] == [b"[heap]"]:
                found.append((start, end))
            elif anonymous:
                if guarded:  # a stack, maybe merged with what lies above it: skip the stack
                    start = -(-(start + stack_bytes) // _HUGE_PAGE) * _HUGE_PAGE
                if end - start >= MIN_BYTES:
                    found.append((start, end))
    return found
