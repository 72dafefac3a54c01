"""Protocol behaviour of the real daemon: ops, cancel, bad input and isolation between clients."""

from __future__ import annotations

import socket
import struct
import subprocess
import threading

import msgpack
import pytest
from litettsd_client.protocol import encode_frame

from .conftest import BIN, DEFAULT_VOICE, DaemonProcess, RawConnection, audio_of

LONG = " ".join(f"This is sentence number {n} of a long text that keeps going." for n in range(1, 40))


def error_of(frames):
    assert frames[-1]["type"] == "error", frames[-1]
    return frames[-1]["code"], frames[-1]["message"]


def test_hello_and_ping(daemon):
    with daemon.connect() as conn:
        hello = conn.request({"op": "hello", "id": 1, "protocol": 1, "client": "pytest"})[0]
        pong = conn.request({"op": "ping", "id": 2})[0]
    assert hello["type"] == "hello" and hello["protocol"] == 1
    assert hello["server"].startswith("litettsd ")
    assert hello["default_voice"] == DEFAULT_VOICE
    assert {"pcm", "wav", "mp3", "flac", "ogg"} <= set(hello["formats"])
    assert hello["max_text_chars"] == 100000
    assert pong == {"type": "pong", "id": 2}


def test_status_reports_process_and_plugins(daemon):
    with daemon.connect() as conn:
        status = conn.request({"op": "status", "id": 7})[0]
    assert status["pid"] == daemon.proc.pid
    assert DEFAULT_VOICE in status["voices_loaded"]
    names = {plugin["name"] for plugin in status["plugins"]}
    assert {"piper", "kokoro", "pcm", "mp3", "cpu-threads"} <= names
    assert status["uptime"] > 0
    assert status["threads"]["piper"] >= 1


def test_cancel_mid_stream_stops_audio_and_daemon_serves_next(daemon):
    with daemon.connect() as conn:
        conn.send({"op": "synthesize", "id": 1, "text": LONG})
        seen = []
        while True:
            frame = conn.recv()
            seen.append(frame)
            if frame["type"] == "audio":
                break
        conn.send({"op": "cancel", "id": 2, "target": 1})
        after = []
        while True:
            frame = conn.recv()
            after.append(frame)
            if frame.get("id") == 2:
                break
        types = [(f["id"], f["type"]) for f in after]
        # The target's terminal frame comes before the cancel's ok, and nothing follows it.
        assert (1, "cancelled") in types
        assert types[-1] == (2, "ok")
        cancelled_at = types.index((1, "cancelled"))
        assert all(kind != "end" for _, kind in types)
        assert all(rid != 1 for rid, _ in types[cancelled_at + 1 :])
        # Nothing else arrives for request 1, and the next request works.
        frames = conn.request({"op": "synthesize", "id": 3, "text": "Still here."})
        assert frames[-1]["type"] == "end" and audio_of(frames)
        assert all(f["id"] == 3 for f in frames)


def test_cancel_unknown_target_is_ok(daemon):
    with daemon.connect() as conn:
        assert conn.request({"op": "cancel", "id": 5, "target": 999})[0] == {"type": "ok", "id": 5, "found": False}


def test_requests_interleave_on_one_connection(daemon):
    with daemon.connect() as conn:
        for rid in (1, 2, 3):
            conn.send({"op": "synthesize", "id": rid, "text": f"Request number {rid}, with two clauses."})
        done: dict[int, list] = {1: [], 2: [], 3: []}
        while any(not frames or frames[-1]["type"] != "end" for frames in done.values()):
            frame = conn.recv()
            done[frame["id"]].append(frame)
    for frames in done.values():
        assert [f["seq"] for f in frames if f["type"] == "audio"] == list(range(len(frames) - 2))


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        ({"op": "synthesize", "text": "hi", "voice": "piper:nobody"}, "unknown_voice"),
        ({"op": "synthesize", "text": "hi", "voice": "kokoro:jm_kumo*0.5+kokoro:nobody"}, "unknown_voice"),
        ({"op": "synthesize", "text": "hi", "format": "aiff"}, "unsupported_format"),
        ({"op": "synthesize", "text": "hi", "speed": 10}, "invalid_value"),
        ({"op": "synthesize", "text": "hi", "speed": "fast"}, "invalid_value"),
        ({"op": "synthesize", "text": "hi", "volume": -1}, "invalid_value"),
        ({"op": "synthesize", "text": "hi", "sample_rate": 100}, "invalid_value"),
        ({"op": "synthesize", "text": "hi", "priority": "urgent"}, "invalid_value"),
        ({"op": "synthesize", "text": "hi", "stream": "yes"}, "invalid_value"),
        ({"op": "synthesize"}, "bad_request"),
        ({"op": "synthesize", "text": 42}, "invalid_value"),
        ({"op": "synthesize", "text": "x" * 100001}, "text_too_long"),
        ({"op": "normalize", "text": None}, "bad_request"),
        ({"op": "normalize", "text": 7}, "invalid_value"),
        ({"op": "voices", "language": 5}, "invalid_value"),
        ({"op": "fly"}, "unknown_op"),
        ({"op": 3}, "bad_request"),
    ],
)
def test_bad_requests_get_coded_errors(daemon, request_fields, code):
    with daemon.connect() as conn:
        frames = conn.request({"id": 9, **request_fields})
        got, message = error_of(frames)
        assert got == code and message
        assert frames[-1]["id"] == 9
        # A request-level error leaves the connection usable.
        assert conn.request({"op": "ping", "id": 10})[0]["type"] == "pong"


def test_status_does_not_count_itself_in_flight(start_daemon):
    private = start_daemon()
    with private.connect() as conn:
        assert conn.request({"op": "status", "id": 1})[0]["requests_in_flight"] == 0


def test_an_unknown_op_is_named_briefly_with_the_known_ones(daemon):
    with daemon.connect() as conn:
        code, message = error_of(conn.request({"op": "fly" * 30_000, "id": 1}))
    assert code == "unknown_op" and len(message) < 300, message[:300]
    assert message.startswith("unknown op 'flyfly") and "cancel" in message and "synthesize" in message


def test_missing_id_is_bad_request_with_id_zero(daemon):
    with daemon.connect() as conn:
        conn.send({"op": "ping"})
        frame = conn.recv()
    assert frame["type"] == "error" and frame["code"] == "bad_request" and frame["id"] == 0


@pytest.mark.parametrize("second", [{"op": "synthesize", "text": "again"}, {"op": "cancel", "target": 4}])
def test_duplicate_id_in_flight_is_refused_without_ending_the_live_stream(daemon, second):
    with daemon.connect() as conn:
        # Not from the cache: a cached replay may be over before the daemon reads the next frame.
        conn.send({"op": "synthesize", "id": 4, "text": "A short sentence that is still being spoken.", "cache": False})
        conn.send({**second, "id": 4})
        frames = []
        while not frames or frames[-1]["type"] not in ("end", "cancelled") or frames[-1]["id"] != 4:
            frames.append(conn.recv())
        errors = [f for f in frames if f["type"] == "error"]
        assert len(errors) == 1 and errors[0]["id"] == 0 and errors[0]["request_id"] == 4, errors
        assert errors[0]["code"] == "bad_request" and "already in flight" in errors[0]["message"]
        stream = [f for f in frames if f["id"] == 4]
        assert stream[-1]["type"] == "end" and audio_of(stream)  # the first request carried on


@pytest.mark.parametrize("target", ["x", None, True, 1.5])
def test_cancel_needs_an_integer_target(daemon, target):
    with daemon.connect() as conn:
        message = {"op": "cancel", "id": 5} if target is None else {"op": "cancel", "id": 5, "target": target}
        reply = conn.request(message)[0]
    assert reply["type"] == "error" and reply["code"] == "invalid_value" and reply["id"] == 5


def _raw(daemon) -> RawConnection:
    return daemon.connect()


@pytest.mark.parametrize(
    "payload",
    [b"\xc1", msgpack.packb([1, 2, 3]), msgpack.packb({1: "int key"}), b"\x81\xa2op"],
    ids=["reserved-byte", "array", "int-key", "truncated-map"],
)
def test_undecodable_frame_gets_bad_request_and_close(daemon, payload):
    with _raw(daemon) as conn:
        conn.sock.sendall(struct.pack(">I", len(payload)) + payload)
        frame = conn.recv()
        assert frame["type"] == "error" and frame["code"] == "bad_request" and frame["id"] == 0
        assert conn.recv() is None  # closed by the daemon


def test_oversized_frame_gets_frame_too_large_and_close(daemon):
    with _raw(daemon) as conn:
        conn.sock.sendall(struct.pack(">I", 2 * 1024 * 1024))  # the body never needs to arrive
        frame = conn.recv()
        assert frame["code"] == "frame_too_large" and frame["id"] == 0
        assert conn.recv() is None


def test_garbage_on_one_connection_does_not_disturb_another_stream(daemon):
    with daemon.connect() as streaming:
        streaming.send({"op": "synthesize", "id": 1, "text": LONG[:600]})
        first = streaming.recv()
        assert first["type"] == "start"
        for _ in range(20):
            with _raw(daemon) as bad:
                bad.sock.sendall(b"\x00\x00\x00\x05garbage-and-more")
                assert bad.recv()["code"] == "bad_request"
        frames = [first] + streaming.collect(1)
    assert frames[-1]["type"] == "end"
    assert [f["seq"] for f in frames if f["type"] == "audio"] == list(range(len(frames) - 2))


def test_client_disconnect_mid_stream_leaves_daemon_serving(daemon):
    for _ in range(5):
        conn = daemon.connect()
        conn.send({"op": "synthesize", "id": 1, "text": LONG})
        assert conn.recv()["type"] == "start"
        conn.close()
    with daemon.connect() as conn:
        assert conn.request({"op": "synthesize", "id": 2, "text": "Fine."})[-1]["type"] == "end"
        status = conn.request({"op": "status", "id": 3})[0]
    assert status["connections"] == 1


def test_text_limit_is_configurable(start_daemon):
    private = start_daemon("[server]\nmax_text_chars = 50\n")
    with private.connect() as conn:
        code, message = error_of(conn.request({"op": "synthesize", "id": 1, "text": "y" * 51}))
        hello = conn.request({"op": "hello", "id": 2})[0]
    assert code == "text_too_long" and "50" in message
    assert hello["max_text_chars"] == 50


def test_ssml_markup_does_not_count_against_the_text_limit(start_daemon):
    # Orca marks every word: 40 characters of text, five times that with its marks.
    words = "one two three four five six seven eight".split()
    marked = "<speak>" + "".join(f'<mark name="{i}:{i + len(w)}"/>{w} ' for i, w in enumerate(words)) + "</speak>"
    assert len(marked) > 200 and len(" ".join(words)) < 50
    private = start_daemon("[server]\nmax_text_chars = 50\n[cache]\nphrases = []\n")
    with private.connect() as conn:
        frames = conn.request({"op": "synthesize", "id": 1, "text": marked, "ssml": True})
        assert frames[-1]["type"] == "end", frames[-1]
        assert [f["name"] for f in frames if f["type"] == "mark"] == [f"{i}:{i + len(w)}" for i, w in enumerate(words)]
        too_long = "<speak>" + "word " * 11 + "</speak>"
        code, message = error_of(conn.request({"op": "synthesize", "id": 2, "text": too_long, "ssml": True}))
        assert code == "text_too_long" and "55 characters of text" in message, message
        code, _ = error_of(conn.request({"op": "synthesize", "id": 3, "text": "<speak>" + "x" * 400 + "</speak>", "ssml": True}))
        assert code == "text_too_long"


def test_faulty_plugins_are_skipped_logged_and_counted(start_daemon):
    private = start_daemon('[plugins]\nload = ["tests.plugins.faulty", "tests.plugins.broken_engine"]\n')
    with private.connect() as conn:
        frames = conn.request({"op": "synthesize", "id": 1, "text": "The broken plugin is skipped."})
        assert frames[-1]["type"] == "end" and len(audio_of(frames)) > 10000
        code, message = error_of(conn.request({"op": "synthesize", "id": 2, "text": "boom", "voice": "broken:crash"}))
        assert code == "internal" and "exploded" in message
        # The daemon keeps serving after an engine failure.
        assert conn.request({"op": "synthesize", "id": 3, "text": "Still fine."})[-1]["type"] == "end"
        status = conn.request({"op": "status", "id": 4})[0]
    assert status["plugin_errors"]["tests.plugins.faulty"] >= 3
    log = private.log.read_text()
    assert "this normalizer is broken on purpose" in log


def test_sigterm_ends_in_flight_requests_and_removes_socket(start_daemon):
    private = start_daemon("[server]\ngraceful_timeout = 1.0\n")
    conn = private.connect()
    conn.send({"op": "synthesize", "id": 1, "text": LONG * 3})
    assert conn.recv()["type"] == "start"
    frames: list = []

    def read_all() -> None:  # a real client keeps reading while the daemon winds down
        while (frame := conn.recv()) is not None:
            frames.append(frame)

    reader = threading.Thread(target=read_all)
    reader.start()
    code = private.stop()
    reader.join(30)
    conn.close()
    assert code == 0
    assert frames and frames[-1]["type"] in {"end", "cancelled"}
    assert not private.socket.exists()


def test_second_daemon_on_live_socket_fails_clearly(daemon):
    result = subprocess.run(
        [str(BIN / "litettsd"), "--socket", str(daemon.socket)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "already listening" in result.stderr


def test_stale_socket_file_is_replaced(tmp_path, model_cache):
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "litettsd.sock"))  # a socket file nobody listens on
    stale.close()
    process = DaemonProcess(tmp_path, model_cache)
    try:
        process.wait_ready()
        with process.connect() as conn:
            assert conn.request({"op": "ping", "id": 1})[0]["type"] == "pong"
    finally:
        assert process.stop() == 0


def test_socket_is_private(daemon):
    import stat

    assert stat.S_IMODE(daemon.socket.stat().st_mode) == 0o600


def test_cancel_from_another_thread_is_prompt(daemon):
    """A cancel sent while a long request is inferring ends it without waiting for the text."""
    with daemon.connect() as conn:
        conn.send({"op": "synthesize", "id": 1, "text": LONG * 2})
        assert conn.recv()["type"] == "start"
        timer = threading.Timer(0.2, lambda: conn.send({"op": "cancel", "id": 2, "target": 1}))
        timer.start()
        kinds = []
        while True:
            frame = conn.recv()
            kinds.append((frame["id"], frame["type"]))
            if frame["id"] == 2:
                break
        timer.join()
    assert (1, "cancelled") in kinds and (1, "end") not in kinds


def test_an_id_may_be_reused_as_soon_as_its_reply_arrived(daemon):
    with daemon.connect() as conn:
        for _ in range(100):
            assert conn.request({"op": "ping", "id": 1})[0]["type"] == "pong"
            assert conn.request({"op": "normalize", "id": 1, "text": "again"})[0]["type"] == "normalized"
        frames = conn.request({"op": "synthesize", "id": 1, "text": "Reused."})
        assert frames[-1]["type"] == "end"
        assert conn.request({"op": "synthesize", "id": 1, "text": "Reused again."})[-1]["type"] == "end"


@pytest.mark.parametrize("fields", [{"protocol": 99}, {"protocol": "1"}, {"protocol": True}, {"client": 5}])
def test_hello_refuses_a_protocol_it_does_not_speak(daemon, fields):
    with daemon.connect() as conn:
        reply = conn.request({"op": "hello", "id": 1, **fields})[0]
        assert reply["type"] == "error" and reply["code"] == "invalid_value", reply
        assert conn.request({"op": "hello", "id": 2, "protocol": 1, "client": "test"})[0]["type"] == "hello"


def test_a_client_that_stops_sending_still_gets_every_answer_in_order(daemon):
    with daemon.connect() as conn:
        conn.sock.sendall(
            b"".join(
                encode_frame(message)
                for message in (
                    {"op": "synthesize", "id": 1, "text": "A sentence long enough to be cancelled while it is spoken."},
                    {"op": "ping", "id": 5},
                    {"op": "cancel", "id": 2, "target": 1},
                    *({"op": "no_such_op", "id": 100 + n} for n in range(20)),  # past the reply queue's 16
                    {"op": "cancel", "id": 3, "target": 1},
                )
            )
        )
        conn.sock.shutdown(socket.SHUT_WR)
        frames = []
        while (frame := conn.recv()) is not None:
            frames.append(frame)
    order = [(f["type"], f["id"]) for f in frames if f["type"] != "audio" and f["type"] != "start"]
    assert ("pong", 5) in order and ("cancelled", 1) in order
    assert order.index(("cancelled", 1)) < order.index(("ok", 2)) < order.index(("ok", 3))
    assert sum(1 for kind, _ in order if kind == "error") == 20
    assert not any(f["id"] == 1 for f in frames[frames.index(next(f for f in frames if f["type"] == "cancelled")) + 1 :])

