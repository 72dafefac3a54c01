"""Noticing edits to the configuration files, for hot reload: inotify, read by the event loop.

inotify hands changes to a file descriptor that the event loop waits on with everything
else, so an idle daemon sleeps. (watchfiles, used before, ran a thread that woke every
50 ms to poll its watcher, 20 wake-ups a second in an idle daemon, and its Rust library
and anyio add 7.4 MB of resident memory to a bare interpreter.)

Folders are watched, not files: an editor that saves by writing a new file and renaming it
over the old one leaves a watch on the old file's inode with nothing more to report, while
the folder sees the new name arrive.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import os
import struct
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import NamedTuple, NoReturn

from .config import is_layer_name

# From <sys/inotify.h>.
_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_ONLYDIR = 0x01000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
)
_FOLDER_GONE = _IN_DELETE_SELF | _IN_MOVE_SELF
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name


class _Folder(NamedTuple):
    path: Path
    names: set[str]
    """Files watched through this folder: their names count."""
    any_layer: bool
    """The folder itself is watched: any name a layer can have counts."""


class ConfigWatcher:
    """Watches configuration files and folders; ``changes`` yields the names that changed.

    A file is watched through its folder (and a symbolic link also through its target's),
    and only its own name counts there; in a watched folder, any name a layer may have
    counts (a drop-in appearing, changing or going). A folder that is removed or renamed
    counts as a change too.
    """

    def __init__(self, paths: Iterable[Path]) -> None:
        # Keyed by the resolved folder: inotify has one watch per folder however it is named,
        # so two names of one folder must share one set of rules.
        by_folder: dict[Path, _Folder] = {}

        def folder(path: Path) -> _Folder:
            return by_folder.setdefault(path, _Folder(path, set(), False))

        for path in paths:
            if path.is_dir():
                real = path.resolve()
                by_folder[real] = folder(real)._replace(any_layer=True)
                continue
            # A layer that is a symbolic link changes where its target lives, so that folder
            # is watched too (the link's own folder still sees the link replaced).
            folder(path.parent.resolve()).names.add(path.name)
            target = path.resolve()
            folder(target.parent).names.add(target.name)
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self._fd < 0:
            _raise_errno("inotify_init1")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._folders: dict[int, _Folder] = {}
        try:
            for entry in by_folder.values():
                wd = libc.inotify_add_watch(self._fd, os.fsencode(entry.path), _MASK | _IN_ONLYDIR)
                if wd < 0:
                    _raise_errno(f"cannot watch {entry.path}")
                self._folders[wd] = entry
        except BaseException:
            os.close(self._fd)
            raise

    def _drain(self) -> set[str]:
        """Read every pending event; the names that count."""
        changed: set[str] = set()
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return changed
            offset = 0
            while offset < len(data):
                wd, mask, _, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0").decode(errors="replace")
                offset += _EVENT.size + length
                if mask & _IN_Q_OVERFLOW:  # events were lost: assume the worst
                    changed.add("(overflow)")
                    continue
                folder = self._folders.get(wd)
                if folder is None:  # a watch removed since (its folder went)
                    continue
                if mask & _FOLDER_GONE:
                    changed.add(folder.path.name)
                elif name in folder.names or (folder.any_layer and is_layer_name(name)):
                    changed.add(name)

    async def changes(self, debounce: float) -> AsyncIterator[list[str]]:
        """Yield the changed names, once things have been quiet for ``debounce`` seconds.

        The debounce turns an editor's several writes of one save into one reload.
        """
        readable = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._fd, readable.set)
        while True:
            await readable.wait()
            readable.clear()
            changed = self._drain()
            if not changed:
                continue
            while True:
                try:
                    async with asyncio.timeout(debounce):  # not wait_for, which may swallow a cancel (3.11)
                        await readable.wait()
                except TimeoutError:
                    break
                readable.clear()
                changed |= self._drain()
            yield sorted(changed)

    def close(self) -> None:
        """Stop watching (idempotent); the generator ``changes`` gave must not be iterated again."""
        if self._fd < 0:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = -1


def _raise_errno(what: str) -> NoReturn:
    code = ctypes.get_errno()
    hint = " (raise fs.inotify.max_user_watches)" if code == errno.ENOSPC else ""
    raise OSError(code, f"{what}: {os.strerror(code)}{hint}")
