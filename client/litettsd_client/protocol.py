"""Wire protocol v1: length-prefixed msgpack maps over a Unix stream socket.

Each frame is a 4-byte unsigned big-endian length N followed by N bytes holding one
msgpack map with string keys. This module is the only codec: the daemon, the clients,
the CLI and the speech-dispatcher bridge all frame and parse through it, so they cannot
disagree. A frame that cannot be decoded raises :class:`ProtocolError`; it never looks
like the end of the stream (only EOF exactly between frames does).
"""

from __future__ import annotations

import socket
import struct
from enum import Enum
from typing import TYPE_CHECKING, Any

import msgpack

if TYPE_CHECKING:  # the blocking client, the CLI and the daemon's start-up never import asyncio for this
    import asyncio

PROTOCOL_VERSION = 1
DEFAULT_MAX_FRAME = 1024 * 1024
"""Largest client frame the daemon accepts by default (1 MiB)."""

_HEADER = struct.Struct(">I")
HEADER_SIZE = _HEADER.size

Message = dict[str, Any]


class ErrorCode(str, Enum):
    """Error codes carried by ``{type: "error"}`` replies."""

    BAD_REQUEST = "bad_request"
    UNKNOWN_OP = "unknown_op"
    UNKNOWN_VOICE = "unknown_voice"
    UNSUPPORTED_FORMAT = "unsupported_format"
    INVALID_VALUE = "invalid_value"
    TEXT_TOO_LONG = "text_too_long"
    FRAME_TOO_LARGE = "frame_too_large"
    OVERLOADED = "overloaded"
    TIMEOUT = "timeout"
    PERMISSION_DENIED = "permission_denied"
    INTERNAL = "internal"
    SSML_ERROR = "ssml_error"
    """SSML refused (DTD, entities, nesting) or, with ``ssml_strict``, malformed."""
    CONNECTION = "connection"
    """Client side only: the daemon could not be reached or hung up."""


class LitettsError(Exception):
    """Any failure reported by, or talking to, litettsd; ``code`` is an :class:`ErrorCode` value."""

    def __init__(self, code: str | ErrorCode, message: str) -> None:
        self.code = code.value if isinstance(code, ErrorCode) else str(code)
        self.message = message
        super().__init__(f"{self.code}: {message}")


class ProtocolError(LitettsError):
    """A frame broke the framing or encoding rules; the connection cannot continue."""


def encode_frame(message: Message) -> bytes:
    """Serialize one message into a complete frame."""
    payload = msgpack.packb(message, use_bin_type=True)
    return _HEADER.pack(len(payload)) + payload


def decode_payload(payload: bytes) -> Message:
    """Parse a frame body; anything but a map with string keys is a protocol error."""
    try:
        message = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        # Some msgpack errors carry no text ("undecodable frame: " told nobody anything).
        why = str(exc) or type(exc).__name__
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"undecodable frame: {why}") from None
    if not isinstance(message, dict) or not all(isinstance(k, str) for k in message):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame is not a msgpack map with string keys")
    return message


def check_length(length: int, max_frame: int | None) -> None:
    """Refuse a frame before reading its body, so a huge length costs no memory."""
    if max_frame is not None and length > max_frame:
        raise ProtocolError(
            ErrorCode.FRAME_TOO_LARGE, f"frame of {length} bytes exceeds the limit of {max_frame}"
        )


class FrameDecoder:
    """Incremental decoder for byte streams that arrive in arbitrary pieces."""

    def __init__(self, max_frame: int | None = None) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; return every message now complete, in order."""
        self._buffer += data
        messages = []
        while len(self._buffer) >= HEADER_SIZE:
            (length,) = _HEADER.unpack_from(self._buffer)
            check_length(length, self._max_frame)
            end = HEADER_SIZE + length
            if len(self._buffer) < end:
                break
            messages.append(decode_payload(bytes(self._buffer[HEADER_SIZE:end])))
            del self._buffer[:end]
        return messages

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return len(self._buffer)


async def read_frame(
    reader: asyncio.StreamReader, max_frame: int | None = None, truncated: ErrorCode = ErrorCode.BAD_REQUEST
) -> Message | None:
    """Read one message; ``None`` only for EOF exactly between frames.

    A peer that hangs up inside a frame raises ``truncated``: ``bad_request`` for the
    daemon reading a client, ``connection`` for a client reading the daemon.
    """
    try:
        header = await reader.readexactly(HEADER_SIZE)
    except EOFError as exc:  # asyncio.IncompleteReadError, caught by its base class (see the imports)
        if not getattr(exc, "partial", b""):
            return None
        raise ProtocolError(truncated, "connection closed inside a frame header") from None
    (length,) = _HEADER.unpack(header)
    check_length(length, max_frame)
    try:
        payload = await reader.readexactly(length)
    except EOFError:
        raise ProtocolError(truncated, "connection closed inside a frame") from None
    return decode_payload(payload)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(
    sock: socket.socket, max_frame: int | None = None, truncated: ErrorCode = ErrorCode.BAD_REQUEST
) -> Message | None:
    """Blocking twin of :func:`read_frame` for plain sockets."""
    header = _recv_exactly(sock, HEADER_SIZE)
    if not header:
        return None
    if len(header) < HEADER_SIZE:
        raise ProtocolError(truncated, "connection closed inside a frame header")
    (length,) = _HEADER.unpack(header)
    check_length(length, max_frame)
    payload = _recv_exactly(sock, length)
    if len(payload) < length:
        raise ProtocolError(truncated, "connection closed inside a frame")
    return decode_payload(payload)


def raise_for_error(message: Message) -> Message:
    """Turn an ``error`` reply into :class:`LitettsError`; pass anything else through."""
    if message.get("type") == "error":
        raise LitettsError(str(message.get("code", ErrorCode.INTERNAL.value)), str(message.get("message", "")))
    return message
