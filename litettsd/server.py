"""The daemon: socket, connections, request dispatch and an orderly life cycle.

Start-up binds the socket first and loads the default voice second, so a client that
connects early is not refused: its request simply waits for the voice. Shutdown stops
accepting, gives in-flight requests ``graceful_timeout`` seconds to finish, then cancels
what is left, so every request ends with ``end``, ``cancelled`` or ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litettsd_client.protocol import ProtocolError, encode_frame, read_frame

from . import __version__, logs
from .api import EngineContext, RequestRecord
from .config import Settings
from .errors import ErrorCode, RequestError, StartupError
from .messages import SynthesizeRequest, request_id
from .pipeline import Audio, Cancellation, Cancelled, Finished, MarkReached, Pipeline, Start
from .plugins import Plugins, build_plugin_manager
from .scheduler import InferenceScheduler
from .sessions import SessionFactory
from .voices import VoiceRegistry

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
_WARM_UP_TEXT = "Ready."


def prepare_socket(path: Path) -> None:
    """Create the runtime folder and clear a stale socket; refuse if a daemon is listening."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not (path.exists() or path.is_symlink()):
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise StartupError(f"{path} exists and is not a socket; remove it or choose another --socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody listens: a leftover from a daemon that died
        return
    finally:
        probe.close()
    raise StartupError(f"another litettsd is already listening on {path}")


@dataclass
class _InFlight:
    task: asyncio.Task[None]
    cancellation: Cancellation | None = None
    closed: bool = False
    """Set once the request's terminal frame is sent; nothing may follow it."""


class Connection:
    """One client: reads frames, runs each request as a task, writes replies in order per id."""

    def __init__(self, daemon: Daemon, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.daemon = daemon
        self.reader = reader
        self.writer = writer
        self.inflight: dict[int, _InFlight] = {}
        self._write_lock = asyncio.Lock()
        self.finished = asyncio.Event()

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
                self.dispatch(message)
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
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        self.finished.set()

    def hang_up(self) -> None:
        """End the connection from our side; ``run`` sees end of input and cleans up."""
        self.writer.close()

    async def send(self, frame: dict[str, Any]) -> None:
        """Write one whole frame; the lock keeps frames from different requests whole."""
        data = encode_frame(frame)
        async with self._write_lock:
            self.writer.write(data)
            await self.writer.drain()

    def dispatch(self, message: dict[str, Any]) -> None:
        """Start the handler for one request, or answer a malformed one at once."""
        raw_id = message.get("id")
        try:
            rid = request_id(message)
            if rid in self.inflight:
                raise RequestError(ErrorCode.BAD_REQUEST, f"id {rid} is already in flight on this connection")
            op = message.get("op")
            if not isinstance(op, str):
                raise RequestError(ErrorCode.BAD_REQUEST, "every request needs an op string")
            handler = HANDLERS.get(op)
            if handler is None and op != "cancel":
                raise RequestError(ErrorCode.UNKNOWN_OP, f"unknown op {op!r}")
        except RequestError as exc:
            reply_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else 0
            self._spawn_send({"type": "error", "id": reply_id, "code": exc.code, "message": exc.message})
            return
        if handler is None:  # cancel runs at once, not as a task, so it never queues behind work
            self._cancel(rid, message)
            return
        task = asyncio.get_running_loop().create_task(self._run_handler(handler, rid, message))
        self.inflight[rid] = _InFlight(task=task)
        self.daemon.requests.add(task)
        task.add_done_callback(lambda _: self.inflight.pop(rid, None))
        task.add_done_callback(self.daemon.requests.discard)

    def _spawn_send(self, frame: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._send_quietly(frame))
        self.daemon.background.add(task)
        task.add_done_callback(self.daemon.background.discard)

    async def _send_quietly(self, frame: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError):
            await self.send(frame)

    async def reply(self, rid: int, frame: dict[str, Any]) -> None:
        """Send a frame for request ``rid`` unless that request has already ended."""
        entry = self.inflight.get(rid)
        if entry is not None and entry.closed:
            raise Cancelled()
        await self.send({**frame, "id": rid})

    async def _run_handler(self, handler: Handler, rid: int, message: dict[str, Any]) -> None:
        started = time.perf_counter()
        record: dict[str, Any] = {"op": message["op"], "outcome": "ok"}
        try:
            await handler(self, rid, message, record)
        except Cancelled:
            record["outcome"] = "cancelled"
            await self._terminal(rid, {"type": "cancelled"})
        except asyncio.CancelledError:
            entry = self.inflight.get(rid)
            if entry is not None and entry.cancellation is not None:
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
            self.daemon.finished(RequestRecord(**record))

    async def _terminal(self, rid: int, frame: dict[str, Any]) -> None:
        entry = self.inflight.get(rid)
        if entry is not None:
            if entry.closed:
                return
            entry.closed = True
        with contextlib.suppress(ConnectionError):
            await self.send({**frame, "id": rid})

    def _cancel(self, rid: int, message: dict[str, Any]) -> None:
        target = message.get("target")
        entry = self.inflight.get(target) if isinstance(target, int) else None
        if entry is not None and not entry.closed:
            if entry.cancellation is not None:
                entry.cancellation.cancel()
            # The target's terminal frame goes out before the cancel's ``ok``: once a client
            # sees ``ok``, the cancelled stream is over.
            entry.closed = True
            self._spawn_send({"type": "cancelled", "id": target})
            entry.task.cancel()
        self._spawn_send({"type": "ok", "id": rid, "found": entry is not None})


Handler = Callable[[Connection, int, dict[str, Any], dict[str, Any]], Awaitable[None]]


async def _hello(conn: Connection, rid: int, message: dict[str, Any], record: dict[str, Any]) -> None:
    daemon = conn.daemon
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
    conn.inflight[rid].cancellation = cancellation
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
                await conn.reply(rid, {"type": "audio", "seq": seq, "data": event.data})
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
                await conn._terminal(rid, end)


HANDLERS: dict[str, Handler] = {
    "hello": _hello,
    "ping": _ping,
    "voices": _voices,
    "normalize": _normalize,
    "status": _status,
    "synthesize": _synthesize,
    "char": _synthesize,
}


class Daemon:
    """Owns the plugins, voices, scheduler and server, from start-up to shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.plugins: Plugins = build_plugin_manager(settings.plugins.disabled, settings.plugins.load)
        self.sessions = SessionFactory(self.plugins, settings)
        context = EngineContext(
            settings=settings, cache_dir=settings.cache.path(), create_session=self.sessions
        )
        engines = [engine for _, engine in self.plugins.collect("litettsd_register_engines", settings=settings)]
        self.voices = VoiceRegistry(engines, context)
        self.scheduler = InferenceScheduler()
        self.pipeline = Pipeline(settings, self.plugins, self.voices, self.scheduler)
        self.connections: set[Connection] = set()
        self.requests: set[asyncio.Task[None]] = set()
        self.background: set[asyncio.Task[None]] = set()
        self.started = time.monotonic()
        self.socket_path = settings.server.socket_path()
        self._server: asyncio.AbstractServer | None = None
        self._socket_identity: tuple[int, int] | None = None
        self._stopping: asyncio.Event | None = None

    def finished(self, record: RequestRecord) -> None:
        """Tell metrics plugins about a finished request."""
        self.plugins.call_each("litettsd_request_finished", record=record)

    def status(self) -> dict[str, Any]:
        """The ``status`` reply body."""
        return {
            "version": __version__,
            "pid": os.getpid(),
            "uptime": time.monotonic() - self.started,
            "socket": str(self.socket_path),
            "voices_loaded": self.voices.loaded,
            "voices_available": len(self.voices.catalogue()),
            "default_voice": self.settings.synthesis.default_voice,
            "plugins": self.plugins.describe(),
            "plugin_errors": dict(self.plugins.errors),
            "queue": {"waiting": self.scheduler.depth, "busy": self.scheduler.busy},
            "connections": len(self.connections),
            "requests_in_flight": len(self.requests),
            "threads": dict(self.sessions.threads),
            "cache": self.pipeline.cache.stats(),
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
        prepare_socket(self.socket_path)
        old_umask = os.umask(0o177)  # the socket is created 0600: only our uid may speak to us
        try:
            self._server = await asyncio.start_unix_server(self._accept, path=str(self.socket_path), limit=1 << 16)
        finally:
            os.umask(old_umask)
        created = self.socket_path.stat()
        self._socket_identity = (created.st_dev, created.st_ino)
        log.info("listening on %s", self.socket_path)
        for voice_id in [self.settings.synthesis.default_voice, *self.settings.voices.preload]:
            try:
                await self._warm(voice_id)
            except RequestError as exc:
                if voice_id == self.settings.synthesis.default_voice:
                    raise StartupError(f"default voice {voice_id!r} cannot be loaded: {exc.message}") from None
                log.error("preloading %s failed: %s", voice_id, exc.message)
        log.info("ready (pid %d, voices %s)", os.getpid(), ", ".join(self.voices.loaded))
        if self.settings.cache.phrases and self.settings.cache.max_bytes:
            task = asyncio.get_running_loop().create_task(self._precache(self.settings.cache.phrases))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

    async def _precache(self, phrases: list[str]) -> None:
        """Synthesize the phrases a screen reader says most into the cache, behind all real work."""
        for phrase in phrases:
            request = SynthesizeRequest.from_wire(
                {"op": "synthesize", "text": phrase, "priority": "background"}, self.settings.server.max_text_chars
            )
            try:
                async with contextlib.aclosing(self.pipeline.synthesize(request, Cancellation())) as events:
                    async for _ in events:
                        pass
            except Exception as exc:  # warming is best effort; a failure must not end the daemon
                logs.failure(log, exc, "pre-caching %r failed", phrase)
                return
        log.info("pre-cached %d phrases", len(phrases))

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

    async def _warm(self, voice_id: str) -> None:
        voice = await self.voices.get(voice_id)
        cancellation = Cancellation()

        def infer_once() -> None:
            voice.infer(voice.phonemize(_WARM_UP_TEXT), 1.0, cancellation.run_options)

        # One real inference, so onnxruntime's lazy allocations happen now and not in the
        # first user's request.
        await self.scheduler.run(0, infer_once)

    async def serve(self) -> None:
        """Run until SIGTERM or SIGINT, then shut down gracefully."""
        self._stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        try:
            await self.start()
            await self._stopping.wait()
        finally:
            await self.shutdown()

    def request_stop(self) -> None:
        """Ask ``serve`` to return (used by tests and the stop signals)."""
        if self._stopping is not None:
            self._stopping.set()

    async def shutdown(self) -> None:
        """Stop accepting, let requests finish within the grace period, cancel the rest."""
        log.info("shutting down")
        if self._server is not None:
            self._server.close()
        if self.requests:
            _, pending = await asyncio.wait(set(self.requests), timeout=self.settings.server.graceful_timeout)
            for task in pending:
                task.cancel()  # each sends its own ``cancelled`` frame
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
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        self._remove_socket()
        self.scheduler.stop()
        log.info("stopped")
