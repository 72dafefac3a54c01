"""Blocking client for litettsd, for scripts and programs without an event loop.

One :class:`Client` owns one Unix socket. Reading happens in whichever call is waiting
for a reply (a simple request, or a :class:`SynthesisResult` being iterated), so the
client needs no background thread. Frames for other requests that arrive meanwhile are
kept until their owner asks for them. The one thing another thread may do is
:meth:`Client.cancel`, which only sends; the iterating thread then sees ``cancelled``.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import stat
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from .paths import default_socket_path
from .protocol import (
    PROTOCOL_VERSION,
    ErrorCode,
    LitettsError,
    Message,
    ProtocolError,
    encode_frame,
    raise_for_error,
    recv_frame,
)
from .finalize import HEAD_BYTES, apply_patches, flac_length_patches, wav_size_patches

MAX_REPLY_FRAME = 256 * 1024 * 1024
"""Sanity bound on a reply frame, so a socket that is not litettsd cannot make us wait for gigabytes."""

CLIENT_NAME = "litettsd_client"

PathOrFile = str | os.PathLike[str] | BinaryIO
"""Where :meth:`Client.speak_to_file` writes: a path it opens, or a binary file it does not close."""


def connect_error(path: Path, exc: OSError) -> LitettsError:
    """The one-line explanation shown when the daemon cannot be reached."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = ""
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
        hint = " (is the daemon running? start it with `litettsd`)"
    return LitettsError(ErrorCode.CONNECTION, f"cannot connect to litettsd at {path}: {reason}{hint}")


def is_connection_error(frame: Message) -> bool:
    """An ``error`` the daemon could not tie to a request: it answers those with id 0.

    Request ids start at 1, so such a frame (say, ``frame_too_large`` right before the
    daemon hangs up) belongs to no request and concerns the whole connection.
    """
    reply_to = frame.get("id")
    return frame.get("type") == "error" and (not isinstance(reply_to, int) or reply_to == 0)


def synthesize_request(
    text: str,
    *,
    voice: str | None,
    format: str | None,
    sample_rate: int | None,
    speed: float | None,
    volume: float | None,
    stream: bool | None,
    priority: str | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The ``synthesize`` fields, leaving out what the caller did not set so the daemon's defaults apply."""
    fields: dict[str, Any] = {
        "text": text,
        "voice": voice,
        "format": format,
        "sample_rate": sample_rate,
        "speed": speed,
        "volume": volume,
        "stream": stream,
        "priority": priority,
        **extra,
    }
    return {name: value for name, value in fields.items() if value is not None}


def output_format(target: PathOrFile, format: str | None) -> str:
    """The format to ask for: explicit, else the file's extension (``out.mp3``), else wav."""
    if format:
        return format.lower()
    if isinstance(target, (str, os.PathLike)):
        suffix = Path(target).suffix.lstrip(".").lower()
        if suffix:
            return suffix
    return "wav"


class SynthesisState:
    """What is known about one synthesis so far; shared by the sync and async results.

    ``start`` is the ``start`` frame, ``end`` the ``end`` frame (``None`` until it came),
    ``marks`` the ``mark`` frames, ``events`` any reply types this client does not know
    (later protocol versions may add some), ``cancelled`` whether it ended by ``cancel``.
    """

    def __init__(self, request_id: int) -> None:
        self.id = request_id
        self.start: Message | None = None
        self.end: Message | None = None
        self.marks: list[Message] = []
        self.events: list[Message] = []
        self.cancelled = False
        self.done = False
        """No more frames will come: ended, cancelled, failed, or closed by the caller."""
        self.audio_bytes = 0
        """Audio bytes received so far, for progress displays."""
        self.progress: float | None = None
        """Share of the text spoken so far, 0 to 1, from the latest audio frame (``None``
        before the first, or from a daemon that does not say)."""
        self._next_seq = 0

    @property
    def sample_rate(self) -> int:
        """Sample rate announced by the ``start`` frame."""
        if self.start is None:
            raise ProtocolError(ErrorCode.INTERNAL, "litettsd sent audio without a start frame")
        return int(self.start["sample_rate"])

    @property
    def format(self) -> str | None:
        """Format announced by the ``start`` frame, once it came."""
        return None if self.start is None else str(self.start.get("format"))

    def _apply(self, frame: Message) -> None:
        """Record one reply frame; raises for ``error`` replies and broken sequences."""
        kind = frame.get("type")
        if kind == "audio":
            seq, data = frame.get("seq"), frame.get("data")
            if seq != self._next_seq or not isinstance(data, bytes):
                self.done = True  # audio can no longer be trusted to be whole and in order
                if seq != self._next_seq:
                    raise ProtocolError(
                        ErrorCode.INTERNAL, f"audio frame {seq!r} arrived where frame {self._next_seq} was due"
                    )
                raise ProtocolError(ErrorCode.INTERNAL, "audio frame without binary data")
            self._next_seq += 1
            self.audio_bytes += len(data)
            progress = frame.get("progress")
            if isinstance(progress, (int, float)) and not isinstance(progress, bool):
                self.progress = min(1.0, max(0.0, float(progress)))
        elif kind == "start":
            self.start = frame
        elif kind == "mark":
            self.marks.append(frame)
        elif kind == "end":
            self.end = frame
            self.done = True
        elif kind == "cancelled":
            self.cancelled = True
            self.done = True
        elif kind == "error":
            self.done = True
            raise_for_error(frame)
        else:
            self.events.append(frame)


ProgressCallback = Callable[[SynthesisState], None]
"""Called by ``speak_to_file`` after each chunk is written, with the synthesis so far."""


_SAFE_TO_REPEAT = frozenset({"hello", "ping", "voices", "status", "metrics", "normalize"})
"""Ops that change nothing in the daemon, so a lost connection may simply ask again."""
PARTING_WAIT_S = 0.5
"""How long a client whose write failed looks for the daemon's last word before saying EPIPE."""


def _parting_error(sock: socket.socket) -> Message | None:
    """The connection-level error a daemon sent before hanging up on a frame it refused.

    A request over ``max_frame_bytes`` gets ``frame_too_large`` and the connection closes
    before the daemon reads the rest, so our write fails; the error is already in our
    receive buffer and is the better answer.
    """
    try:
        sock.settimeout(PARTING_WAIT_S)
        frame = recv_frame(sock, MAX_REPLY_FRAME, ErrorCode.CONNECTION)
    except (OSError, LitettsError):
        return None
    return frame if frame is not None and is_connection_error(frame) else None


_INHERITED = re.compile(r"/dev/std(?P<std>out|err)|/(?:dev/fd|proc/self/fd)/(?P<fd>[0-9]+)")


def _inherited_descriptor(path: Path) -> int | None:
    """The descriptor a path names in this process, if any: /dev/stdout, /dev/fd/3, or any
    other name (a symlink, /proc/thread-self/fd/1) of the file our stdout or stderr is."""
    match = _INHERITED.fullmatch(str(path))
    if match is not None:
        if match.group("std"):
            return 1 if match.group("std") == "out" else 2
        return int(match.group("fd"))
    try:
        target = path.stat()
    except OSError:
        return None
    for descriptor in (1, 2):
        try:
            stream = os.fstat(descriptor)
        except OSError:
            continue
        if (stream.st_dev, stream.st_ino) == (target.st_dev, target.st_ino):
            return descriptor
    return None


def _write_in_place(path: Path, existing: os.stat_result | None) -> bool:
    """Whether replacing ``path`` by a rename would change more than its content (see AudioFile)."""
    if existing is not None and (existing.st_nlink > 1 or existing.st_uid != os.geteuid()):
        return True
    return not os.access(os.path.dirname(os.path.realpath(path)), os.W_OK)


class AudioFile:
    """The destination of ``speak_to_file`` and of ``litetts say`` on stdout: opens paths,
    fixes streamed WAV and FLAC headers, cleans up.

    A path to a regular file (or to nothing yet) is written through a hidden file beside
    it, renamed over the path only once the audio is complete: a failed request leaves
    whatever was there before untouched. Where a rename would change more than the content
    (a file with other hard links or another owner, or in a folder we may not write to),
    the audio is spooled to an anonymous temporary file and copied into the file once
    complete, so the file keeps its identity and, again, a failed request leaves it as it
    was. Our own stdout or stderr, by any name (``/dev/stdout``, ``/dev/fd/1``, a symlink
    to it), is written where it stands, so a redirected log is appended to, not replaced.
    A pipe or a device is written in place and never removed; a file created in place (in
    a folder we may not write to, as root) is removed on failure.
    """

    def __init__(self, target: PathOrFile, format: str) -> None:
        self.format = format
        self.written = 0
        self._partial: Path | None = None
        """The hidden file being written, renamed to ``_destination`` by :meth:`finish`."""
        self._destination: Path | None = None
        self._created: Path | None = None
        """A file this object created in place, removed again by :meth:`abort`."""
        self._copy_into: Path | None = None
        """The file the spooled audio is copied into by :meth:`finish`."""
        self._head = bytearray()
        """The stream's first bytes, which the header patches are computed from."""
        self._owned = isinstance(target, (str, os.PathLike))
        if isinstance(target, (str, os.PathLike)):
            self.file: BinaryIO = self._open(Path(target))  # closed by finish() or abort()
        else:
            self.file = target
        self._starts_file = self._is_regular() and self.file.tell() == 0

    def _open(self, path: Path) -> BinaryIO:
        inherited = _inherited_descriptor(path)
        if inherited is not None:
            # Our own stdout (or another open descriptor), written where it stands: reopening
            # /dev/stdout would start a redirected log over from its first byte.
            return os.fdopen(os.dup(inherited), "wb")
        try:
            existing: os.stat_result | None = path.stat()
        except FileNotFoundError:
            existing = None
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            return open(path, "wb")  # a pipe or a device: nothing to keep, nothing to rewrite
        if _write_in_place(path, existing):
            if existing is None:
                self._created = path
                return open(path, "wb")
            import tempfile  # rarely needed, and not cheap to import for every `litetts say`

            self._copy_into = path
            folder = path.parent if os.access(path.parent, os.W_OK) else None  # else $TMPDIR
            return tempfile.TemporaryFile(dir=folder)
        self._destination = Path(os.path.realpath(path))  # through a symlink, as a plain open would
        for attempt in itertools.count():
            partial = self._destination.with_name(f".{self._destination.name}.{os.getpid()}.{attempt}.part")
            try:
                # 0o666 less the umask, as a plain open would create it.
                descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                continue
        self._partial = partial
        if existing is not None:
            os.chmod(descriptor, stat.S_IMODE(existing.st_mode))
        return os.fdopen(descriptor, "wb")

    def write(self, chunk: bytes) -> None:
        """Append one chunk of the encoded stream."""
        if self._starts_file and len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        self.file.write(chunk)
        self.written += len(chunk)

    def finish(self, end: Message | None) -> None:
        """Complete the file; streamed WAV and FLAC carry placeholder lengths until patched here.

        Patching needs the audio to start the file and the file to be seekable; a pipe, or
        a caller's file we appended to, keeps the placeholders (most readers cope).
        """
        self.file.flush()
        if self.written and self._starts_file:
            try:
                if self.format == "wav":
                    apply_patches(self.file, wav_size_patches(bytes(self._head), self.written))
                elif self.format == "flac" and end is not None:
                    apply_patches(self.file, flac_length_patches(bytes(self._head), int(end["samples"])))
            except ValueError as exc:
                raise ProtocolError(
                    ErrorCode.INTERNAL, f"litettsd sent a malformed {self.format} stream: {exc}"
                ) from None
            self.file.flush()
        if self._copy_into is not None:
            import shutil

            self.file.seek(0)
            with open(self._copy_into, "wb") as target:  # truncated in place: same file, same links
                shutil.copyfileobj(self.file, target)
            self._copy_into = None
        if self._owned:
            self.file.close()
        if self._partial is not None and self._destination is not None:
            os.replace(self._partial, self._destination)
            self._partial = None

    def abort(self) -> None:
        """Drop the partial audio, so a failed request leaves the destination as it was."""
        if self._owned:
            self.file.close()
        if self._partial is not None:
            self._partial.unlink(missing_ok=True)
            self._partial = None
        if self._created is not None:
            self._created.unlink(missing_ok=True)
            self._created = None

    def _is_regular(self) -> bool:
        """Only regular files (or in-memory buffers) can be rewritten; pipes and devices cannot."""
        try:
            return stat.S_ISREG(os.fstat(self.file.fileno()).st_mode)
        except (AttributeError, OSError):  # io.BytesIO has no descriptor
            return self.file.seekable()


class SynthesisResult(SynthesisState):
    """A synthesis in flight on a :class:`Client`: iterate it for audio chunks as they arrive.

    Iteration stops after ``end`` or ``cancelled`` (then ``cancelled`` is true); an
    ``error`` reply raises :class:`LitettsError`. Use :meth:`frames` instead to see
    ``start``/``mark``/other frames interleaved with the audio. Leaving a result
    unfinished keeps its frames queued; :meth:`close` (or ``with``) cancels and drops it.
    """

    def __init__(self, client: Client, request_id: int) -> None:
        super().__init__(request_id)
        self._client = client

    def next_frame(self) -> Message | None:
        """The next reply frame of this request, or ``None`` once it is over."""
        if self.done:
            return None
        try:
            frame = self._client._next_reply(self.id)
        except BaseException:
            # Reading failed: the connection was dropped, or the daemon reported a
            # failure of the whole connection. Either way this request is over.
            self.done = True
            self._client._forget(self.id)
            raise
        try:
            self._apply(frame)
        finally:
            if self.done:
                self._client._forget(self.id)
        return frame

    def frames(self) -> Iterator[Message]:
        """Every remaining reply frame, including ``start``, ``mark`` and the final one."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def __iter__(self) -> SynthesisResult:
        return self

    def __next__(self) -> bytes:
        while (frame := self.next_frame()) is not None:
            if frame.get("type") == "audio":
                data: bytes = frame["data"]
                return data
        raise StopIteration

    def read(self) -> bytes:
        """All remaining audio as one bytes object."""
        return b"".join(self)

    def cancel(self) -> None:
        """Ask the daemon to stop; keep iterating to see the ``cancelled`` ending."""
        if not self.done:
            self._client.cancel(self.id)

    def close(self) -> None:
        """Abandon the request: cancel it if running and drop whatever it still sends."""
        if not self.done:
            self.done = True
            self._client._forget(self.id)
            try:
                self._client.cancel(self.id)
            except LitettsError:
                pass  # the connection is gone, and the request with it

    def __enter__(self) -> SynthesisResult:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Client:
    """Blocking connection to litettsd; connects on the first request.

    ``timeout`` bounds each wait for the daemon (connect, send, each reply frame); when
    it expires the connection is closed, since a half-read frame cannot be resumed.
    """

    def __init__(self, socket_path: str | os.PathLike[str] | None = None, timeout: float | None = None) -> None:
        self.socket_path = Path(socket_path) if socket_path is not None else default_socket_path()
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._pending: dict[int, deque[Message]] = {}
        """Requests whose replies we wait for, with frames read while serving another request."""

    def connect(self) -> None:
        """Open the socket now rather than on the first request."""
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.socket_path))
        except OSError as exc:
            sock.close()
            raise connect_error(self.socket_path, exc) from None
        self._sock = sock

    def close(self) -> None:
        """Hang up; the daemon cancels whatever this connection still had running."""
        self._drop_connection()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------

    def hello(self, client: str = CLIENT_NAME) -> Message:
        """Exchange versions; the reply names the default voice, formats and text limit."""
        return self._call("hello", client=client, protocol=PROTOCOL_VERSION)

    def ping(self) -> Message:
        """Round trip to check the daemon is alive."""
        return self._call("ping")

    def voices(self, language: str | None = None) -> list[Message]:
        """Installed voices, optionally only those of one language."""
        fields = {} if language is None else {"language": language}
        voices: list[Message] = self._call("voices", **fields)["voices"]
        return voices

    def metrics(self) -> Message:
        """Each metrics plugin's figures (``{"plugins": {name: {...}}}``)."""
        return self._call("metrics")

    def reload(self) -> Message:
        """Ask the daemon to re-read its configuration (root or the daemon's own user only)."""
        return self._call("reload")

    def status(self) -> Message:
        """The daemon's status map (pid, uptime, loaded voices...)."""
        return self._call("status")

    def normalize(self, text: str, voice: str | None = None) -> Message:
        """What the daemon would actually speak: normalized ``text`` and its ``phonemes``."""
        fields: dict[str, Any] = {"text": text}
        if voice is not None:
            fields["voice"] = voice
        return self._call("normalize", **fields)

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
    ) -> SynthesisResult:
        """Start speaking ``text``; unset options take the daemon's defaults.

        ``extra`` passes fields of later protocol versions through unchanged.
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
        return SynthesisResult(self, self._start("synthesize", fields))

    def char(self, fields: dict[str, Any]) -> SynthesisResult:
        """Read one character (``char``) or key name (``key``) as a screen reader does.

        ``fields`` holds ``char`` or ``key`` plus any ``synthesize`` options (voice, format,
        speed...); the reply stream is the same as for :meth:`synthesize`.
        """
        return SynthesisResult(self, self._start("char", fields))

    def speak_to_file(
        self,
        text: str,
        target: PathOrFile,
        format: str | None = None,
        progress: ProgressCallback | None = None,
        keep_cancelled: bool = True,
        **options: Any,
    ) -> SynthesisResult:
        """Synthesize into a file; the daemon never touches files, so the client writes it.

        ``format`` defaults to the path's extension, else ``wav``. A path gets the audio
        once it is complete; if the request fails, the path is left as it was (see
        :class:`AudioFile`). A file object is written from its current position and left
        open, and gets its WAV sizes fixed only if it is readable and the audio starts it.
        A cancelled request keeps what arrived, unless ``keep_cancelled`` is false: then it
        is treated as a failure. Returns the finished result (``end``, ``cancelled``...).
        """
        fmt = output_format(target, format)
        out = AudioFile(target, fmt)
        try:
            result = self.synthesize(text, format=fmt, **options)
            with result:
                for chunk in result:
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

    def cancel(self, target: int | SynthesisState) -> None:
        """Ask the daemon to stop a request; safe to call from another thread.

        It only sends: the ``ok`` reply is read and discarded by whoever reads next, and
        the target then ends with ``cancelled`` (or its normal end, if that won the race).
        """
        target_id = target.id if isinstance(target, SynthesisState) else target
        if self._sock is None:
            return  # nothing can be in flight without a connection
        self._send({"op": "cancel", "id": next(self._ids), "target": target_id})

    # -- plumbing ---------------------------------------------------------------------

    def _call(self, op: str, **fields: Any) -> Message:
        reused = self._sock is not None
        try:
            return self._call_once(op, fields)
        except LitettsError as exc:
            # A kept-open connection (``litetts top``, the Prometheus exporter) may have been
            # closed by the daemon's idle_timeout since its last use: a question that changes
            # nothing is asked once more, on a fresh connection.
            if not (reused and exc.code == ErrorCode.CONNECTION.value and op in _SAFE_TO_REPEAT):
                raise
            return self._call_once(op, fields)

    def _call_once(self, op: str, fields: dict[str, Any]) -> Message:
        request_id = self._start(op, fields)
        try:
            return raise_for_error(self._next_reply(request_id))
        finally:
            self._forget(request_id)

    def _start(self, op: str, fields: dict[str, Any]) -> int:
        """Send a request whose replies we will read; returns its id.

        A kept-open connection the daemon has closed since its last use (a restart, its
        ``idle_timeout``) fails the write: the request never reached it, so whatever it is,
        it is sent once more on a fresh connection.
        """
        reused = self._sock is not None
        self.connect()
        request_id = next(self._ids)
        message = {"op": op, "id": request_id, **fields}
        try:
            self._pending[request_id] = deque()
            try:
                self._send(message)
            except LitettsError as exc:
                if not (reused and exc.code == ErrorCode.CONNECTION.value):
                    raise
                self.connect()
                self._pending[request_id] = deque()
                self._send(message)
        except BaseException:
            self._forget(request_id)
            raise
        return request_id

    def _forget(self, request_id: int) -> None:
        self._pending.pop(request_id, None)

    def _send(self, message: Message) -> None:
        frame = encode_frame(message)
        with self._send_lock:
            sock = self._sock
            if sock is None:
                raise LitettsError(ErrorCode.CONNECTION, "not connected to litettsd")
            try:
                sock.sendall(frame)
            except OSError as exc:
                parting = _parting_error(sock)
                self._drop_connection()
                if parting is not None:
                    raise_for_error(parting)
                raise LitettsError(ErrorCode.CONNECTION, f"lost the connection to litettsd: {exc}") from None

    def _next_reply(self, request_id: int) -> Message:
        """Read until a frame for ``request_id`` comes, keeping other requests' frames."""
        queue = self._pending.get(request_id)
        if queue is None:
            raise LitettsError(ErrorCode.CONNECTION, "the connection to litettsd was lost before the reply came")
        if queue:
            return queue.popleft()
        while True:
            frame = self._recv()
            reply_to = frame.get("id")
            if reply_to == request_id:
                return frame
            if is_connection_error(frame):
                raise_for_error(frame)  # whoever is reading hears it
            other = self._pending.get(reply_to) if isinstance(reply_to, int) else None
            if other is not None:
                other.append(frame)
            # else: the ack of a cancel, or a reply to a request abandoned with close()

    def _recv(self) -> Message:
        sock = self._sock
        if sock is None:
            raise LitettsError(ErrorCode.CONNECTION, "not connected to litettsd")
        try:
            frame = recv_frame(sock, MAX_REPLY_FRAME, ErrorCode.CONNECTION)
        except TimeoutError:
            self._drop_connection()
            raise LitettsError(
                ErrorCode.TIMEOUT, f"litettsd sent nothing for {self.timeout} s; connection closed"
            ) from None
        except ProtocolError:
            self._drop_connection()
            raise
        except OSError as exc:
            self._drop_connection()
            raise LitettsError(ErrorCode.CONNECTION, f"lost the connection to litettsd: {exc}") from None
        except BaseException:
            self._drop_connection()  # e.g. Ctrl-C inside a frame: the stream position is lost
            raise
        if frame is None:
            self._drop_connection()
            raise LitettsError(ErrorCode.CONNECTION, "litettsd closed the connection")
        return frame

    def _drop_connection(self) -> None:
        sock, self._sock = self._sock, None
        self._pending.clear()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already disconnected
            sock.close()
