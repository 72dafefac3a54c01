"""Opening the last start's voice sessions on a thread while the daemon imports the rest.

Start-up to READY is two kinds of work. Importing numpy, the event loop, the server and the
plugins is Python, and holds the interpreter lock. Opening a voice's onnxruntime session is
native work that does not (``ort_capi`` makes its long calls without the lock): ~80 ms for
the Piper voice on the 2-core CI machine, parsing its graph and initialising the session.
One after the other, READY waited for both. The session could not start sooner the ordinary
way, because which graph to open, and with what options, is decided by the engine and
optimizer plugins, which load last.

So each start records in the cache folder which cached graphs it opened before READY, and
with what session options (``remember``). The next start reads that record as soon as its
configuration is loaded, and opens the same sessions on a thread (``Prefetch.start``). When
an engine then asks the session factory for a session, the factory takes the one opened ahead
only if the graph file and every option are what it would use itself (``Prefetch.take``).
Sessions nobody took are dropped at READY. The record is only a hint: when it is missing,
stale or broken, start-up goes the ordinary way.

Options are compared as what they are, plain fields and config entries (see
``ort_capi.SessionOptions``). Options that would make opening a session write files
(profiling, saving the optimized graph) are never recorded, and a record holding them is not
read, so a record cannot make the daemon write anywhere.

A session opened ahead and then not taken is not free: its memory stays with the process
(~13 MB for Piper). So the record is keyed on the settings that decide what start-up opens and
with what options (``start_up_key``), and a change to any of them means one ordinary start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from . import ort_capi
from .arena import share_arena
from .config import Settings
from .ort_capi import SessionOptions

log = logging.getLogger(__name__)

RECORD = "prefetch.json"
"""The record's name in the cache folder."""
_FORMAT = 2
"""2: options are ``ort_capi.SessionOptions`` fields (1 recorded the Python module's)."""

Snapshot = dict[str, Any]
"""Every field and config entry of a session's options, as plain JSON values."""
_PLAIN = (bool, int, float, str)
"""The types a field is recorded as (an enum as its number)."""


def snapshot(options: SessionOptions) -> Snapshot | None:
    """What ``options`` are, as plain values; None when a field is no plain value (a plugin's
    ``Path``, say), or when opening a session with them would write files (profiling, saving
    the optimized graph)."""
    fields = {}
    for name in SessionOptions.fields():
        value = getattr(options, name)
        if type(value) not in _PLAIN:
            if not isinstance(value, int):  # a plugin's Path, say: taken as it is, never recorded
                return None
            value = int(value)  # an enum
        fields[name] = value
    recorded = {"fields": fields, "entries": options.entries}
    return recorded if _is_snapshot(recorded) else None


def replay(recorded: Snapshot) -> SessionOptions:
    """Session options equal to the ones ``recorded`` was taken from."""
    options = SessionOptions()
    for name, value in recorded["fields"].items():
        setattr(options, name, value)
    for key, value in recorded["entries"].items():
        options.add_session_config_entry(key, value)
    return options


@dataclasses.dataclass
class _Ahead:
    """One session being opened ahead."""

    graph: Path
    options: Snapshot
    opened: threading.Event = dataclasses.field(default_factory=threading.Event)
    session: ort_capi.InferenceSession | None = None
    error: str = ""
    taken: bool = False


class Prefetch:
    """Sessions opened ahead of the engines that will ask for them."""

    def __init__(self, ahead: list[_Ahead], onnxruntime_version: str) -> None:
        self._ahead = ahead
        self._onnxruntime = onnxruntime_version
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._open_all, name="litettsd-prefetch", daemon=True)

    @classmethod
    def start(cls, cache_dir: Path, key: dict[str, Any]) -> Prefetch | None:
        """Open on a thread what the last start with the same ``key`` (``start_up_key``) opened;
        None when there is nothing to open. Returns at once: loading onnxruntime's library and
        opening the sessions hold the interpreter lock only in moments (see ``ort_capi``)."""
        recorded = _recorded_sessions(cache_dir, key)
        if recorded is None:
            return None
        prefetch = cls(*recorded)
        prefetch._thread.start()
        return prefetch

    def _open_all(self) -> None:
        try:
            if self._onnxruntime != ort_capi.version():
                raise RuntimeError(f"recorded with onnxruntime {self._onnxruntime}")
            share_arena()  # before any session: they all allocate from it
        except Exception as exc:  # the ordinary path will say what is wrong, if anything
            log.debug("not opening sessions ahead: %s", exc)
            with self._lock:
                self._closed = True
            for ahead in self._ahead:
                ahead.opened.set()
            return
        for ahead in self._ahead:
            if not self._dropped(ahead):
                log.debug("opening %s ahead", ahead.graph)
                try:
                    ahead.session = ort_capi.InferenceSession(
                        str(ahead.graph), sess_options=replay(ahead.options), providers=["CPUExecutionProvider"]
                    )
                except Exception as exc:  # a damaged graph, an option this onnxruntime refuses
                    ahead.error = str(exc)
            if self._dropped(ahead):  # closed meanwhile: nobody will take it
                ahead.session = None
            ahead.opened.set()

    def _dropped(self, ahead: _Ahead) -> bool:
        with self._lock:
            return self._closed and not ahead.taken

    def take(self, graph: Path, options: Snapshot) -> ort_capi.InferenceSession | None:
        """The session opened ahead on ``graph`` with exactly ``options``, once it is open; else None."""
        graph = graph.resolve()  # as recorded entries are: the cache folder may be reached through a link
        with self._lock:
            ahead = next(
                (a for a in self._ahead if not a.taken and a.graph == graph and a.options == options and not self._closed),
                None,
            )
            if ahead is None:
                return None
            ahead.taken = True
        ahead.opened.wait()
        if ahead.error:
            log.warning("opening %s ahead failed (%s); opening it again", graph, ahead.error)
        session, ahead.session = ahead.session, None
        return session

    def close(self, wait: bool = False) -> None:
        """Drop the sessions nobody took (the thread opens no more); with ``wait``, until the
        thread has ended. A process must not end while onnxruntime is still opening a session
        on another thread: its exit handlers tear down what that thread is using, and the
        process aborts (``terminate called without an active exception``) instead of exiting
        with its own status, as a start that fails before READY would."""
        with self._lock:
            already = self._closed
            self._closed = True
            unused = [a for a in self._ahead if not a.taken]
        if wait and self._thread.ident is not None:
            self._thread.join()  # after the session it is opening, it opens only those taken
        for ahead in unused:
            ahead.session = None
        if unused and not already:
            log.debug("sessions opened ahead and not used: %s", ", ".join(str(a.graph) for a in unused))


def start_up_key(settings: Settings, threads: int) -> dict[str, Any]:
    """The settings that decide which sessions start-up opens and with what options: the
    voices, the thread count, ``[cpu]`` (spinning) and which plugins load. A record made under
    others would be memory thrown away. (A third-party optimizer plugin reading other settings
    is still caught by the comparison of the options themselves.)"""
    key = {
        "voices": [settings.synthesis.default_voice, *settings.voices.preload],
        "threads": threads,
        "cpu": dataclasses.asdict(settings.cpu),
        "plugins": dataclasses.asdict(settings.plugins),
    }
    return dict(json.loads(json.dumps(key, default=str)))  # as it will read back from the record


def _recorded_sessions(cache_dir: Path, key: dict[str, Any]) -> tuple[list[_Ahead], str] | None:
    """The sessions recorded under ``key`` that are still there to open, and the onnxruntime
    version that opened them; None when there are none."""
    recorded = _read(cache_dir / RECORD)
    if recorded is None or recorded.get("key") != key:
        return None
    optimized = (cache_dir / "optimized").resolve()  # as the session factory names it
    ahead = []
    for entry in recorded["sessions"]:
        graph = Path(entry["graph"])
        try:  # only our own cached graphs: the record must not be a way to open any other file
            ours = graph.resolve().parent.parent == optimized and graph.is_file()
        except (OSError, ValueError, RuntimeError):  # a NUL in the path, a symlink loop
            ours = False
        if ours:
            ahead.append(_Ahead(graph.resolve(), entry["options"]))
    return (ahead, str(recorded.get("onnxruntime"))) if ahead else None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("format") != _FORMAT:
        return None
    sessions = recorded.get("sessions")
    valid = isinstance(sessions, list) and all(
        isinstance(e, dict) and isinstance(e.get("graph"), str) and _is_snapshot(e.get("options")) for e in sessions
    )
    return recorded if valid else None


def _is_snapshot(value: Any) -> bool:
    """Whether ``value`` has a snapshot's shape, and opening a session with it writes no file."""
    if not (isinstance(value, dict) and isinstance(value.get("fields"), dict) and isinstance(value.get("entries"), dict)):
        return False
    fields, entries = value["fields"], value["entries"]
    return (
        set(fields) <= set(SessionOptions.fields())
        and all(type(v) in _PLAIN for v in fields.values())
        and all(isinstance(v, str) for v in entries.values())
        and not fields.get("enable_profiling")
        and not fields.get("optimized_model_filepath")
    )


def remember(cache_dir: Path, key: dict[str, Any], opened: list[tuple[Path, Snapshot]]) -> None:
    """Record what start-up opened under ``key``, for the next start (see the module's docstring).

    Written only when it changed; with nothing to record, an old record is removed, so the
    next start does not open sessions it will throw away.
    """
    path = cache_dir / RECORD
    if not opened:
        with contextlib.suppress(OSError):
            path.unlink()
        return
    recorded = {
        "format": _FORMAT,
        "onnxruntime": ort_capi.version(),
        "key": key,
        "sessions": [{"graph": str(graph), "options": options} for graph, options in opened],
    }
    text = (json.dumps(recorded, indent=1, sort_keys=True) + "\n").encode()
    with contextlib.suppress(OSError):
        if path.read_bytes() == text:
            return
    staged = path.with_name(f"{RECORD}.tmp{os.getpid()}")
    try:
        staged.write_bytes(text)
        staged.replace(path)  # in one step: a daemon starting meanwhile reads the old record or the new
    except OSError as exc:  # a read-only cache folder: every start goes the ordinary way
        log.debug("cannot record the sessions opened at start-up: %s", exc)
        with contextlib.suppress(OSError):
            staged.unlink()
