"""Derived model files in the cache folder: written to disk before they are published, and
deleted once nothing has used them for a month.

Each is written under a temporary name and renamed into place. Without a flush first, a power
cut soon after the rename can leave the new name with the file's full size but blocks of
zeros (file systems may write the rename before the data): a voice that then loads and
speaks noise at every start, since a cache entry is trusted by its name and size.

A derived file (an optimized graph, a model with its random nodes replaced) is keyed by what
it was made from: a new onnxruntime, a reinstalled voice package or another checkout makes a
new one and leaves the old one behind for good, 67 MB or more each. Using an entry sets its
access time, so one still used (by another daemon with another onnxruntime, say) is kept.
The modification time is left alone: it is part of the key of what is derived from the
entry in turn (a prepared Piper model's optimized graph), and touching it made a new
optimized graph, 0.3 s and 67 MB, at every start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

UNUSED_SECONDS = 30 * 24 * 3600
"""A derived file nobody used for this long is deleted when a new one of its kind is written."""


def flush_to_disk(path: Path) -> None:
    """Write ``path`` (a file, or every file in a folder) through to the disk, before it is renamed into place."""
    for file in sorted(path.iterdir()) if path.is_dir() else [path]:
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())


def mark_used(path: Path) -> None:
    """Note that ``path`` was used just now (its access time), so pruning keeps it."""
    with contextlib.suppress(OSError):
        os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns))


def remove_tree(folder: Path) -> None:
    """Delete ``folder`` and everything in it, as far as possible."""
    import shutil  # here: with its archive formats (bz2, lzma) it costs every start ~3 ms

    shutil.rmtree(folder, ignore_errors=True)


def prune_unused(keep: Path, candidates: Iterable[Path], what: str) -> None:
    """Delete each of ``candidates`` but ``keep`` that was not used for ``UNUSED_SECONDS``.

    Entries being written carry a ``.tmp`` suffix and are fresh anyway.
    """
    cutoff = time.time() - UNUSED_SECONDS
    for entry in candidates:
        try:
            status = entry.stat()
            stale = entry != keep and max(status.st_atime, status.st_mtime) < cutoff
        except OSError:
            continue
        if not stale:
            continue
        log.info("removing %s %s, unused for %d days", what, entry, UNUSED_SECONDS // 86400)
        if entry.is_dir():
            remove_tree(entry)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
