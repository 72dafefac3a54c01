"""asyncio client for litettsd: many requests in flight on one connection.

A single reader task owns the socket's read side and routes each reply frame by its
``id`` into that request's queue, so several syntheses can stream at once and a slow
consumer of one never stalls the others' frames (they wait in their own queues).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any

from .client import (
    CLIENT_NAME,
    MAX_REPLY_FRAME,
    PARTING_WAIT_S,
    _SAFE_TO_REPEAT,
    AudioFile,
    PathOrFile,
    ProgressCallback,
    SynthesisState,
    connect_error,
    is_connection_error,
    output_format,
    synthesize_request,
)
from .paths import default_socket_path
from .protocol import (
    PROTOCOL_VERSION,
    ErrorCode,
    LitettsError,
    Message,
    encode_frame,
    raise_for_error,
    read_frame,
)

_Reply = Message | LitettsError
"""What a request's queue carries: a frame, or the failure that ended the connection."""


def _fresh(failure: LitettsError) -> LitettsError:
    """A new instance per raise: one connection failure reaches many tasks, each with its own traceback."""
    return type(failure)(failure.code, failure.message)


class AsyncSynthesisResult(SynthesisState):
    """A synthesis in flight on an :class:`AsyncClient`; ``async for`` it for audio chunks.

    Same contract as :class:`~litettsd_client.client.SynthesisResult`: iteration stops
    after ``end`` or ``cancelled``, an ``error`` reply raises :class:`LitettsError`, and
    ``start``/``end``/``marks``/``events``/``cancelled`` describe what came.
    """

    def __init__(self, client: AsyncClient, request_id: int, queue: asyncio.Queue[_Reply]) -> None:
        super().__init__(request_id)
        self._client = client
        self._queue = queue

    async def next_frame(self) -> Message | None:
        """The next reply frame of this request, or ``None`` once it is over."""
        if self.done:
            return None
        try:
            frame = await self._client._get(self._queue)
        except LitettsError as exc:
            # A lost connection ends the request; after a timeout (or a cancelled
            # await) it may still be running, so ``aclose()`` can still cancel it.
            if exc.code != ErrorCode.TIMEOUT.value:
                self.done = True
                self._client._forget(self.id)
            raise
        try:
            self._apply(frame)
        finally:
            if self.done:
                self._client._forget(self.id)
        return frame

    async def frames(self) -> AsyncIterator[Message]:
        """Every remaining reply frame, including ``start``, ``mark`` and the final one."""
        while (frame := await self.next_frame()) is not None:
            yield frame

    def __aiter__(self) -> AsyncSynthesisResult:
        return self

    async def __anext__(self) -> bytes:
        while (frame := await self.next_frame()) is not None:
            if frame.get("type") == "audio":
                data: bytes = frame["data"]
                return data
        raise StopAsyncIteration

    async def read(self) -> bytes:
        """All remaining audio as one bytes object."""
        return b"".join([chunk async for chunk in self])

    async def cancel(self) -> None:
        """Ask the daemon to stop; keep iterating to see the ``cancelled`` ending."""
        if not self.done:
            await self._client.cancel(self.id)

    async def aclose(self) -> None:
        """Abandon the request: cancel it if running and drop whatever it still sends."""
        if not self.done:
            self.done = True
            self._client._forget(self.id)
            try:
                await self._client.cancel(self.id)
            except LitettsError:
                pass  # the connection is gone, or the request ended meanwhile

    def __del__(self) -> None:
        # Dropped unfinished: typically a task cancelled while it iterated us without
        # `async with` or aclose(). Nobody can read the rest of the audio any more, so stop
        # the daemon making it, rather than let it run on until the connection closes.
        # (A cancelled await alone does not do this: the caller may go on iterating.)
        if not self.done:
            self._client._abandon(self.id)

    async def __aenter__(self) -> AsyncSynthesisResult:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class AsyncClient:
    """asyncio connection to litettsd; use ``async with`` or :meth:`connect`/:meth:`close`.

    ``timeout`` bounds connecting and each wait for a reply frame. Unlike the blocking
    client, a timeout here leaves the connection usable: the reader task keeps reading.
    Once the daemon has hung up (its ``idle_timeout``, a restart), the requests in flight
    fail with ``connection`` and the next request opens a new connection, as the blocking
    client does; a question that changes nothing (``ping``, ``status``...) is also asked
    once more if the daemon hangs up just as it is asked. After :meth:`close`, nothing
    reconnects until :meth:`connect`.
    """

    def __init__(self, socket_path: str | os.PathLike[str] | None = None, timeout: float | None = None) -> None:
        self.socket_path = Path(socket_path) if socket_path is not None else default_socket_path()
        self.timeout = timeout
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._queues: dict[int, asyncio.Queue[_Reply]] = {}
        self._failure: LitettsError | None = None
        """Why the connection ended, once it has; new requests fail with it."""
        self._closed = True
        """Not connected by the caller, or closed by them: nothing reconnects by itself."""
        self._opening = asyncio.Lock()
        """Held while a connection opens, so concurrent reconnects open one."""
        self._loop: asyncio.AbstractEventLoop | None = None
        """The event loop the connection, the lock and the reader task belong to."""
        self._sending: set[asyncio.Task[None]] = set()
        """Requests waiting for a new connection before they are written (see ``_start``)."""

    async def connect(self) -> None:
        """Open the socket and start the reader task (again, after a lost connection)."""
        self._follow_loop()
        self._closed = False
        await self._open()

    def _follow_loop(self) -> None:
        """Start over on the running event loop if it is not the one used so far.

        A client kept between two ``asyncio.run`` calls would otherwise wait on a lock and a
        reader task of a loop that has ended. Its old connection cannot be used or closed
        from the new loop; the socket is released when the old transport is collected, and
        the daemon then cancels whatever it still had running. One loop at a time: the
        client is not meant to be shared between loops running at once.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside a loop (synthesize() before connecting): nothing to follow
            return
        if loop is self._loop:
            return
        self._loop = loop
        self._opening = asyncio.Lock()
        if self._writer is not None or self._reader_task is not None:
            self._writer, self._reader_task = None, None
            self._queues.clear()  # their waiters were the old loop's, cancelled when it ended
            self._failure = LitettsError(ErrorCode.CONNECTION, "the connection belonged to an event loop that has ended")

    async def _open(self) -> None:
        async with self._opening:
            if self._writer is not None and self._failure is None:
                return  # open already, or opened by a concurrent caller while we waited
            await self._drop(LitettsError(ErrorCode.CONNECTION, "litettsd closed the connection"))
            try:
                async with asyncio.timeout(self.timeout):
                    reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
            except TimeoutError:
                raise LitettsError(
                    ErrorCode.CONNECTION, f"cannot connect to litettsd at {self.socket_path}: timed out"
                ) from None
            except OSError as exc:
                raise connect_error(self.socket_path, exc) from None
            if self._closed:  # close() came while we were connecting: it wins
                writer.close()
                raise LitettsError(ErrorCode.CONNECTION, "the client closed the connection")
            self._writer = writer
            self._failure = None
            self._reader_task = asyncio.create_task(self._read_loop(reader), name="litettsd-client-reader")

    async def close(self) -> None:
        """Hang up; the daemon cancels whatever this connection still had running."""
        self._follow_loop()
        self._closed = True
        await self._drop(LitettsError(ErrorCode.CONNECTION, "the client closed the connection"))

    async def _drop(self, failure: LitettsError) -> None:
        """End the current connection, if any; what still waits on it fails with ``failure``."""
        writer, self._writer = self._writer, None
        task, self._reader_task = self._reader_task, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fail_all(failure)

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- requests ---------------------------------------------------------------------

    async def hello(self, client: str = CLIENT_NAME) -> Message:
        """Exchange versions; the reply names the default voice, formats and text limit."""
        return await self._call("hello", client=client, protocol=PROTOCOL_VERSION)

    async def ping(self) -> Message:
        """Round trip to check the daemon is alive."""
        return await self._call("ping")

    async def voices(self, language: str | None = None) -> list[Message]:
        """Installed voices, optionally only those of one language."""
        fields = {} if language is None else {"language": language}
        voices: list[Message] = (await self._call("voices", **fields))["voices"]
        return voices

    async def reload(self) -> Message:
        """Ask the daemon to re-read its configuration (root or the daemon's own user only)."""
        return await self._call("reload")

    async def status(self) -> Message:
        """The daemon's status map (pid, uptime, loaded voices...)."""
        return await self._call("status")

    async def metrics(self) -> Message:
        """Each metrics plugin's figures (``{"plugins": {name: {...}}}``)."""
        return await self._call("metrics")

    async def normalize(self, text: str, voice: str | None = None) -> Message:
        """What the daemon would actually speak: normalized ``text`` and its ``phonemes``."""
        fields: dict[str, Any] = {"text": text}
        if voice is not None:
            fields["voice"] = voice
        return await self._call("normalize", **fields)

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        format: str | None = None,
        sample_rate: int | None = None,
        speed: float | None = None,
        volume: float | None = None,
        stream: bool | None = None,
        priority: str | None = None,
        **extra: Any,
    ) -> AsyncSynthesisResult:
        """Start speaking ``text`` and return its stream at once (``async for chunk in ...``).

        Not a coroutine, so the request is on its way (and has an id to cancel) before
        the caller starts iterating. Needs a connected client.
        """
        fields = synthesize_request(
            text,
            voice=voice,
            format=format,
            sample_rate=sample_rate,
            speed=speed,
            volume=volume,
            stream=stream,
            priority=priority,
            extra=extra,
        )
        request_id, queue = self._start("synthesize", fields)
        return AsyncSynthesisResult(self, request_id, queue)

    async def speak_to_file(
        self,
        text: str,
        target: PathOrFile,
        format: str | None = None,
        progress: ProgressCallback | None = None,
        keep_cancelled: bool = True,
        **options: Any,
    ) -> AsyncSynthesisResult:
        """Synthesize into a file, as :meth:`Client.speak_to_file` does.

        File writes are plain blocking writes: chunks are small and local disks fast,
        which costs less than a thread hop per chunk.
        """
        fmt = output_format(target, format)
        out = AudioFile(target, fmt)
        try:
            result = self.synthesize(text, format=fmt, **options)
            async with result:
                async for chunk in result:
                    out.write(chunk)
                    if progress is not None:
                        progress(result)
            if result.cancelled and not keep_cancelled:
                out.abort()
            else:
                out.finish(result.end)
        except BaseException:
            out.abort()
            raise
        return result

    async def cancel(self, target: int | SynthesisState) -> None:
        """Stop a request and wait for the daemon's ``ok``; the target then ends ``cancelled``."""
        target_id = target.id if isinstance(target, SynthesisState) else target
        await self._call("cancel", target=target_id)

    # -- plumbing ---------------------------------------------------------------------

    async def _call(self, op: str, **fields: Any) -> Message:
        self._follow_loop()
        if self._failure is not None and not self._closed:
            await self._open()  # the daemon hung up (idle_timeout, a restart) since the last use
        if op not in _SAFE_TO_REPEAT or self._closed:
            return await self._call_once(op, fields)
        try:
            return await self._call_once(op, fields)
        except LitettsError as exc:
            # It hung up just as we asked: a question that changes nothing is asked once more,
            # on a fresh connection, as the blocking client does. Never after close().
            if exc.code != ErrorCode.CONNECTION.value or self._closed:
                raise
            await self._open()
            return await self._call_once(op, fields)

    async def _call_once(self, op: str, fields: dict[str, Any]) -> Message:
        request_id, queue = self._start(op, fields)
        try:
            writer = self._writer
            if writer is not None:
                try:
                    await writer.drain()
                except OSError as exc:
                    # A daemon that refuses a frame (frame_too_large) says why and hangs up
                    # before reading it: its error, already received, says more than EPIPE.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(PARTING_WAIT_S):
                            parting = await queue.get()
                        if isinstance(parting, dict) and parting.get("type") == "error":
                            raise_for_error(parting)
                    raise LitettsError(ErrorCode.CONNECTION, f"lost the connection to litettsd: {exc}") from None
            return raise_for_error(await self._get(queue))
        finally:
            self._forget(request_id)

    def char(self, fields: dict[str, Any]) -> AsyncSynthesisResult:
        """Read one character (``char``) or key name (``key``) as a screen reader does.

        ``fields`` holds ``char`` or ``key`` plus any ``synthesize`` options (voice, format,
        speed...); the reply stream is the same as for :meth:`synthesize`.
        """
        request_id, queue = self._start("char", fields)
        return AsyncSynthesisResult(self, request_id, queue)

    def _start(self, op: str, fields: dict[str, Any]) -> tuple[int, asyncio.Queue[_Reply]]:
        """Register a queue for a new request and write it; the transport sends it soon.

        After the daemon hung up, the request is written once a new connection is open (a
        task of its own: this is not a coroutine), and a failure to connect is its reply.
        """
        self._follow_loop()
        if self._failure is not None and self._closed:
            raise _fresh(self._failure)
        if self._writer is None and self._failure is None:
            raise LitettsError(ErrorCode.CONNECTION, "not connected to litettsd; use `async with` or connect()")
        request_id = next(self._ids)
        queue: asyncio.Queue[_Reply] = asyncio.Queue()
        frame = encode_frame({"op": op, "id": request_id, **fields})
        if self._failure is not None:
            task = asyncio.get_running_loop().create_task(self._reconnect_and_write(request_id, queue, frame))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
            return request_id, queue
        assert self._writer is not None
        self._queues[request_id] = queue
        self._writer.write(frame)
        return request_id, queue

    async def _reconnect_and_write(self, request_id: int, queue: asyncio.Queue[_Reply], frame: bytes) -> None:
        try:
            await self._open()
        except LitettsError as exc:
            queue.put_nowait(exc)
            return
        if self._writer is None or self._failure is not None:  # lost again, or closed, meanwhile
            queue.put_nowait(self._failure or LitettsError(ErrorCode.CONNECTION, "litettsd closed the connection"))
            return
        self._queues[request_id] = queue
        self._writer.write(frame)

    def _forget(self, request_id: int) -> None:
        self._queues.pop(request_id, None)

    def _abandon(self, request_id: int) -> None:
        """Cancel a request whose result was dropped, without waiting: the ``ok`` is dropped too.

        Only from the connection's own loop thread, while its connection is up: a finalizer
        may run anywhere, and a closed or lost connection has ended the request already.
        """
        self._forget(request_id)
        writer = self._writer
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if writer is None or running is not self._loop or self._failure is not None or writer.is_closing():
            return
        writer.write(encode_frame({"op": "cancel", "id": next(self._ids), "target": request_id}))

    async def _get(self, queue: asyncio.Queue[_Reply]) -> Message:
        # asyncio.timeout rather than wait_for, which on 3.11 may swallow the caller's cancel
        try:
            async with asyncio.timeout(self.timeout):
                reply = await queue.get()
        except TimeoutError:
            raise LitettsError(ErrorCode.TIMEOUT, f"litettsd sent nothing for {self.timeout} s") from None
        if isinstance(reply, LitettsError):
            raise _fresh(reply)
        return reply

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        """Route every reply to its request's queue until the connection ends."""
        try:
            while True:
                frame = await read_frame(reader, MAX_REPLY_FRAME, ErrorCode.CONNECTION)
                if frame is None:
                    failure = LitettsError(ErrorCode.CONNECTION, "litettsd closed the connection")
                    break
                if is_connection_error(frame):
                    for waiting in self._queues.values():
                        waiting.put_nowait(frame)
                    continue
                reply_to = frame.get("id")
                queue = self._queues.get(reply_to) if isinstance(reply_to, int) else None
                if queue is not None:
                    queue.put_nowait(frame)
                # else: a reply to a request abandoned with aclose()
        except LitettsError as exc:
            failure = exc
        except OSError as exc:
            failure = LitettsError(ErrorCode.CONNECTION, f"lost the connection to litettsd: {exc}")
        self._fail_all(failure)

    def _fail_all(self, failure: LitettsError) -> None:
        """End every waiting request with ``failure`` and refuse new ones until reconnected."""
        self._failure = failure
        for queue in self._queues.values():
            queue.put_nowait(failure)
        self._queues.clear()
