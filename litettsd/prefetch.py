"""Opening the last start's voice sessions on a thread while the daemon imports the rest.

Start-up to READY is two kinds of work. Importing the event loop, the server and the plugins
is Python, and holds the interpreter lock. Opening a voice's onnxruntime session is mostly
native work that does not: on a 2-core Sapphire Rapids, parsing the Piper graph takes ~35 ms
with the lock taken in turns, and initialising the session ~40 ms without it. One after the
other, READY waited for both. The session could not start sooner the ordinary way, because
which graph to open, and with what options, is decided by the engine and optimizer plugins,
which load last.

So each start records in the cache folder which cached graphs it opened before READY, and
with what session options (``remember``). The next start reads that record as soon as its
configuration is loaded, and opens the same sessions on a thread (``Prefetch.start``). When
an engine then asks the session factory for a session, the factory takes the one opened ahead
only if the graph file and every option are what it would use itself (``Prefetch.take``).
Sessions nobody took are dropped at READY. The record is only a hint: when it is missing,
stale or broken, start-up goes the ordinary way. Exec to READY with the default voice was
0.90-0.92 of the ordinary start's (three runs of 11-13 alternating starts; 240-257 ms against
266-290 ms). The session cannot hide wholly behind the imports: its constructor holds the
lock. Since OpenBLAS's and onnxruntime's spinning threads are gone (see ``cli`` and the
``cpu_threads`` optimizer), the imports end ~20 ms before the session is open, so it is the
session that start-up waits for.

Options are compared through ``RecordedOptions``: ``SessionOptions`` that note each config
entry set on them, and become opaque (never matched, never recorded) when anything else that
could change the session is called on them, such as adding an initializer or a custom-op
library, which cannot be written down and replayed. Options that would make opening a session
write files (profiling, saving the optimized graph) are never recorded either, so a record
cannot make the daemon write anywhere.

A session opened ahead and then not taken is not free: its memory stays with the process
(~13 MB for Piper). So the record is keyed on the settings that decide what start-up opens and
with what options (``start_up_key``), and a change to any of them means one ordinary start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from .arena import share_arena
from .config import Settings

log = logging.getLogger(__name__)

RECORD = "prefetch.json"
"""The record's name in the cache folder."""
_FORMAT = 1
_PLAIN_METHODS = frozenset({"add_session_config_entry", "get_session_config_entry", "has_providers"})
"""SessionOptions methods that leave the options as their fields and entries describe them."""
_OWN_ATTRIBUTES = frozenset({"entries", "opaque"})

Snapshot = dict[str, Any]
"""Every field and config entry of a session's options, as plain JSON values."""


@functools.cache
def _fields() -> tuple[str, ...]:
    """The settable fields of onnxruntime's SessionOptions (its properties), whatever its version."""
    import onnxruntime

    return tuple(sorted(name for name, value in vars(onnxruntime.SessionOptions).items() if isinstance(value, property)))


_CLASS_LOCK = threading.Lock()


def _options_class() -> type[Any]:
    """``RecordedOptions``, made once, on first use: onnxruntime is imported only when a session
    is needed. Made twice (by two threads at once), options of one would not be of the other."""
    with _CLASS_LOCK:
        return _made_options_class()


@functools.cache
def _made_options_class() -> type[Any]:
    import onnxruntime

    fields = frozenset(_fields())

    class RecordedOptions(onnxruntime.SessionOptions):  # type: ignore[misc]
        """Session options that keep their config entries, and say when they cannot be written down."""

        def __init__(self) -> None:
            super().__init__()
            self.entries: dict[str, str] = {}
            self.opaque = False

        def add_session_config_entry(self, key: str, value: str) -> None:
            super().add_session_config_entry(key, value)
            self.entries[key] = value

        def __getattribute__(self, name: str) -> Any:
            if not name.startswith("_") and name not in fields and name not in _PLAIN_METHODS and name not in _OWN_ATTRIBUTES:
                object.__setattr__(self, "opaque", True)
            return super().__getattribute__(name)

    return RecordedOptions


def new_options() -> Any:
    """Empty session options that can be compared and replayed (see ``snapshot``)."""
    return _options_class()()


def snapshot(options: Any) -> Snapshot | None:
    """What ``options`` are, as plain values; None when they cannot be replayed from that, or
    would write files when a session opens."""
    if not isinstance(options, _options_class()) or options.opaque:
        return None
    values = {}
    for name in _fields():
        value = getattr(options, name)
        values[name] = value if isinstance(value, (bool, int, float, str)) else int(value)  # enums as numbers
    recorded = {"fields": values, "entries": dict(options.entries)}
    return recorded if _is_snapshot(recorded) else None


def replay(recorded: Snapshot) -> Any:
    """Session options equal to the ones ``recorded`` was taken from."""
    options = new_options()
    for name, value in recorded["fields"].items():
        current = getattr(options, name)
        setattr(options, name, value if isinstance(current, (bool, int, float, str)) else type(current)(value))
    for key, value in recorded["entries"].items():
        options.add_session_config_entry(key, value)
    return options


@dataclasses.dataclass
class _Ahead:
    """One session being opened ahead."""

    graph: Path
    options: Snapshot
    opened: threading.Event = dataclasses.field(default_factory=threading.Event)
    session: Any = None
    error: str = ""
    taken: bool = False


class Prefetch:
    """Sessions opened ahead of the engines that will ask for them."""

    def __init__(self, ahead: list[_Ahead], onnxruntime_version: str) -> None:
        self._ahead = ahead
        self._onnxruntime = onnxruntime_version
        self._lock = threading.Lock()
        self._closed = False
        self._begun = threading.Event()
        """Set once onnxruntime is imported on the thread (or could not be)."""
        self._thread = threading.Thread(target=self._open_all, name="litettsd-prefetch", daemon=True)

    @classmethod
    def start(cls, cache_dir: Path, key: dict[str, Any]) -> Prefetch | None:
        """Open on a thread what the last start with the same ``key`` (``start_up_key``) opened;
        None when there is nothing to open.

        Returns once onnxruntime is imported (on the thread), as the first session begins to
        open: imports made meanwhile on this thread would only take turns with that one.
        onnxruntime is imported there because a Ctrl-C in the middle of importing numpy comes
        out as an ImportError, which must not look like a broken install here.
        """
        recorded = _recorded_sessions(cache_dir, key)
        if recorded is None:
            return None
        prefetch = cls(*recorded)
        prefetch._thread.start()
        try:
            prefetch._begun.wait()
        except BaseException:  # Ctrl-C: the thread must not be left in onnxruntime at exit
            prefetch.close(wait=True)
            raise
        return None if prefetch._closed else prefetch  # closed: onnxruntime differs, or is broken

    def _open_all(self) -> None:
        try:
            import onnxruntime

            if self._onnxruntime != onnxruntime.__version__:
                raise RuntimeError(f"recorded with onnxruntime {self._onnxruntime}")
            share_arena()  # before any session: they all allocate from it
            _options_class()
        except Exception as exc:  # the ordinary path will say what is wrong, if anything
            log.debug("not opening sessions ahead: %s", exc)
            with self._lock:
                self._closed = True
            for ahead in self._ahead:
                ahead.opened.set()
            return
        finally:
            self._begun.set()
        for ahead in self._ahead:
            if not self._dropped(ahead):
                try:
                    ahead.session = onnxruntime.InferenceSession(
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

    def take(self, graph: Path, options: Snapshot) -> Any:
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
        all(isinstance(v, str) for v in entries.values())
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
    import onnxruntime

    recorded = {
        "format": _FORMAT,
        "onnxruntime": onnxruntime.__version__,
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
