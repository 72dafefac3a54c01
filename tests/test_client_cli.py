"""Sync and async clients and the ``litetts`` CLI.

The first part runs the clients against a small scripted stand-in for the daemon, to
provoke what the real one rarely does (sequence gaps, hangups mid-stream, unknown
frame types). The second part uses the real daemon through the ``daemon`` fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf

from litettsd_client import AsyncClient, Client, LitettsError
from litettsd_client.protocol import ProtocolError, encode_frame, recv_frame

Message = dict[str, Any]
LITETTS = str(Path(sys.executable).with_name("litetts"))


def chunk_for(request_id: int, seq: int) -> bytes:
    """Audio bytes that say which request and position they belong to."""
    return f"<{request_id}:{seq}>".encode()


class FakeDaemon:
    """Protocol v1 stand-in: ``synthesize`` streams ``frames`` tagged chunks, honouring ``cancel``.

    Test knobs ride in as extra request fields: ``frames``, ``delay`` (seconds between
    audio frames), ``gap`` (skip seq 1), ``hangup_after`` (close the socket after that
    many audio frames). Voice ``nope`` gets an ``unknown_voice`` error.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[Message] = []
        self._connections: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def stop(self) -> None:
        """Go away as a daemon that exits does: stop listening and hang up on every client."""
        self.close()
        self.path.unlink()
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        lock = threading.Lock()
        cancels: dict[int, threading.Event] = {}

        def send(message: Message) -> None:
            with lock:
                conn.sendall(encode_frame(message))

        try:
            while (request := recv_frame(conn, max_frame=4096)) is not None:
                self.requests.append(request)
                op, rid = request["op"], request["id"]
                if op == "ping":
                    send({"type": "pong", "id": rid})
                elif op == "status":
                    send({"type": "status", "id": rid, "pid": 4242, "voices_loaded": ["a", "b"], "m": {"x": 1}})
                elif op == "cancel":
                    event = cancels.get(request["target"])
                    if event is not None:
                        event.set()
                    send({"type": "ok", "id": rid})
                elif op == "synthesize":
                    cancels[rid] = threading.Event()
                    args = (conn, request, send, cancels[rid])
                    threading.Thread(target=self._stream, args=args, daemon=True).start()
                else:
                    send({"type": "error", "id": rid, "code": "unknown_op", "message": op})
        except ProtocolError as exc:  # like litettsd: say why on id 0, then hang up
            send({"type": "error", "id": 0, "code": exc.code, "message": exc.message})
            conn.close()
        except OSError:
            pass

    def _stream(
        self, conn: socket.socket, request: Message, send: Callable[[Message], None], cancelled: threading.Event
    ) -> None:
        rid = request["id"]
        try:
            if request.get("voice") == "nope":
                send({"type": "error", "id": rid, "code": "unknown_voice", "message": "no voice nope"})
                return
            fmt = request.get("format", "pcm")
            send({"type": "start", "id": rid, "sample_rate": 16000, "channels": 1, "format": fmt, "voice": "v"})
            for seq in range(request.get("frames", 5)):
                if cancelled.wait(request.get("delay", 0.001)):
                    send({"type": "cancelled", "id": rid})
                    return
                if seq == request.get("hangup_after"):
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                if seq == request.get("truncate_after"):  # half a frame, then gone
                    conn.sendall(encode_frame({"type": "audio", "id": rid, "seq": seq, "data": b"x" * 64})[:40])
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                if not (request.get("gap") and seq == 1):
                    send({"type": "audio", "id": rid, "seq": seq, "data": chunk_for(rid, seq)})
                if seq == 1:
                    send({"type": "mark", "id": rid, "name": "m", "offset": 7})
                    send({"type": "from_the_future", "id": rid, "x": 1})
            send({"type": "end", "id": rid, "samples": 5, "duration": 0.1, "synth_seconds": 0.01, "cached": False})
        except OSError:
            pass


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDaemon]:
    daemon = FakeDaemon(tmp_path / "fake.sock")
    yield daemon
    daemon.close()


def test_sync_synthesis_streams_in_order(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=10) as client:
        result = client.synthesize("hi", voice="v", speed=1.5, frames=4)
        chunks = list(result)
    assert chunks == [chunk_for(result.id, seq) for seq in range(4)]
    assert result.start is not None and result.start["sample_rate"] == 16000
    assert result.end is not None and result.end["samples"] == 5
    assert [m["name"] for m in result.marks] == ["m"]
    assert [e["type"] for e in result.events] == ["from_the_future"]
    assert not result.cancelled
    request = fake.requests[0]
    assert request["id"] == 1 and request["speed"] == 1.5 and "volume" not in request


def test_sync_ids_count_from_one(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=10) as client:
        client.ping()
        client.ping()
    assert [r["id"] for r in fake.requests] == [1, 2]


def test_sync_other_requests_while_a_synthesis_is_half_read(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=10) as client:
        result = client.synthesize("hi", frames=6)
        first = next(result)
        assert client.ping()["type"] == "pong"  # reads on past the synthesis' frames, keeping them
        assert client.status()["pid"] == 4242
        rest = list(result)
    assert [first, *rest] == [chunk_for(result.id, seq) for seq in range(6)]
    assert result.end is not None


def test_sync_cancel_from_another_thread(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=10) as client:
        result = client.synthesize("long", frames=10_000, delay=0.005)
        received = []
        for chunk in result:
            received.append(chunk)
            if len(received) == 3:
                threading.Thread(target=client.cancel, args=(result,)).start()
        assert result.cancelled and result.end is None
        assert 3 <= len(received) < 10_000
        assert client.ping()["type"] == "pong"  # the cancel's ok was read and dropped


def test_sync_error_reply_raises(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=10) as client:
        with pytest.raises(LitettsError) as caught:
            list(client.synthesize("hi", voice="nope"))
        assert caught.value.code == "unknown_voice"
        assert client.ping()["type"] == "pong"


def test_sync_sequence_gap_is_a_protocol_error(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=10) as client:
        with pytest.raises(ProtocolError):
            list(client.synthesize("hi", gap=True))


def test_sync_hangup_mid_stream_is_a_connection_error(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=10) as client:
        result = client.synthesize("hi", frames=5, hangup_after=2)
        with pytest.raises(LitettsError) as caught:
            list(result)
        assert caught.value.code == "connection"
        assert client.ping()["type"] == "pong"  # a new request reconnects


def test_daemon_hanging_up_inside_a_frame_is_a_connection_error(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=10) as client:
        with pytest.raises(LitettsError) as caught:
            list(client.synthesize("hi", frames=5, truncate_after=1))
        assert caught.value.code == "connection" and "inside a frame" in caught.value.message

    async def scenario() -> None:
        async with AsyncClient(fake.path, timeout=10) as client:
            with pytest.raises(LitettsError) as caught:
                async for _ in client.synthesize("hi", frames=5, truncate_after=1):
                    pass
            assert caught.value.code == "connection"

    asyncio.run(scenario())


def test_sync_connection_level_error_reaches_the_reader(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=10) as client:
        with pytest.raises(LitettsError) as caught:
            list(client.synthesize("x" * 10_000))
        assert caught.value.code == "frame_too_large"


def test_async_connection_level_error_reaches_every_request(fake: FakeDaemon) -> None:
    async def scenario() -> None:
        async with AsyncClient(fake.path, timeout=10) as client:
            waiting = client.synthesize("hi", frames=10_000, delay=0.01)
            huge = client.synthesize("x" * 10_000)
            for result in (huge, waiting):
                with pytest.raises(LitettsError) as caught:
                    await result.read()
                assert caught.value.code == "frame_too_large"

    asyncio.run(scenario())


def test_sync_timeout(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=0.2) as client:
        with pytest.raises(LitettsError) as caught:
            list(client.synthesize("slow", frames=3, delay=5))
        assert caught.value.code == "timeout"


def test_unknown_op_error_from_daemon(fake: FakeDaemon) -> None:
    with Client(fake.path, timeout=10) as client:
        with pytest.raises(LitettsError) as caught:
            client.normalize("x")
        assert caught.value.code == "unknown_op"


def test_speak_to_file_removes_the_file_on_error(fake: FakeDaemon, tmp_path: Path) -> None:
    target = tmp_path / "out.pcm"
    with Client(fake.path, timeout=10) as client:
        with pytest.raises(LitettsError):
            client.speak_to_file("hi", target, voice="nope")
    assert not target.exists()


def test_speak_to_file_failure_leaves_an_existing_file_as_it_was(fake: FakeDaemon, tmp_path: Path) -> None:
    target = tmp_path / "keep.wav"
    target.write_bytes(b"precious")
    target.chmod(0o640)
    with Client(fake.path, timeout=10) as client:
        with pytest.raises(LitettsError):
            client.speak_to_file("hi", target, voice="nope")
        assert target.read_bytes() == b"precious"
        assert not list(tmp_path.glob(".keep.wav*"))  # no partial file left behind
        client.speak_to_file("hi", target, format="pcm", frames=2)
    assert target.read_bytes().startswith(b"<") and (target.stat().st_mode & 0o777) == 0o640


def test_speak_to_file_writes_pipes_in_place_and_never_removes_them(fake: FakeDaemon, tmp_path: Path) -> None:
    fifo = tmp_path / "audio.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read_all() -> None:
        with open(fifo, "rb") as reader:
            received.append(reader.read())

    for voice, fails in ((None, False), ("nope", True)):
        reader = threading.Thread(target=read_all)
        reader.start()
        with Client(fake.path, timeout=10) as client:
            if fails:
                with pytest.raises(LitettsError):
                    client.speak_to_file("hi", fifo, format="pcm", voice=voice)
            else:
                client.speak_to_file("hi", fifo, format="pcm", frames=2)
        reader.join(10)
        assert fifo.is_fifo()
    assert received[0].startswith(b"<") and received[1] == b""


def test_speak_to_file_format_from_extension_and_progress(fake: FakeDaemon, tmp_path: Path) -> None:
    seen: list[int] = []
    with Client(fake.path, timeout=10) as client:
        result = client.speak_to_file("hi", tmp_path / "out.pcm", progress=lambda s: seen.append(s.audio_bytes), frames=3)
    assert fake.requests[0]["format"] == "pcm"
    assert (tmp_path / "out.pcm").read_bytes() == b"".join(chunk_for(result.id, s) for s in range(3))
    assert len(seen) == 3 and seen[-1] == result.audio_bytes


def test_speak_to_file_object_is_left_open(fake: FakeDaemon) -> None:
    buffer = io.BytesIO(b"prefix")
    buffer.seek(0, io.SEEK_END)
    with Client(fake.path, timeout=10) as client:
        client.speak_to_file("hi", buffer, format="pcm", frames=2)
    assert not buffer.closed
    assert buffer.getvalue().startswith(b"prefix<")


def test_speak_to_file_fixes_streamed_wav_sizes(tmp_path: Path) -> None:
    # A stand-in that sends a streamed WAV header (unknown sizes) and then samples.
    header = b"RIFF\xff\xff\xff\xffWAVEfmt " + (16).to_bytes(4, "little")
    header += bytes.fromhex("0100 0100 803e0000 007d0000 0200 1000") + b"data\xff\xff\xff\xff"
    samples = bytes(3200)
    path = tmp_path / "wav.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            request = recv_frame(conn)
            assert request is not None and request["format"] == "wav"
            rid = request["id"]
            conn.sendall(encode_frame({"type": "start", "id": rid, "sample_rate": 16000, "channels": 1, "format": "wav"}))
            conn.sendall(encode_frame({"type": "audio", "id": rid, "seq": 0, "data": header}))
            conn.sendall(encode_frame({"type": "audio", "id": rid, "seq": 1, "data": samples}))
            conn.sendall(encode_frame({"type": "end", "id": rid, "samples": 1600, "duration": 0.1}))

    server = threading.Thread(target=serve)
    server.start()
    with Client(path, timeout=10) as client:
        client.speak_to_file("hi", tmp_path / "out.wav")
    server.join()
    listener.close()
    data = (tmp_path / "out.wav").read_bytes()
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    assert int.from_bytes(data[40:44], "little") == len(samples)


def test_async_concurrent_syntheses_demultiplex(fake: FakeDaemon) -> None:
    async def scenario() -> None:
        async with AsyncClient(fake.path, timeout=10) as client:
            results = [client.synthesize("hi", frames=20 + i, delay=0.002) for i in range(3)]
            chunks = await asyncio.gather(*(result.read() for result in results))
            for i, (result, audio) in enumerate(zip(results, chunks)):
                assert audio == b"".join(chunk_for(result.id, seq) for seq in range(20 + i))
                assert result.end is not None and [m["name"] for m in result.marks] == ["m"]
            assert len({r.id for r in results}) == 3

    asyncio.run(scenario())


def test_async_cancel_and_errors(fake: FakeDaemon) -> None:
    async def scenario() -> None:
        async with AsyncClient(fake.path, timeout=10) as client:
            long = client.synthesize("long", frames=10_000, delay=0.005)
            bad = client.synthesize("bad", voice="nope")
            first = await long.__anext__()
            assert first == chunk_for(long.id, 0)
            await client.cancel(long)
            rest = [chunk async for chunk in long]
            assert long.cancelled and len(rest) < 10_000
            with pytest.raises(LitettsError) as caught:
                await bad.read()
            assert caught.value.code == "unknown_voice"
            assert (await client.ping())["type"] == "pong"

    asyncio.run(scenario())


def test_async_hangup_fails_every_request(fake: FakeDaemon) -> None:
    async def scenario() -> None:
        async with AsyncClient(fake.path, timeout=10) as client:
            doomed = client.synthesize("hi", frames=5, hangup_after=2, delay=0.01)
            other = client.synthesize("hi", frames=10_000, delay=0.01)
            for result in (doomed, other):
                with pytest.raises(LitettsError) as caught:
                    await result.read()
                assert caught.value.code == "connection"
            # What failed is not sent again, but the next request opens a new connection.
            assert await client.synthesize("hi", frames=2).read() == b"".join(chunk_for(3, seq) for seq in range(2))
            assert (await client.ping())["type"] == "pong"
            assert [r["op"] for r in fake.requests] == ["synthesize", "synthesize", "synthesize", "ping"]

    asyncio.run(scenario())


def test_async_reconnects_once_for_concurrent_questions_and_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "restarting.sock"

    async def scenario() -> None:
        daemon = FakeDaemon(path)
        client = AsyncClient(path, timeout=10)
        await client.connect()
        doomed = client.synthesize("hi", frames=5, hangup_after=1, delay=0.01)
        with pytest.raises(LitettsError):
            await doomed.read()  # the fake hangs up: the connection is gone
        replies = await asyncio.gather(client.ping(), client.status(), client.ping())
        assert [reply["type"] for reply in replies] == ["pong", "status", "pong"]
        assert len([task for task in asyncio.all_tasks() if task.get_name() == "litettsd-client-reader"]) == 1
        # The daemon goes away: a question fails plainly, and works again once it is back.
        daemon.close()
        path.unlink()
        doomed = client.synthesize("hi", frames=5, hangup_after=1, delay=0.01)
        with pytest.raises(LitettsError):
            await doomed.read()
        for _ in range(2):
            with pytest.raises(LitettsError) as caught:
                await client.ping()
            assert "cannot connect" in caught.value.message
        daemon = FakeDaemon(path)
        assert (await client.ping())["type"] == "pong"
        # close() made while a reconnect is under way wins over it.
        client.synthesize("hi", frames=5, hangup_after=1, delay=0.01)
        await asyncio.sleep(0.2)  # hung up again
        asking = asyncio.create_task(client.ping())
        await asyncio.sleep(0)
        await client.close()
        with pytest.raises(LitettsError):
            await asking
        with pytest.raises(LitettsError):
            await client.ping()
        assert not [task for task in asyncio.all_tasks() if task.get_name() == "litettsd-client-reader"]
        daemon.close()

    asyncio.run(scenario())


def test_speech_after_a_daemon_restart_goes_out_on_a_new_connection(tmp_path: Path) -> None:
    # The write into the old connection fails, so the request never reached anyone: it is
    # sent again, once, on a new one. Before, the first request after a restart failed.
    path = tmp_path / "restarting.sock"
    first = FakeDaemon(path)
    with Client(path, timeout=10) as client:
        assert client.ping()["type"] == "pong"
        first.stop()
        time.sleep(0.1)
        second = FakeDaemon(path)
        result = client.synthesize("hi", frames=2)
        assert result.read() == b"".join(chunk_for(result.id, seq) for seq in range(2))
    assert [r["op"] for r in second.requests] == ["synthesize"]

    async def scenario() -> None:
        async with AsyncClient(path, timeout=10) as client:
            assert (await client.ping())["type"] == "pong"
            second.stop()
            await asyncio.sleep(0.1)
            third = FakeDaemon(path)
            result = client.synthesize("hi", frames=2)
            assert await result.read() == b"".join(chunk_for(result.id, seq) for seq in range(2))
            assert [r["op"] for r in third.requests] == ["synthesize"]

    asyncio.run(scenario())


def test_async_timeout_leaves_the_request_cancellable(fake: FakeDaemon) -> None:
    async def scenario() -> None:
        async with AsyncClient(fake.path, timeout=0.3) as client:
            slow = client.synthesize("slow", frames=3, delay=30)
            with pytest.raises(LitettsError) as caught:
                await slow.read()
            assert caught.value.code == "timeout" and not slow.done
            await slow.aclose()
            assert slow.done
            assert (await client.ping())["type"] == "pong"
        assert [r["op"] for r in fake.requests] == ["synthesize", "cancel", "ping"]
        assert fake.requests[1]["target"] == slow.id

    asyncio.run(scenario())


def test_async_needs_a_connection(fake: FakeDaemon) -> None:
    with pytest.raises(LitettsError) as caught:
        AsyncClient(fake.path).synthesize("hi")
    assert caught.value.code == "connection"


def _litetts(*args: str, socket_path: Path, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [LITETTS, "--socket", str(socket_path), *args], capture_output=True, timeout=300, **kwargs
    )


def test_cli_says_plainly_what_it_cannot_do(fake: FakeDaemon) -> None:
    # Each of these ended in a Python traceback before.
    latin1 = _litetts("say", "-o", "/dev/null", socket_path=fake.path, input=b"caf\xe9 au lait")
    assert latin1.returncode == 1
    assert latin1.stderr.decode().startswith("litetts: the text is not UTF-8 (byte 0xe9 at character 4)")
    assert b"Traceback" not in latin1.stderr
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [LITETTS, "--socket", str(fake.path), "say", "hi", "-f", "wav"], stdout=full, stderr=subprocess.PIPE, timeout=60
        )
    assert done.returncode == 1 and done.stderr == b"litetts: cannot write to standard output: No space left on device\n"
    with open("/dev/full", "wb") as full:
        done = subprocess.run([LITETTS, "--socket", str(fake.path), "status"], stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert done.returncode == 1 and done.stderr == b"litetts: No space left on device\n"
    # Audio is binary: a terminal gets a refusal, not noise.
    import pty

    asked = len(fake.requests)
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [LITETTS, "--socket", str(fake.path), "say", "hi", "-o", "-"], stdout=follower, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 1 and b"will not write audio to a terminal" in done.stderr
    assert len(fake.requests) == asked  # refused before anything was asked
    # MP3 data in a file named .wav plays nowhere
    mismatch = _litetts("say", "hi", "-f", "MP3", "-o", "out.wav", socket_path=fake.path)
    assert mismatch.returncode == 1 and mismatch.stderr == b"litetts: -f MP3 does not match out.wav; drop -f, or name the file .mp3\n"
    assert len(fake.requests) == asked


def test_cli_say_to_stdout_when_piped(fake: FakeDaemon) -> None:
    done = _litetts("say", "-", socket_path=fake.path, input=b"from stdin")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"".join(chunk_for(1, seq) for seq in range(5))
    assert fake.requests[0]["text"] == "from stdin" and "format" not in fake.requests[0]


def test_cli_daemon_error_is_one_line(fake: FakeDaemon) -> None:
    done = _litetts("say", "hi", "-v", "nope", socket_path=fake.path)
    assert done.returncode == 1
    assert done.stderr.decode().strip() == "litetts: unknown_voice: no voice nope"


def test_cli_say_reads_a_file_and_passes_ssml_and_pitch(fake: FakeDaemon, tmp_path: Path) -> None:
    (tmp_path / "chapter.txt").write_text("<speak>Chapter one.</speak>")
    done = _litetts("say", "-i", str(tmp_path / "chapter.txt"), "--ssml", "--pitch", "1.2", "-o", str(tmp_path / "c.pcm"),
                    socket_path=fake.path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    request = fake.requests[-1]
    assert (request["text"], request["ssml"], request["pitch"]) == ("<speak>Chapter one.</speak>", True, 1.2)
    plain = _litetts("say", "hi", "-o", str(tmp_path / "p.pcm"), socket_path=fake.path)
    assert plain.returncode == 0 and "ssml" not in fake.requests[-1] and "pitch" not in fake.requests[-1]
    missing = _litetts("say", "-i", str(tmp_path / "none.txt"), "-o", str(tmp_path / "n.pcm"), socket_path=fake.path)
    assert missing.returncode == 1 and missing.stderr.decode().startswith(f"litetts: cannot read {tmp_path / 'none.txt'}")


def test_cli_play_without_players(fake: FakeDaemon, tmp_path: Path) -> None:
    done = _litetts("say", "hi", "--play", socket_path=fake.path, env={"PATH": str(tmp_path)})
    assert done.returncode == 1
    assert b"no audio player found" in done.stderr
    assert fake.requests == []  # gave up before asking for audio


def test_cli_play_feeds_the_player(fake: FakeDaemon, tmp_path: Path) -> None:
    captured = tmp_path / "played.raw"
    player = tmp_path / "pw-play"  # first choice, so a real player on the machine cannot win
    player.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat > {captured}\n')
    player.chmod(0o755)
    done = _litetts("say", "hi", "--play", socket_path=fake.path, env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert captured.read_bytes() == b"".join(chunk_for(1, seq) for seq in range(5))
    assert (tmp_path / "args").read_text().split() == ["--format=s16", "--rate=16000", "--channels=1", "-"]
    assert fake.requests[0]["format"] == "pcm"


def test_cli_unwritable_output_is_one_line(fake: FakeDaemon, tmp_path: Path) -> None:
    done = _litetts("say", "hi", "-o", str(tmp_path / "missing" / "x.wav"), socket_path=fake.path)
    assert done.returncode == 1
    assert done.stderr.decode().strip() == f"litetts: cannot write {tmp_path / 'missing' / 'x.wav'}: No such file or directory"


def test_cli_status_flattens(fake: FakeDaemon) -> None:
    done = _litetts("status", socket_path=fake.path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == ["pid: 4242", "voices_loaded: a, b", "m.x: 1"]


# -- against the real daemon ----------------------------------------------------------

DEFAULT_VOICE = "piper:en_US-joe-medium"


def test_say_writes_a_wav(daemon: Any, tmp_path: Path) -> None:
    import soundfile

    done = _litetts("say", "Hello there", "-o", "out.wav", socket_path=daemon.socket, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Client(daemon.socket, timeout=120) as client:
        result = client.synthesize("Hello there", format="pcm")
        result.read()
        rate = result.sample_rate
    audio, file_rate = soundfile.read(tmp_path / "out.wav")
    assert file_rate == rate
    assert 0.3 < len(audio) / file_rate < 5


def test_say_writes_an_mp3(daemon: Any, tmp_path: Path) -> None:
    import soundfile

    done = _litetts("say", "Hello there", "-f", "mp3", "-o", "x.mp3", socket_path=daemon.socket, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = (tmp_path / "x.mp3").read_bytes()
    assert data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)
    audio, rate = soundfile.read(tmp_path / "x.mp3")
    assert len(audio) / rate > 0.3


def _terminal(columns: int) -> tuple[int, int]:
    """A pseudo-terminal ``columns`` wide: its controlling end, and the end a program writes to."""
    import fcntl
    import pty
    import struct
    import termios

    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    return master, terminal


@pytest.mark.parametrize("columns", [80, 50])
def test_say_to_a_file_draws_a_progress_bar_on_a_terminal(daemon: Any, tmp_path: Path, columns: int) -> None:
    import re

    sentences = [f"This is sentence number {n} of a document read to a file." for n in range(1, 9)]
    (tmp_path / "doc.txt").write_text(" ".join(sentences))  # over LONG_TEXT characters
    master, terminal = _terminal(columns)
    try:
        done = subprocess.run(
            [LITETTS, "--socket", str(daemon.socket), "say", "-i", "doc.txt", "-o", "doc.wav"],
            stderr=terminal, cwd=tmp_path, timeout=300,
        )  # fmt: skip
        os.close(terminal)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the line is read: the terminal is closed
            while chunk := os.read(master, 4096):
                shown += chunk
    finally:
        os.close(master)
    assert done.returncode == 0, shown
    percents = [int(n) for n in re.findall(rb"litetts: (?:\[[#.]+\] )? *([0-9]+)%", shown)]
    # One update per chunk, moving through the text (not the audio) to the end.
    assert len(percents) >= 3 and percents == sorted(percents) and percents[0] < 50 and percents[-1] == 100, shown
    # Each redraw fits the terminal (a wrapped line cannot be redrawn), the bar as wide as it can be.
    assert all(len(line) < columns for line in shown.split(b"\r") if line.strip()), shown
    if columns == 80:
        assert b"[" + b"#" * 30 + b"] 100%" in shown


def test_say_warns_when_the_text_has_nothing_to_speak(daemon: Any, tmp_path: Path) -> None:
    import soundfile

    for text in ("", "   \n"):
        done = _litetts("say", text, "-o", "empty.wav", socket_path=daemon.socket, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert b"nothing to speak" in done.stderr
        audio, _ = soundfile.read(tmp_path / "empty.wav")
        assert len(audio) == 0
    done = _litetts("say", "Hello there", "-o", "spoken.wav", socket_path=daemon.socket, cwd=tmp_path)
    assert done.returncode == 0 and b"nothing to speak" not in done.stderr, done.stderr


def test_voices_lists_the_default_voice(daemon: Any) -> None:
    done = _litetts("voices", socket_path=daemon.socket)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[0].split()[0] == "ID"
    row = next(line for line in lines if line.startswith(DEFAULT_VOICE + " "))
    assert "22050" in row.split() and "piper" in row.split()


def test_status_shows_pid(daemon: Any) -> None:
    done = _litetts("status", socket_path=daemon.socket)
    assert done.returncode == 0, done.stderr
    assert f"pid: {daemon.proc.pid}" in done.stdout.decode().splitlines()


def test_normalize_prints_text_and_phonemes(daemon: Any) -> None:
    done = _litetts("normalize", "Dr. Smith has 3 cats.", socket_path=daemon.socket)
    assert done.returncode == 0, done.stderr
    text_line, phonemes_line = done.stdout.decode().splitlines()
    assert text_line.startswith("text: ") and "Smith" in text_line
    assert phonemes_line.startswith("phonemes: ") and phonemes_line.strip() != "phonemes:"


def test_sync_and_async_clients_read_a_key_alike(daemon: Any) -> None:
    with Client(daemon.socket, timeout=120) as client:
        sync_audio = client.char({"key": "Return", "format": "pcm"}).read()

    async def scenario() -> bytes:
        async with AsyncClient(daemon.socket, timeout=120) as client:
            return await client.char({"key": "Return", "format": "pcm"}).read()

    assert len(sync_audio) > 2000 and sync_audio == asyncio.run(scenario())


def test_async_three_concurrent_syntheses(daemon: Any) -> None:
    texts = ["The first sentence.", "A second, different one.", "And the third sentence is here."]

    async def scenario() -> None:
        async with AsyncClient(daemon.socket, timeout=120) as client:
            results = [client.synthesize(text) for text in texts]
            frames: list[list[Message]] = [[], [], []]

            async def drain(i: int) -> None:
                async for frame in results[i].frames():
                    frames[i].append(frame)

            await asyncio.gather(*(drain(i) for i in range(3)))
            for i, result in enumerate(results):
                seqs = [f["seq"] for f in frames[i] if f["type"] == "audio"]
                assert seqs == list(range(len(seqs))) and seqs
                assert frames[i][-1]["type"] == "end" and result.end is not None
                assert result.end["samples"] * 2 == sum(len(f["data"]) for f in frames[i] if f["type"] == "audio")

    asyncio.run(scenario())


def test_async_result_dropped_by_a_cancelled_task_stops_its_synthesis(daemon: Any) -> None:
    """A task cancelled while it iterates a synthesis (no ``async with``, no aclose()) drops
    the result; the daemon must stop making audio nobody reads, though the connection stays."""
    text = " ".join(["This is a long paragraph that keeps the daemon busy for a while."] * 30)

    async def scenario() -> None:
        async with AsyncClient(daemon.socket, timeout=120) as client:
            first_chunk = asyncio.Event()

            async def listen() -> None:
                async for _ in client.synthesize(text):
                    first_chunk.set()

            task = asyncio.create_task(listen())
            await first_chunk.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            del task  # the result lived in the task's frame; now nothing refers to it
            deadline = time.monotonic() + 10
            while (await client.status())["requests_in_flight"] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert (await client.status())["requests_in_flight"] == 0
            assert (await client.synthesize("Still here.").read())  # the connection carries on

    asyncio.run(scenario())


def test_sync_cancel_mid_stream_from_another_thread(daemon: Any) -> None:
    text = " ".join(["This is a long paragraph that keeps the daemon busy for a while."] * 30)
    with Client(daemon.socket, timeout=120) as client:
        result = client.synthesize(text)
        got = 0
        started = time.monotonic()
        for _ in result:
            got += 1
            if got == 1:
                threading.Thread(target=client.cancel, args=(result.id,)).start()
        assert result.cancelled and result.end is None
        assert time.monotonic() - started < 60
        assert client.ping()["type"] == "pong"


@pytest.mark.parametrize("output", ["file", "stdout"])
def test_say_cut_short_by_a_daemon_shutdown_fails(start_daemon: Any, tmp_path: Path, output: str) -> None:
    daemon = start_daemon("[server]\ngraceful_timeout = 0.5\n")
    text = " ".join(f"Sentence number {n} of a very long text that takes minutes to read." for n in range(200))
    (tmp_path / "long.txt").write_text(text)
    (tmp_path / "long.wav").write_bytes(b"precious")
    target = ["-o", str(tmp_path / "long.wav")] if output == "file" else []
    with open(tmp_path / "long.txt", "rb") as stdin:
        say = subprocess.Popen(
            [LITETTS, "--socket", str(daemon.socket), "say", "-", *target],
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
    assert say.stdout is not None
    if output == "stdout":
        assert say.stdout.read(4096)  # audio is flowing
    else:
        time.sleep(2)
    daemon.proc.send_signal(signal.SIGTERM)  # cancels what is still running after 0.5 s
    _, stderr = say.communicate(timeout=60)
    assert say.returncode == 1
    assert b"cancelled the request before its end" in stderr
    assert (tmp_path / "long.wav").read_bytes() == b"precious"  # a cut-short file replaces nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.txt", "long.wav"]


def test_say_killed_by_sigterm_leaves_no_partial_file(daemon: Any, tmp_path: Path) -> None:
    text = " ".join(f"Sentence number {n} of a text long enough to be killed midway." for n in range(100))
    (tmp_path / "long.txt").write_text(text)
    with open(tmp_path / "long.txt", "rb") as stdin:
        say = subprocess.Popen(
            [LITETTS, "--socket", str(daemon.socket), "say", "-", "-o", str(tmp_path / "out.wav")],
            stdin=stdin, stderr=subprocess.PIPE,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.wav.*.part")):  # writing has begun
        assert time.monotonic() < deadline and say.poll() is None
        time.sleep(0.02)
    say.send_signal(signal.SIGTERM)
    assert say.wait(30) == 143
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.txt"]


def test_say_to_dev_stdout_appends_to_a_redirected_log_and_hard_links_are_kept(
    fake: FakeDaemon, tmp_path: Path
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"BEFORE\n")
    script = f'"{LITETTS}" --socket "{fake.path}" say hi -f pcm -o /dev/stdout; echo TRAILER'
    subprocess.run(["sh", "-c", f"{{ {script}; }} >> '{log}'"], check=True, timeout=60)
    content = log.read_bytes()
    assert content.startswith(b"BEFORE\n<") and content.endswith(b"TRAILER\n")
    # Any other name of our stdout is written where it stands too.
    (tmp_path / "out.pcm").symlink_to("/dev/stdout")
    script = f'"{LITETTS}" --socket "{fake.path}" say hi -f pcm -o "{tmp_path / "out.pcm"}"; echo END'
    subprocess.run(["sh", "-c", f"{{ {script}; }} >> '{log}'"], check=True, timeout=60)
    assert log.read_bytes().startswith(content) and log.read_bytes().endswith(b"TRAILER\n<1:0><1:1><1:2><1:3><1:4>END\n")
    original, link = tmp_path / "a.pcm", tmp_path / "b.pcm"
    original.write_bytes(b"old")
    os.link(original, link)
    with Client(fake.path, timeout=10) as client:
        with pytest.raises(LitettsError):  # refused before any audio: the file is untouched
            client.speak_to_file("hi", original, format="pcm", voice="nope")
        assert original.read_bytes() == b"old"
        client.speak_to_file("hi", original, format="pcm", frames=2)
    assert link.read_bytes() == original.read_bytes() != b"old"  # the same file, not a new one
    # Cut short after audio has arrived: the linked file is still as it was.
    with Client(fake.path, timeout=10) as client:
        before = original.read_bytes()
        with pytest.raises(LitettsError):
            client.speak_to_file("hi", original, format="pcm", frames=5, hangup_after=3)
    assert original.read_bytes() == link.read_bytes() == before


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_say_to_a_redirected_stdout_gets_real_lengths(daemon: Any, tmp_path: Path, fmt: str) -> None:
    # `> out.flac` opens the file for writing only: the header is patched from the bytes
    # kept as they went out, not read back. A FLAC of unknown length is unreadable to libsndfile.
    target = tmp_path / f"out.{fmt}"
    script = f'"{LITETTS}" --socket "{daemon.socket}" say "Written to a redirected stdout." -f {fmt} > "{target}"'
    subprocess.run(["sh", "-c", script], check=True, timeout=120)
    audio, rate = sf.read(target, dtype="int16")
    with Client(daemon.socket, timeout=120) as client:
        pcm = client.synthesize("Written to a redirected stdout.", format="pcm").read()
    assert rate == 22050 and audio.tobytes() == pcm


def test_a_refused_oversized_frame_is_reported_as_such_not_as_a_broken_pipe(start_daemon: Any, tmp_path: Path) -> None:
    daemon = start_daemon("[server]\nmax_frame_bytes = 4096\n")
    huge = "word " * 400_000  # 2 MB: far more than the socket buffers, so our write fails midway
    with Client(daemon.socket, timeout=30) as client:
        with pytest.raises(LitettsError) as caught:
            client.normalize(huge)
        assert caught.value.code == "frame_too_large"

    async def scenario() -> None:
        async with AsyncClient(daemon.socket, timeout=30) as client:
            with pytest.raises(LitettsError) as caught:
                await client.normalize(huge)
            assert caught.value.code == "frame_too_large"

    asyncio.run(scenario())
    (tmp_path / "huge.txt").write_text(huge)
    with open(tmp_path / "huge.txt", "rb") as stdin:
        done = subprocess.run(
            [LITETTS, "--socket", str(daemon.socket), "say", "-", "-o", str(tmp_path / "x.wav")],
            stdin=stdin, capture_output=True, timeout=60,
        )  # fmt: skip
    # The CLI knows the frame held the user's text, and says so in the user's terms.
    assert done.returncode == 1, done.stderr
    assert b"text_too_long: the text has 2000000 characters" in done.stderr and b"exceeds the limit" in done.stderr


def test_async_client_kept_between_event_loops_starts_over_on_the_new_one(fake: FakeDaemon) -> None:
    """One AsyncClient used by two ``asyncio.run`` calls, the first ending without close():
    the second reconnects for questions, and its reconnect lock works under contention."""
    client = AsyncClient(fake.path, timeout=5)

    async def first() -> None:
        await client.connect()
        doomed = client.synthesize("hi", frames=5, hangup_after=1, delay=0.01)
        with pytest.raises(LitettsError):
            await doomed.read()
        # concurrent reconnects contend for the lock, which binds it to this loop
        assert [reply["type"] for reply in await asyncio.gather(client.ping(), client.ping())] == ["pong", "pong"]

    async def second() -> None:
        assert (await client.ping())["type"] == "pong"
        with pytest.raises(LitettsError):
            await client.synthesize("hi", frames=5, hangup_after=1, delay=0.01).read()
        assert [reply["type"] for reply in await asyncio.gather(client.ping(), client.status())] == ["pong", "status"]
        await client.connect()
        result = client.synthesize("hi", frames=2)
        assert await result.read() == chunk_for(result.id, 0) + chunk_for(result.id, 1)
        await client.close()

    asyncio.run(first())
    asyncio.run(second())
