"""The daemon: socket, connections, request dispatch and an orderly life cycle.

Start-up binds the socket first and loads the default voice second, so a client that
connects early is not refused: its request simply waits for the voice. Shutdown stops
accepting, gives in-flight requests ``graceful_timeout`` seconds to finish, then cancels
what is left, so every request ends with ``end``, ``cancelled`` or ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import signal
import socket
import stat
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litettsd_client.protocol import ProtocolError, encode_frame, read_frame

from . import __version__, logs, ssml
from .api import NormalizeContext, RequestRecord
from .cache import AudioCache
from .config import ConfigError, LoadedConfig, Settings, load_settings, watch_paths
from .cpu import CpuPlan
from .errors import ErrorCode, RequestError, StartupError
from .huge_pages import HugePages
from .launch import startup_finished
from .lexicon import watch_paths as lexicon_watch_paths
from .messages import MAX_SPEED, SynthesizeRequest, request_id
from .patterns import compile_pending
from .pipeline import Audio, Cancellation, Cancelled, Finished, MarkReached, Pipeline, Start
from .prefetch import Prefetch, Snapshot, remember, start_up_key
from .preflight import group_id
from .plugins import Plugins
from .runtime import build_runtime
from .scheduler import InferenceScheduler
from .sdnotify import ListenSocket, Notifier, run_watchdog, watchdog_interval
from .sessions import START_UP
from .voices import VoiceRegistry
from .watch import ConfigWatcher

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
WARM_UP_TEXT = "Ready."
WARM_UP_SPEED = MAX_SPEED
"""The warm-up inference runs at the fastest speed a request may ask for. Its audio is thrown
away; what it must do is run every kernel once, so that onnxruntime's lazy set-up is not paid
by the first request. A quarter of the audio costs the decoder a quarter of the work: READY
about 20 ms sooner with the default voice on a 2-core machine, and the next request was no
slower (raw onnxruntime in fresh processes, medians of 7)."""
_MAX_QUEUED_REPLIES = 16
"""Refusals and cancel answers a connection may have waiting to be sent before its next frame waits."""
_STATUS_INTERVAL_S = 1.0
"""Most frequent refresh of systemd's STATUS= line after requests finish."""
_RELOAD_DEBOUNCE_S = 0.3
"""Quiet time after a configuration file changes before reloading: one reload per editor save."""
_WARM_UP_NORMALIZE = "On 3/4/2025 at 10:30 am, 1,234 people paid $5.50 (the 2nd time) - see https://example.com."
"""Touches the normalizers' lazily compiled patterns and first-use caches once, after READY."""
_WARM_UP_SSML = '<speak>Ready <break time="10ms"/> now.</speak>'
"""Imports the XML parsers once, after READY: speech-dispatcher sends every message as SSML."""


def prepare_socket(path: Path, group: str) -> bool:
    """Create the runtime folder and clear a stale socket; refuse if a daemon is listening.

    Returns whether the folder was created here: only such a folder is the daemon's to
    re-own and restrict (``_share_with_group``), never one like /tmp or /run it was given."""
    created = not path.parent.exists()
    path.parent.mkdir(mode=0o750 if group else 0o700, parents=True, exist_ok=True)
    if not (path.exists() or path.is_symlink()):
        return created
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise StartupError(f"{path} exists and is not a socket; remove it or choose another --socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody listens: a leftover from a daemon that died
        return created
    finally:
        probe.close()
    raise StartupError(f"another litettsd is already listening on {path}")


def _file_states(paths: list[Path]) -> list[tuple[int, int, int] | None]:
    """Identity, size and modification time of each path (``None`` if missing): any change
    between two calls is a change to the configuration."""
    states: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            status = path.stat()
        except OSError:
            states.append(None)
            continue
        states.append((status.st_ino, status.st_size, status.st_mtime_ns))
    return states


def _changed_path(watched: list[Path], name: str) -> str:
    """The full path of a name the watcher reported: a watched file, or a file in a watched folder."""
    for path in watched:
        if path.name == name:
            return str(path)
    return next((str(path / name) for path in watched if path.is_dir() and (path / name).exists()), name)


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    """The connecting process's uid, from the kernel (SO_PEERCRED), not from anything it says."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return None
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", credentials)
    return int(uid)


def _share_with_group(path: Path, group: str, folder_created: bool) -> None:
    """Make the socket 0660 and, if the daemon created it, its folder 0750, owned by ``group``.

    A folder that was there already (/tmp, /run, a home) keeps its owner and mode; if the
    group cannot pass through it, members cannot reach the socket, which the log says."""
    gid = group_id(group)
    targets = [(path.parent, 0o750)] if folder_created else []
    for target, mode in (*targets, (path, 0o660)):
        os.chown(target, -1, gid)
        os.chmod(target, mode)
    if not folder_created:
        folder = path.parent.stat()
        passable = folder.st_mode & (stat.S_IXGRP if folder.st_gid == gid else stat.S_IXOTH)
        if not passable:
            log.warning("[server] group %r cannot enter %s, so its members cannot reach the socket", group, path.parent)


_current: contextvars.ContextVar[_InFlight | None] = contextvars.ContextVar("litettsd_request", default=None)
"""The request a handler task serves (set at the task's start; tasks copy their context)."""

_STREAM_FRAMES = frozenset({"start", "audio", "mark"})
"""Reply types that are followed by more frames of the same request."""


@dataclass
class _InFlight:
    task: asyncio.Task[None]
    cancellation: Cancellation | None = None
    closed: bool = False
    """Set once the request's terminal frame is sent; nothing may follow it."""
    progressed: Callable[[], None] = lambda: None
    """Moves the request's deadline to ``request_timeout`` from now (set by ``_run_handler``)."""


class Connection:
    """One client: reads frames, runs each request as a task, writes replies in order per id."""

    def __init__(self, daemon: Daemon, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.daemon = daemon
        self.reader = reader
        self.writer = writer
        self.inflight: dict[int, _InFlight] = {}
        self._write_lock = asyncio.Lock()
        self._replies: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue(maxsize=_MAX_QUEUED_REPLIES)
        """Refusals and cancel answers, in order, for ``_reply_writer`` (see ``dispatch``)."""
        self._reply_writer: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()
        self.peer_uid = _peer_uid(writer)
        server = daemon.settings.server
        writer.transport.set_write_buffer_limits(high=server.send_buffer_bytes)
        self._last_activity = time.monotonic()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        idle = self.daemon.settings.server.idle_timeout
        if idle > 0:
            when = self._last_activity + idle
            self._idle_timer = asyncio.get_running_loop().call_at(
                asyncio.get_running_loop().time() + max(0.0, when - time.monotonic()), self._check_idle
            )

    def _check_idle(self) -> None:
        """Close a connection that has had nothing in flight and sent nothing for ``idle_timeout``."""
        idle = self.daemon.settings.server.idle_timeout
        if not self.inflight and time.monotonic() - self._last_activity >= idle:
            log.info("closing connection idle for %.0f s", idle)
            self.hang_up()
            return
        self._arm_idle_timer()

    def touch(self) -> None:
        """Note activity, which postpones the idle timeout."""
        self._last_activity = time.monotonic()

    async def run(self) -> None:
        """Serve until the client hangs up, breaks the framing, or the daemon stops."""
        limit = self.daemon.settings.server.max_frame_bytes
        try:
            while True:
                try:
                    message = await read_frame(self.reader, limit)
                except ProtocolError as exc:
                    log.warning("closing connection: %s", exc.message)
                    await self.send({"type": "error", "id": 0, "code": exc.code, "message": exc.message})
                    break
                if message is None:
                    break
                self.touch()
                await self.dispatch(message)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            await self.close()

    async def close(self) -> None:
        """Cancel this connection's requests and release the socket."""
        for entry in list(self.inflight.values()):
            if entry.cancellation is not None:
                entry.cancellation.cancel()
            entry.task.cancel()
        tasks = [entry.task for entry in self.inflight.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._reply_writer is not None:
            # A client that only stopped sending still gets every answer it asked for; one
            # that stopped reading is cut off by send_timeout, so this wait is bounded.
            await self._replies.join()
            self._reply_writer.cancel()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        self.finished.set()

    def hang_up(self) -> None:
        """End the connection from our side; ``run`` sees end of input and cleans up."""
        self.writer.close()

    async def send(self, frame: dict[str, Any]) -> None:
        """Write one whole frame; the lock keeps frames from different requests whole.

        Past ``send_buffer_bytes`` of unread audio this waits for the client to read; a
        client that reads nothing for ``send_timeout`` is disconnected, so it holds neither
        memory nor a place in the inference queue. Other connections never wait for it.
        """
        data = encode_frame(frame)
        async with self._write_lock:
            self.writer.write(data)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # lands just after drain() is done, and shutdown's cancel of a streaming request
            # was then lost (it ran to its end, and shutdown waited for all of it).
            try:
                async with asyncio.timeout(self.daemon.settings.server.send_timeout):
                    await self.writer.drain()
            except TimeoutError:
                log.warning("client stopped reading for %.0f s; disconnecting it", self.daemon.settings.server.send_timeout)
                self.writer.transport.abort()
                raise ConnectionResetError("client stopped reading") from None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Start the handler for one request, or answer a malformed, refused or cancel one.

        Those answers go out in order through one writer task, so a client that is behind
        on reading a stream can still send its next frames; but only ``_MAX_QUEUED_REPLIES``
        wait: past that, the next frame is read only once there is room, so a client that
        writes without reading is held back (and after ``send_timeout`` disconnected)
        instead of piling replies up in the daemon's memory.
        """
        raw_id = message.get("id")
        reply_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else 0
        op = message.get("op")
        try:
            rid = request_id(message)
            previous = self.inflight.get(rid)
            if previous is not None and not previous.closed:
                reply_id = 0  # an error on that id would end the live stream in the client's eyes
                raise RequestError(ErrorCode.BAD_REQUEST, f"id {rid} is already in flight on this connection")
            if not isinstance(op, str):
                raise RequestError(ErrorCode.BAD_REQUEST, "every request needs an op string")
            handler = HANDLERS.get(op)
            if handler is None and op != "cancel":
                shown = op if len(op) <= 40 else f"{op[:40]}..."  # a megabyte of op is not echoed back
                known = ", ".join(sorted([*HANDLERS, "cancel"]))
                raise RequestError(ErrorCode.UNKNOWN_OP, f"unknown op {shown!r}; known: {known}")
            target = message.get("target")
            if op == "cancel" and (not isinstance(target, int) or isinstance(target, bool)):
                raise RequestError(ErrorCode.INVALID_VALUE, "cancel needs target: the integer id of a request")
            if op in ADMIN_OPS and self.peer_uid not in (0, os.getuid()):
                raise RequestError(
                    ErrorCode.PERMISSION_DENIED, f"{op} is allowed only to root and the daemon's own user"
                )
            limits = self.daemon.settings.server
            if op != "cancel" and len(self.inflight) >= limits.max_requests_per_connection:
                raise RequestError(
                    ErrorCode.OVERLOADED, f"{len(self.inflight)} requests already in flight on this connection"
                )
            if op != "cancel" and len(self.daemon.requests) >= limits.max_requests:
                raise RequestError(ErrorCode.OVERLOADED, "the daemon is at its limit of requests in flight")
        except RequestError as exc:
            # Counted like any failed request; an unknown op is one label, so a client
            # cannot mint metric series by sending made-up names.
            label = op if isinstance(op, str) and (op in HANDLERS or op == "cancel") else "unknown"
            self.daemon.finished(RequestRecord(op=label, outcome="error", error_code=exc.code))
            frame = {"type": "error", "id": reply_id, "code": exc.code, "message": exc.message}
            if reply_id == 0 and raw_id != 0 and isinstance(raw_id, int) and not isinstance(raw_id, bool):
                frame["request_id"] = raw_id
            await self._reply_soon([frame])
            return
        if handler is None:  # cancel runs at once, not as a task, so it never queues behind work
            await self._reply_soon(self._cancel(rid, message["target"]))  # checked above to be an int
            self.daemon.finished(RequestRecord(op="cancel", outcome="ok"))  # counted like every op
            return
        entry = _InFlight(task=None)  # type: ignore[arg-type]  # the task is created next
        entry.task = asyncio.get_running_loop().create_task(self._run_handler(handler, rid, message, entry))
        task = entry.task
        self.inflight[rid] = entry
        self.daemon.requests.add(task)
        # An id may be reused once its request answered; only forget our own entry.
        task.add_done_callback(lambda _: self.inflight.pop(rid) if self.inflight.get(rid) is entry else None)
        task.add_done_callback(self.daemon.requests.discard)

    async def reply(self, rid: int, frame: dict[str, Any]) -> None:
        """Send a frame for the current request unless it has already ended.

        A frame that is not part of a stream is the request's last: the request counts as
        finished from the moment it is sent, so a client may reuse the id at once.
        """
        entry = _current.get()
        if entry is not None and entry.closed:
            raise Cancelled()
        if entry is not None and frame["type"] not in _STREAM_FRAMES:
            entry.closed = True
        await self.send({**frame, "id": rid})

    async def _run_handler(self, handler: Handler, rid: int, message: dict[str, Any], entry: _InFlight) -> None:
        _current.set(entry)  # this task's own request, whatever later requests reuse its id
        started = time.perf_counter()
        record: dict[str, Any] = {"op": message["op"], "outcome": "ok"}
        deadline = self.daemon.settings.server.request_timeout
        try:
            async with asyncio.timeout(deadline if deadline > 0 else None) as timer:
                if deadline > 0:
                    # A deadline on progress, not on the whole request: a hung inference or a
                    # request stuck in the queue ends, a long chapter being spoken does not.
                    loop = asyncio.get_running_loop()
                    entry.progressed = lambda: timer.reschedule(loop.time() + deadline)
                await handler(self, rid, message, record)
        except TimeoutError:
            if entry.cancellation is not None:
                entry.cancellation.cancel()
            record.update(outcome="error", error_code=ErrorCode.TIMEOUT.value)
            stalled = f"request made no progress for {deadline:g} s"
            await self._terminal(rid, {"type": "error", "code": ErrorCode.TIMEOUT.value, "message": stalled})
        except Cancelled:
            record["outcome"] = "cancelled"
            await self._terminal(rid, {"type": "cancelled"})
        except asyncio.CancelledError:
            if entry.cancellation is not None:
                entry.cancellation.cancel()  # abort the inference itself, not only our wait for it
            record["outcome"] = "cancelled"
            await self._terminal(rid, {"type": "cancelled"})
            raise
        except RequestError as exc:
            record.update(outcome="error", error_code=exc.code)
            await self._terminal(rid, {"type": "error", "code": exc.code, "message": exc.message})
        except ConnectionError as exc:
            record.update(outcome="error", error_code="disconnected")
            log.info("client went away during %s: %s", message["op"], exc)
        except Exception as exc:
            record.update(outcome="error", error_code=ErrorCode.INTERNAL.value)
            logs.failure(log, exc, "request %s (%s) failed", rid, message["op"])
            await self._terminal(rid, {"type": "error", "code": ErrorCode.INTERNAL.value, "message": str(exc)})
        finally:
            record["total_seconds"] = time.perf_counter() - started
            self.touch()
            self.daemon.finished(RequestRecord(**record))

    async def _terminal(self, rid: int, frame: dict[str, Any]) -> None:
        entry = _current.get()
        if entry is not None:
            if entry.closed:
                return
            entry.closed = True
        with contextlib.suppress(ConnectionError):
            await self.send({**frame, "id": rid})

    def _cancel(self, rid: int, target: int) -> list[dict[str, Any]]:
        """Stop ``target`` now; returns the frames that say so, in the order they must go."""
        entry = self.inflight.get(target)
        found = entry is not None and not entry.closed  # an entry still winding down has answered
        frames = []
        if entry is not None and found:
            if entry.cancellation is not None:
                entry.cancellation.cancel()
            # The target's terminal frame goes out before the cancel's ``ok``: once a client
            # sees ``ok``, the cancelled stream is over.
            entry.closed = True
            entry.task.cancel()
            frames.append({"type": "cancelled", "id": target})
        frames.append({"type": "ok", "id": rid, "found": found})
        return frames

    async def _reply_soon(self, frames: list[dict[str, Any]]) -> None:
        """Queue ``frames`` for the connection's reply writer; waits while the queue is full."""
        if self._reply_writer is None:
            self._reply_writer = asyncio.get_running_loop().create_task(self._write_replies())
        await self._replies.put(frames)

    async def _write_replies(self) -> None:
        """Send queued answers one after the other, so they leave in the order they were given."""
        while True:
            frames = await self._replies.get()
            try:
                for frame in frames:
                    await self.send(frame)
            except ConnectionError:
                pass  # the client is gone; keep emptying the queue so close() can finish
            finally:
                self._replies.task_done()


Handler = Callable[[Connection, int, dict[str, Any], dict[str, Any]], Awaitable[None]]


async def _hello(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    daemon = conn.daemon
    asked = message.get("protocol", PROTOCOL_VERSION)
    if not isinstance(asked, int) or isinstance(asked, bool) or asked != PROTOCOL_VERSION:
        raise RequestError(
            ErrorCode.INVALID_VALUE, f"this daemon speaks protocol {PROTOCOL_VERSION}; the client asked for {asked!r}"
        )
    if not isinstance(message.get("client", ""), str):
        raise RequestError(ErrorCode.INVALID_VALUE, "client must be a string naming the program")
    await conn.reply(
        rid,
        {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "server": f"litettsd {__version__}",
            "default_voice": daemon.settings.synthesis.default_voice,
            "formats": daemon.pipeline.describe_formats(),
            "max_text_chars": daemon.settings.server.max_text_chars,
        },
    )


async def _ping(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    await conn.reply(rid, {"type": "pong"})


async def _voices(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    language = message.get("language")
    if language is not None and not isinstance(language, str):
        raise RequestError(ErrorCode.INVALID_VALUE, "language must be a string")
    wanted = (language or "").lower().replace("_", "-")
    voices = [
        info.to_wire()
        for info in conn.daemon.voices.catalogue()
        if not wanted or info.language.lower().startswith(wanted)
    ]
    await conn.reply(rid, {"type": "voices", "voices": voices})


async def _normalize(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    request = SynthesizeRequest.from_wire(message, conn.daemon.settings.server.max_text_chars)
    normalized, phonemes = await conn.daemon.pipeline.normalize(request)
    await conn.reply(rid, {"type": "normalized", "text": normalized, "phonemes": phonemes})


async def _status(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    await conn.reply(rid, {"type": "status", **conn.daemon.status()})


async def _synthesize(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    daemon = conn.daemon
    request = SynthesizeRequest.from_wire(message, daemon.settings.server.max_text_chars)
    record.update(text_chars=len(request.text), format=request.format, voice=request.voice)
    cancellation = Cancellation()
    entry = _current.get()
    assert entry is not None  # set by Connection._run_handler
    entry.cancellation = cancellation
    cancellation.on_progress = entry.progressed
    started = time.perf_counter()
    seq = 0
    async with contextlib.aclosing(daemon.pipeline.synthesize(request, cancellation)) as events:
        async for event in events:
            if isinstance(event, Start):
                record["voice"] = event.voice
                await conn.reply(
                    rid,
                    {"type": "start", "sample_rate": event.sample_rate, "channels": 1, "format": event.format, "voice": event.voice},
                )
            elif isinstance(event, Audio):
                if seq == 0:
                    record["first_audio_seconds"] = time.perf_counter() - started
                frame = {"type": "audio", "seq": seq, "data": event.data, "progress": round(event.progress, 4)}
                await conn.reply(rid, frame)
                record["bytes_sent"] = record.get("bytes_sent", 0) + len(event.data)
                seq += 1
            elif isinstance(event, MarkReached):
                await conn.reply(rid, {"type": "mark", "name": event.name, "offset": event.offset})
            elif isinstance(event, Finished):
                record.update(audio_seconds=event.duration, synth_seconds=event.synth_seconds, cached=event.cached)
                end = {
                    "type": "end",
                    "samples": event.samples,
                    "duration": event.duration,
                    "synth_seconds": event.synth_seconds,
                    "cached": event.cached,
                }
                if event.warnings:
                    end["warnings"] = event.warnings
                if event.fallback:
                    end["fallback"] = event.fallback
                await conn._terminal(rid, end)


async def _metrics(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    status = conn.daemon.status()
    plugins = {
        name: value
        for name, value in conn.daemon.plugins.call_each("litettsd_metrics", status=status)
        if value is not None
    }
    await conn.reply(rid, {"type": "metrics", "plugins": plugins})


async def _shutdown(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    await conn.reply(rid, {"type": "ok"})
    conn.daemon.request_stop()


async def _flush_cache(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    conn.daemon.cache.clear()
    await conn.reply(rid, {"type": "ok"})


async def _reload(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    outcome = await conn.daemon.reload("reload op")
    if not outcome["ok"]:
        raise RequestError(ErrorCode.INVALID_VALUE, f"reload failed, previous configuration kept: {outcome['error']}")
    await conn.reply(rid, {"type": "ok", "files": list(conn.daemon.runtime.config.files)})


ADMIN_OPS = frozenset({"shutdown", "flush_cache", "reload"})
"""Ops only root and the daemon's own user may call (checked with SO_PEERCRED)."""

HANDLERS: dict[str, Handler] = {
    "hello": _hello,
    "ping": _ping,
    "voices": _voices,
    "normalize": _normalize,
    "status": _status,
    "synthesize": _synthesize,
    "char": _synthesize,
    "shutdown": _shutdown,
    "flush_cache": _flush_cache,
    "reload": _reload,
    "metrics": _metrics,
}


class Daemon:
    """Owns the runtime (plugins, voices, pipeline), the scheduler and the server, from start-up to shutdown."""

    def __init__(
        self,
        config: LoadedConfig,
        plan: CpuPlan,
        activated: Sequence[ListenSocket] = (),
        notifier: Notifier | None = None,
        ahead: Prefetch | None = None,
    ) -> None:
        self.plan = plan
        self._cpu_in_force = config.settings.cpu
        """The [cpu] table the plan was made from: a reload cannot re-pin a running daemon."""
        self.activated = list(activated)
        self.notifier = notifier or Notifier()
        self.scheduler = InferenceScheduler(HugePages().advise_new if config.settings.cpu.huge_pages else None)
        self.cache = AudioCache(config.settings.cache.max_bytes)
        self.runtime = build_runtime(config, self.scheduler, self.cache, plan.threads, ahead=ahead)
        self.connections: set[Connection] = set()
        self.requests: set[asyncio.Task[None]] = set()
        self.background: set[asyncio.Task[Any]] = set()
        self.started = time.monotonic()
        self.socket_path = config.settings.server.socket_path()
        self.last_reload: dict[str, Any] | None = None
        self.last_good_reload: float | None = None
        self._reload_lock = asyncio.Lock()
        self.served = 0
        """Requests finished since start, whatever their outcome."""
        self.last_rtf: float | None = None
        """Synthesis seconds per audio second of the last synthesized (not cached) request."""
        self._status_update: asyncio.TimerHandle | None = None
        self._shutting_down = False
        self._started = asyncio.Event()
        """Set once READY is sent: a reload asked for earlier waits for it."""
        self._server: asyncio.AbstractServer | None = None
        self._socket_identity: tuple[int, int] | None = None
        self._stopping: asyncio.Event | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    # The current runtime's parts; a request reads them once, at its start.
    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def plugins(self) -> Plugins:
        return self.runtime.plugins

    @property
    def voices(self) -> VoiceRegistry:
        return self.runtime.voices

    @property
    def pipeline(self) -> Pipeline:
        return self.runtime.pipeline

    async def reload(self, reason: str) -> dict[str, Any]:
        """Re-read every configuration layer and swap in a new runtime; on error keep the old one.

        The new runtime is complete (plugins loaded, lexicons read, default voice warm) before
        the swap, so requests never see a half-applied configuration.
        """
        # A SIGHUP during start-up would otherwise load the default voice a second time
        # beside the first and send READY=1 before the first load had finished.
        await self._started.wait()
        if self._shutting_down:  # READY=1 at its end would tell systemd we are back
            return {"ok": False, "error": "the daemon is shutting down", "at": time.time()}
        async with self._reload_lock:
            log.info("reloading configuration (%s)", reason)
            self.notifier.reloading(f"reloading ({reason})")
            try:
                return await self._reload()
            finally:
                # READY=1 ends the reload for systemd whether it worked or not; otherwise
                # the unit would stay "reloading" after a rejected configuration. Not once
                # stopping: READY=1 after STOPPING=1 would tell systemd we are back.
                if not self._shutting_down:
                    self.notifier.ready(self._summary())

    async def _reload(self) -> dict[str, Any]:
        # The watcher is restarted below, and what it had not yet reported is lost with it:
        # a file saved again while this reload ran (1-6 s when it loads a voice) would be
        # missed, so the files' state is compared at the end instead.
        watched = self._watched_paths()
        before = _file_states(watched)
        try:
            result = await self._reload_from_files()
        finally:
            if _file_states(watched) != before:
                self._reload_soon("a configuration file changed during the reload")
        return result

    async def _reload_from_files(self) -> dict[str, Any]:
        try:
            config = await asyncio.to_thread(load_settings, self.runtime.config.inputs)
            runtime = await asyncio.to_thread(
                build_runtime, config, self.scheduler, self.cache, self.plan.threads, self.runtime
            )
            try:
                await self._warm(runtime.voices, config.settings.synthesis.default_voice)
            except RequestError as exc:  # say which setting, and where it was set
                source = config.sources["synthesis.default_voice"]
                raise StartupError(f"synthesis.default_voice ({source}): {exc.message}") from None
        except (ConfigError, StartupError) as exc:
            message = str(exc)
            self.last_reload = {"ok": False, "error": message, "at": time.time()}
            log.error("reload failed, the previous configuration stays in force: %s", message)
            self._watch_files()  # a folder that appeared, and made the bad file, is watched now
            return self.last_reload
        if config.settings.server.socket_path() != self.socket_path:
            log.warning("the socket path changed; it takes effect at the next start")
        if config.settings.cpu != self._cpu_in_force:
            log.warning("[cpu] differs from the plan in force; the new one takes effect at the next start")
        changed = config.changed_keys(self.runtime.config)
        self.runtime = runtime
        # Only now: a rejected configuration must leave the cache as it was.
        self.cache.resize(config.settings.cache.max_bytes)
        self.cache.clear()  # settings such as pauses shape audio but are not part of cache keys
        self._start_precache()
        logging.getLogger().setLevel(config.settings.log.level.upper())
        self.last_good_reload = time.time()
        self.last_reload = {"ok": True, "error": None, "at": self.last_good_reload}
        what = f"changed: {', '.join(changed)}" if changed else "no setting changed"
        log.info("configuration reloaded from %s; %s", ", ".join(config.files), what)
        self._watch_files()
        return self.last_reload

    def _watched_paths(self) -> list[Path]:
        """The configuration's files and folders, and the lexicon's: an edit to any reloads."""
        return [*watch_paths(self.runtime.config.inputs), *lexicon_watch_paths(self.settings.lexicon.files)]

    def _watch_files(self) -> None:
        """(Re)start watching the configuration files; a change triggers a debounced reload."""
        if self._watcher is not None:
            self._watcher.cancel()
        paths = self._watched_paths()
        if paths:
            self._watcher = asyncio.get_running_loop().create_task(self._watch(paths))

    async def _watch(self, paths: list[Path]) -> None:
        try:
            watcher = ConfigWatcher(paths)
        except OSError as exc:  # e.g. the user's inotify watches are used up
            log.warning("not watching the configuration files (%s); reload with SIGHUP or `litetts reload`", exc)
            return
        try:
            async for names in watcher.changes(_RELOAD_DEBOUNCE_S):
                # reload() restarts the watcher on success (the set of files may change), which
                # cancels this task; on failure keep watching the same files. The log names
                # the file in full: the system and the user file have the same name.
                changed = [_changed_path(paths, name) for name in names]
                await self.reload(f"file change: {', '.join(changed)}")
        finally:
            watcher.close()

    def finished(self, record: RequestRecord) -> None:
        """Tell metrics plugins about a finished request, and systemd's status line."""
        self.plugins.call_each("litettsd_request_finished", record=record)
        self.served += 1
        if record.op == "synthesize" and record.outcome == "ok" and record.audio_seconds > 0 and not record.cached:
            self.last_rtf = record.synth_seconds / record.audio_seconds
        if self.notifier.enabled and self._status_update is None and not self._shutting_down:
            # At most one STATUS= per interval however busy the daemon is: a screen reader
            # sends several requests a second, and systemd only shows the latest line.
            self._status_update = asyncio.get_running_loop().call_later(_STATUS_INTERVAL_S, self._update_status)

    def _update_status(self) -> None:
        self._status_update = None
        self.notifier.status(self._summary())

    def status(self) -> dict[str, Any]:
        """The ``status`` reply body."""
        return {
            "version": __version__,
            "pid": os.getpid(),
            "uptime": time.monotonic() - self.started,
            "socket": str(self.socket_path),
            "voices_loaded": self.voices.loaded,
            "voices_failed": dict(self.voices.failed),
            "voices_available": len(self.voices.catalogue()),
            "default_voice": self.settings.synthesis.default_voice,
            "plugins": self.plugins.description,
            "plugin_errors": dict(self.plugins.errors),
            "queue": {"waiting": self.scheduler.depth, "busy": self.scheduler.busy, "preemptions": self.scheduler.preemptions},
            "connections": len(self.connections),
            # Not counting the request asking (a status or metrics op): an idle daemon says 0.
            "requests_in_flight": len(self.requests - {asyncio.current_task()}),
            "threads": dict(self.runtime.sessions.threads),
            "cpu": {"affinity": sorted(os.sched_getaffinity(0)), "planned_threads": self.plan.threads},
            "cache": self.cache.stats(),
            "config_files": list(self.runtime.config.files),
            "last_reload": self.last_reload,
            "last_successful_reload": self.last_good_reload,
        }

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(self, reader, writer)
        self.connections.add(connection)
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)

    async def start(self) -> None:
        """Listen, then load and warm the default voice (early clients wait, they are not refused)."""
        self.scheduler.start()
        await self._listen()
        self.notifier.status("loading voices")
        start_up = START_UP.set(True)  # for the loads started here, not for requests' (see sessions)
        try:
            for voice_id in [self.settings.synthesis.default_voice, *self.settings.voices.preload]:
                try:
                    await self._warm(self.voices, voice_id)
                except RequestError as exc:
                    if voice_id == self.settings.synthesis.default_voice:
                        raise StartupError(f"default voice {voice_id!r} cannot be loaded: {exc.message}") from None
                    log.error("preloading %s failed: %s", voice_id, exc.message)
        finally:
            START_UP.reset(start_up)
        log.info("ready (pid %d, voices %s)", os.getpid(), ", ".join(self.voices.loaded))
        self.notifier.ready(self._summary())
        startup_finished()
        self._remember_start_up(list(self.runtime.sessions.opened))
        interval = watchdog_interval()
        if interval is not None:
            # Pinged from the event loop itself: a blocked loop stops the pings, and systemd
            # restarts a daemon that can no longer answer anyone.
            self._watchdog = asyncio.get_running_loop().create_task(
                run_watchdog(self.notifier, interval, self.scheduler.alive)
            )
        self.in_background(asyncio.to_thread(self._warm_up_rest))
        self._start_precache()
        self._started.set()

    def _start_precache(self) -> None:
        """Fill the cache with the configured phrases, behind all real work (again after a reload,
        which empties it)."""
        if self.settings.cache.phrases and self.settings.cache.max_bytes:
            self.in_background(self._precache(self.pipeline, self.settings.cache.phrases))

    def _remember_start_up(self, opened: list[tuple[Path, Snapshot]]) -> None:
        """Drop the sessions opened ahead that nobody took, and record what start-up ``opened``
        for the next start (in a thread: it writes a file)."""
        self.runtime.sessions.close_ahead()
        settings = self.settings
        key = start_up_key(settings, self.plan.threads)
        self.in_background(asyncio.to_thread(remember, settings.cache.path(), key, opened))

    def _warm_up_rest(self) -> None:
        """What start-up leaves lazy to reach READY sooner, done off the event loop before most
        first requests: the normalizers' patterns and caches, the SSML parsers, and every
        engine's voice list (``status`` and bare voice names need it; Kokoro's takes ~20 ms)."""
        compile_pending()
        self.pipeline.normalize_text(_WARM_UP_NORMALIZE, NormalizeContext())
        ssml.parse(_WARM_UP_SSML, strict=True)
        self.voices.catalogue()

    def in_background(self, work: Awaitable[Any]) -> None:
        """Run ``work`` as a task the daemon holds on to (and cancels at shutdown)."""
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _listen(self) -> None:
        """Serve on the socket systemd passed us, or bind our own."""
        if self.activated:
            # systemd owns this socket: its path, mode and group come from the .socket unit,
            # and it must outlive us, so it is never unlinked (no _socket_identity).
            sock = self.activated[0].sock
            given = self.runtime.config.sources.get("server.socket", "default")
            if not given.startswith("default") and Path(sock.getsockname()) != self.socket_path:
                log.warning(
                    "server.socket %s (%s) is not used: systemd passed the socket %s", self.socket_path, given, sock.getsockname()
                )
            self.socket_path = Path(sock.getsockname())
            self._server = await asyncio.start_unix_server(self._accept, sock=sock, limit=1 << 16)
            log.info("listening on %s (socket activation)", self.socket_path)
            return
        group = self.settings.server.group
        folder_created = prepare_socket(self.socket_path, group)
        old_umask = os.umask(0o177)  # created 0600, so no other user can connect before chmod
        try:
            self._server = await asyncio.start_unix_server(self._accept, path=str(self.socket_path), limit=1 << 16)
        finally:
            os.umask(old_umask)
        if group:
            _share_with_group(self.socket_path, group, folder_created)
        created = self.socket_path.stat()
        self._socket_identity = (created.st_dev, created.st_ino)
        log.info("listening on %s", self.socket_path)

    def _summary(self) -> str:
        """The live one-line status systemd shows: voices, requests served, the last real-time factor."""
        parts = [
            f"serving {', '.join(self.voices.loaded) or 'no voice yet'}",
            f"{self.served} requests served, {len(self.requests)} in flight",
        ]
        if self.last_rtf is not None:
            parts.append(f"last real-time factor {self.last_rtf:.3f}")
        if self.last_reload is not None and not self.last_reload["ok"]:
            parts.append(f"last reload failed: {self.last_reload['error']}")
        return "; ".join(parts)

    async def _precache(self, pipeline: Pipeline, phrases: list[str]) -> None:
        """Synthesize the phrases a screen reader says most into the cache, behind all real work."""
        skipped = 0
        for phrase in phrases:
            if pipeline is not self.pipeline:
                return  # a reload replaced the runtime; its own pre-caching has started
            try:
                request = SynthesizeRequest.from_wire(
                    {"op": "synthesize", "text": phrase, "priority": "background"}, self.settings.server.max_text_chars
                )
            except RequestError as exc:  # e.g. longer than max_text_chars: a client could not ask for it either
                log.warning("[cache] phrases: %r not pre-cached: %s", phrase, exc.message)
                skipped += 1
                continue
            try:
                async with contextlib.aclosing(pipeline.synthesize(request, Cancellation(), warming=True)) as events:
                    async for _ in events:
                        pass
            except Exception as exc:  # warming is best effort; a failure must not end the daemon
                logs.failure(log, exc, "pre-caching %r failed", phrase)
                return
        log.info("pre-cached %d phrases", len(phrases) - skipped)

    def _remove_socket(self) -> None:
        """Unlink the socket file only if it is still the one we created.

        A daemon that failed to start (another one was listening), or whose file was
        replaced meanwhile, must not delete someone else's socket.
        """
        try:
            current = self.socket_path.stat()
        except FileNotFoundError:
            return
        if (current.st_dev, current.st_ino) == self._socket_identity:
            self.socket_path.unlink()

    async def _warm(self, voices: VoiceRegistry, voice_id: str) -> None:
        voice = await voices.get(voice_id)
        cancellation = Cancellation()

        def infer_once() -> None:
            voice.infer(voice.phonemize(WARM_UP_TEXT), WARM_UP_SPEED, cancellation.run_options)

        # One real inference, so onnxruntime's lazy allocations happen now and not in the
        # first user's request.
        await self.scheduler.run(0, infer_once)

    async def serve(self) -> None:
        """Run until SIGTERM or SIGINT, then shut down gracefully."""
        self._stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload_soon, "SIGHUP")
        try:
            await self.start()
            self._watch_files()
            await self._stopping.wait()
        finally:
            await self.shutdown()

    def _reload_soon(self, reason: str) -> None:
        self.in_background(self.reload(reason))

    def request_stop(self) -> None:
        """Ask ``serve`` to return (used by tests and the stop signals)."""
        if self._stopping is not None:
            self._stopping.set()

    async def shutdown(self) -> None:
        """Stop accepting, let requests finish within the grace period, cancel the rest."""
        log.info("shutting down")
        self._shutting_down = True  # from now on systemd's status line says so, and stays
        if self._status_update is not None:
            self._status_update.cancel()
        self.notifier.stopping("shutting down")
        for task in (self._watcher, self._watchdog):
            if task is not None:
                task.cancel()
        if self._server is not None:
            self._server.close()
        if self.requests:
            _, pending = await asyncio.wait(set(self.requests), timeout=self.settings.server.graceful_timeout)
            for task in pending:
                task.cancel()  # each sends its own ``cancelled`` frame
            for connection in self.connections:
                for entry in connection.inflight.values():
                    if entry.cancellation is not None:
                        # Also stops the inference, and a request whose task's cancel is lost
                        # in an await that swallows it then still ends at its next chunk.
                        entry.cancellation.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        # Idle connections would wait forever for their next frame; end them now. Closing
        # the transport (rather than cancelling the task asyncio's server owns) lets each
        # connection wind down through its normal end-of-input path.
        connections = list(self.connections)
        for connection in connections:
            connection.hang_up()
        if connections:
            await asyncio.wait([asyncio.ensure_future(c.finished.wait()) for c in connections], timeout=2.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await self._server.wait_closed()
        # Warm-ups, pre-caching, reloads: nothing of theirs is worth waiting for now.
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        self._remove_socket()
        self.scheduler.stop()
        log.info("stopped")
