"""The wire codec: framing, decoding and its failure modes, without a daemon."""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest

from litettsd_client.protocol import (
    ErrorCode,
    FrameDecoder,
    LitettsError,
    ProtocolError,
    encode_frame,
    raise_for_error,
    read_frame,
    recv_frame,
)

MESSAGES: list[dict[str, Any]] = [
    {"op": "hello", "id": 1, "client": "test", "protocol": 1},
    {"op": "ping", "id": 2},
    {"type": "pong", "id": 2},
    {"op": "synthesize", "id": 3, "text": "Grüße, 世界! 🎉", "voice": "piper:en_US-joe-medium", "speed": 1.25},
    {"type": "start", "id": 3, "sample_rate": 22050, "channels": 1, "format": "pcm", "voice": "piper:x"},
    {"type": "audio", "id": 3, "seq": 0, "data": bytes(range(256)) * 40},
    {"type": "audio", "id": 3, "seq": 1, "data": b""},
    {"type": "mark", "id": 3, "name": "m1", "offset": 1234},
    {"type": "end", "id": 3, "samples": 22050, "duration": 1.0, "synth_seconds": 0.05, "cached": False},
    {"type": "error", "id": 4, "code": "unknown_voice", "message": "no voice named 'x'"},
    {
        "type": "voices",
        "id": 5,
        "voices": [
            {"id": "piper:en_US-joe-medium", "language": "en-US", "sample_rate": 22050, "extra": {"q": [1, 2.5, None]}},
        ],
    },
    {"type": "status", "id": 6, "pid": 42, "nested": {"deeper": {"list": [True, False, -1, 2**40]}}},
    {},
]


def _stream() -> bytes:
    return b"".join(encode_frame(message) for message in MESSAGES)


@pytest.mark.parametrize("message", MESSAGES)
def test_round_trip_keeps_every_shape(message: dict[str, Any]) -> None:
    assert FrameDecoder().feed(encode_frame(message)) == [message]


def test_audio_data_stays_binary() -> None:
    frame = encode_frame({"type": "audio", "id": 1, "seq": 0, "data": b"\x00\xff"})
    (decoded,) = FrameDecoder().feed(frame)
    assert type(decoded["data"]) is bytes


def test_decoder_fed_byte_by_byte() -> None:
    decoder = FrameDecoder()
    decoded = []
    for byte in _stream():
        decoded += decoder.feed(bytes([byte]))
    assert decoded == MESSAGES
    assert decoder.pending == 0


@pytest.mark.parametrize("seed", range(20))
def test_decoder_fed_random_splits(seed: int) -> None:
    data = _stream()
    rng = random.Random(seed)
    decoder = FrameDecoder()
    decoded = []
    position = 0
    while position < len(data):
        step = rng.randint(1, 700)
        decoded += decoder.feed(data[position : position + step])
        position += step
    assert decoded == MESSAGES
    assert decoder.pending == 0


def test_decoder_keeps_a_partial_frame_pending() -> None:
    frame = encode_frame({"op": "ping", "id": 1})
    decoder = FrameDecoder()
    assert decoder.feed(frame[:-1]) == []
    assert decoder.pending == len(frame) - 1
    assert decoder.feed(frame[-1:]) == [{"op": "ping", "id": 1}]


def test_decoder_refuses_oversized_length_from_the_header_alone() -> None:
    with pytest.raises(ProtocolError) as caught:
        FrameDecoder(max_frame=1024).feed(struct.pack(">I", 1025))
    assert caught.value.code == ErrorCode.FRAME_TOO_LARGE.value


BAD_PAYLOADS = {
    "bad msgpack": b"\xc1",
    "truncated msgpack": msgpack.packb({"op": "ping", "id": 1})[:-1],
    "trailing bytes": msgpack.packb({"op": "ping"}) + b"\x00",
    "a list": msgpack.packb(["op", "ping"]),
    "a string": msgpack.packb("ping"),
    "int keys": msgpack.packb({1: "ping"}),
    "bytes keys": msgpack.packb({b"op": "ping"}, use_bin_type=True),
}


@pytest.mark.parametrize("payload", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
def test_undecodable_payloads_are_bad_requests(payload: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        FrameDecoder().feed(struct.pack(">I", len(payload)) + payload)
    assert caught.value.code == ErrorCode.BAD_REQUEST.value
    assert not caught.value.message.rstrip().endswith(":"), caught.value.message  # it says what is wrong


def test_protocol_errors_are_litetts_errors() -> None:
    assert issubclass(ProtocolError, LitettsError)


def test_raise_for_error() -> None:
    assert raise_for_error({"type": "pong", "id": 1}) == {"type": "pong", "id": 1}
    with pytest.raises(LitettsError) as caught:
        raise_for_error({"type": "error", "id": 1, "code": "unknown_voice", "message": "nope"})
    assert (caught.value.code, caught.value.message) == ("unknown_voice", "nope")


# -- asyncio StreamReader -------------------------------------------------------------


def _read_all(pieces: list[bytes], eof: bool = True, max_frame: int | None = None) -> list[Any]:
    """Feed ``pieces`` into a StreamReader from a task while read_frame consumes them."""

    async def scenario() -> list[Any]:
        reader = asyncio.StreamReader()

        async def feeder() -> None:
            for piece in pieces:
                reader.feed_data(piece)
                await asyncio.sleep(0)
            if eof:
                reader.feed_eof()

        task = asyncio.create_task(feeder())
        results: list[Any] = []
        try:
            while (message := await read_frame(reader, max_frame)) is not None:
                results.append(message)
            results.append(None)
        finally:
            await task
        return results

    return asyncio.run(scenario())


def test_read_frame_from_partial_pieces() -> None:
    data = _stream()
    pieces = [data[i : i + 3] for i in range(0, len(data), 3)]
    assert _read_all(pieces) == [*MESSAGES, None]


def test_read_frame_eof_between_frames_is_none() -> None:
    assert _read_all([encode_frame({"op": "ping", "id": 1})]) == [{"op": "ping", "id": 1}, None]
    assert _read_all([]) == [None]


@pytest.mark.parametrize("cut", [1, 3, 4, 5, -1])
def test_read_frame_eof_inside_a_frame_raises(cut: int) -> None:
    frame = encode_frame({"op": "ping", "id": 1})
    with pytest.raises(ProtocolError):
        _read_all([frame[:cut]])


def test_read_frame_refuses_oversized_length_before_the_body() -> None:
    # Only the header is ever sent and no EOF comes: the limit must fire without waiting for a body.
    async def scenario() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(struct.pack(">I", 10_000_000))
        await asyncio.wait_for(read_frame(reader, max_frame=1024), timeout=5)

    with pytest.raises(ProtocolError) as caught:
        asyncio.run(scenario())
    assert caught.value.code == ErrorCode.FRAME_TOO_LARGE.value


def test_read_frame_bad_payload() -> None:
    payload = msgpack.packb([1, 2, 3])
    with pytest.raises(ProtocolError) as caught:
        _read_all([struct.pack(">I", len(payload)) + payload])
    assert caught.value.code == ErrorCode.BAD_REQUEST.value


# -- blocking sockets -----------------------------------------------------------------


def test_recv_frame_over_a_socketpair() -> None:
    left, right = socket.socketpair()
    with left, right:
        right.settimeout(10)
        data = _stream()
        for i in range(0, len(data), 1000):  # several sends, so frames straddle recv() calls
            left.sendall(data[i : i + 1000])
        left.shutdown(socket.SHUT_WR)
        received = []
        while (message := recv_frame(right)) is not None:
            received.append(message)
        assert received == MESSAGES


def test_recv_frame_eof_inside_a_frame_raises() -> None:
    left, right = socket.socketpair()
    with left, right:
        right.settimeout(10)
        left.sendall(encode_frame({"op": "ping", "id": 1})[:-2])
        left.shutdown(socket.SHUT_WR)
        with pytest.raises(ProtocolError):
            recv_frame(right)


def test_recv_frame_refuses_oversized_length() -> None:
    left, right = socket.socketpair()
    with left, right:
        right.settimeout(10)
        left.sendall(struct.pack(">I", 10_000_000))
        with pytest.raises(ProtocolError) as caught:
            recv_frame(right, max_frame=1024)
        assert caught.value.code == ErrorCode.FRAME_TOO_LARGE.value


def test_blocking_client_never_imports_asyncio() -> None:
    """``litetts say`` starts a process per call; asyncio would add about 25 ms to each."""
    probe = "import sys, litettsd_client.cli, litettsd_client.client; print('asyncio' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"


# -- CLI without a daemon -------------------------------------------------------------


def _litetts() -> str:
    return str(Path(sys.executable).with_name("litetts"))


@pytest.mark.parametrize("command", [["status"], ["voices"], ["say", "hello", "-o", "x.wav"], ["normalize", "hi"]])
def test_cli_without_daemon_prints_one_line(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "nowhere" / "litettsd.sock"
    done = subprocess.run(
        [_litetts(), "--socket", str(missing), *command],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(missing) in lines[0]
    assert "litettsd" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "x.wav").exists()


def test_cli_uses_the_socket_environment_variable(tmp_path: Path) -> None:
    missing = tmp_path / "env.sock"
    done = subprocess.run(
        [_litetts(), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "LITETTSD_SOCKET": str(missing)},
    )
    assert done.returncode == 1
    assert str(missing) in done.stderr


def test_cli_refused_connection_hints_at_starting_the_daemon(tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: ECONNREFUSED, like after a crash
    done = subprocess.run([_litetts(), "--socket", str(path), "status"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "start it with `litettsd`" in done.stderr
