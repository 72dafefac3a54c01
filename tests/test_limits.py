"""Limits, deadlines, slow readers, fallbacks and access control, against real daemons."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import subprocess
import sys
import threading
import time

import pytest
from litettsd_client.protocol import encode_frame

from .conftest import RawConnection, audio_of

LONG = " ".join(f"Sentence {n} keeps this request busy for a good while longer." for n in range(80))


def drain_until(conn, predicate, limit=500):
    frames = []
    for _ in range(limit):
        frame = conn.recv()
        assert frame is not None, frames[-3:]
        frames.append(frame)
        if predicate(frame):
            return frames
    raise AssertionError(frames[-3:])


def test_requests_per_connection_are_limited(start_daemon):
    private = start_daemon("[server]\nmax_requests_per_connection = 2\n")
    with private.connect() as conn:
        for rid in (1, 2, 3):
            conn.send({"op": "synthesize", "id": rid, "text": LONG})
        frames = drain_until(conn, lambda f: f["id"] == 3)
        assert frames[-1]["type"] == "error" and frames[-1]["code"] == "overloaded"
        conn.send({"op": "cancel", "id": 4, "target": 1})
        conn.send({"op": "cancel", "id": 5, "target": 2})
        drain_until(conn, lambda f: f["id"] == 5)
        # Capacity is back once the others ended.
        assert conn.request({"op": "synthesize", "id": 6, "text": "Fine."})[-1]["type"] == "end"


def test_requests_in_total_are_limited(start_daemon):
    private = start_daemon("[server]\nmax_requests = 1\n")
    with private.connect() as busy, private.connect() as other:
        busy.send({"op": "synthesize", "id": 1, "text": LONG})
        assert busy.recv()["type"] == "start"
        reply = other.request({"op": "ping", "id": 1})[0]
        assert reply["type"] == "error" and reply["code"] == "overloaded"


def test_request_deadline_ends_a_stalled_request_not_a_long_one(start_daemon):
    # The deadline counts from the last chunk synthesized: a background request queued behind
    # a long text makes no progress and times out; the long text outlives the deadline
    # several times over, chunk by chunk, and is never cut off.
    deadline = 3.0  # a chunk of the long text takes well under this, even on a loaded 2-core machine
    private = start_daemon(f"[server]\nrequest_timeout = {deadline}\n[cache]\nphrases = []\n")
    # long enough to outlive twice the deadline on a fast machine too (~25 s of synthesis here)
    text = " ".join(f"Sentence {n} of a long text that keeps the daemon busy for a while." for n in range(100))
    with private.connect() as speaking, private.connect() as queued:
        speaking.send({"op": "synthesize", "id": 1, "text": text, "priority": "text", "cache": False})
        assert drain_until(speaking, lambda f: f["type"] == "audio")
        started = time.monotonic()
        # Read the long text as it comes: unread, it would pause (a slow client) and let the
        # queued request through.
        frames: list[dict] = []
        reader = threading.Thread(
            target=lambda: frames.extend(drain_until(speaking, lambda f: f["type"] in ("end", "error", "cancelled"), 5000))
        )
        reader.start()
        queued.send({"op": "synthesize", "id": 1, "text": "Behind it.", "priority": "background", "cache": False})
        stalled = drain_until(queued, lambda f: f["type"] in ("end", "error", "cancelled"))
        reader.join(300)
        assert stalled[-1]["type"] == "error" and stalled[-1]["code"] == "timeout", stalled[-1]
        assert "no progress for 3 s" in stalled[-1]["message"]
        assert frames[-1]["type"] == "end", frames[-1]
        assert time.monotonic() - started > 2 * deadline
        assert queued.request({"op": "synthesize", "id": 2, "text": "Quick."})[-1]["type"] == "end"


def test_idle_connections_are_closed_busy_ones_are_not(start_daemon):
    private = start_daemon("[server]\nidle_timeout = 0.5\n")
    idle = private.connect()
    busy = private.connect()
    busy.send({"op": "synthesize", "id": 1, "text": LONG[:1500]})
    assert idle.recv() is None  # closed by the daemon after half a second of idleness
    frames = drain_until(busy, lambda f: f["type"] in ("end", "error", "cancelled"))
    assert frames[-1]["type"] == "end"
    idle.close()
    busy.close()


def test_a_kept_open_client_outlives_the_idle_timeout(start_daemon):
    """``litetts top`` and the Prometheus exporter poll over one connection, slower than this."""
    from litettsd_client import Client
    from litettsd_client.top import Sampler

    private = start_daemon("[server]\nidle_timeout = 0.5\n")
    sampler = Sampler(str(private.socket))
    with Client(private.socket, timeout=10) as client:
        for _ in range(3):
            assert client.status()["type"] == "status"
            assert sampler.sample().error is None
            time.sleep(1.0)  # the daemon hangs up on both meanwhile
        # A request that does something goes out on a new connection: the write into the
        # closed one failed, so the daemon never had it, and it is done once.
        time.sleep(1.0)
        assert client.reload()["type"] == "ok"
    sampler.close()
    assert private.log.read_text().count("reloading configuration") == 1


def test_a_kept_open_async_client_outlives_the_idle_timeout(start_daemon):
    import asyncio

    from litettsd_client import LitettsError
    from litettsd_client.aio import AsyncClient

    private = start_daemon("[server]\nidle_timeout = 0.5\n")

    async def scenario() -> None:
        async with AsyncClient(private.socket, timeout=10) as client:
            for _ in range(2):
                assert (await client.status())["type"] == "status"
                await asyncio.sleep(1.0)  # the daemon hangs up meanwhile
            assert (await client.reload())["type"] == "ok"  # never sent on the closed connection
            assert (await client.ping())["type"] == "pong"
        with pytest.raises(LitettsError):
            await client.ping()  # closed by the caller: stays closed

    asyncio.run(scenario())


def test_a_client_that_stops_reading_is_dropped_without_stalling_others(start_daemon):
    private = start_daemon("[server]\nsend_buffer_bytes = 65536\nsend_timeout = 1.0\n")
    stalled = RawConnection(private.socket)
    stalled.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
    stalled.send({"op": "synthesize", "id": 1, "text": LONG * 3})  # and never read
    with private.connect() as reader:
        frames = reader.request({"op": "synthesize", "id": 1, "text": "Other clients are served."})
        assert frames[-1]["type"] == "end" and audio_of(frames)
        deadline = time.monotonic() + 30
        while reader.request({"op": "status", "id": 2})[0]["connections"] > 1:
            assert time.monotonic() < deadline, "the stalled client was never disconnected"
            time.sleep(0.2)
    stalled.close()
    assert "stopped reading" in private.log.read_text()


def test_a_client_that_floods_refused_requests_is_held_back_not_buffered(start_daemon):
    # No start-up phrases: their synthesis after READY would move the memory baseline.
    private = start_daemon("[server]\nsend_buffer_bytes = 65536\nsend_timeout = 1.0\n[cache]\nphrases = []\n")
    with private.connect() as warm:  # the first request's one-off allocations, before the baseline
        assert warm.request({"op": "synthesize", "id": 1, "text": "Warm."})[-1]["type"] == "end"
    time.sleep(1.0)  # the background warm-up after READY
    rss_before = _rss_kb(private.proc.pid)
    flooder = RawConnection(private.socket)
    flooder.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
    flooder.sock.settimeout(0.2)
    frame = encode_frame({"op": "ping"})  # no id: each one is refused with an error reply
    sent = 0
    with contextlib.suppress(OSError):  # our writes stall, then the daemon hangs up on us
        for _ in range(200_000):
            flooder.sock.sendall(frame)
            sent += 1
    flooder.close()
    # The daemon stopped reading once its replies went unread: a fraction of the flood got in.
    assert sent < 200_000
    with private.connect() as other:
        started = time.monotonic()
        assert other.request({"op": "ping", "id": 1})[0]["type"] == "pong"
        assert time.monotonic() - started < 1.0
        deadline = time.monotonic() + 10  # the flooder's unread frames are drained, then it is gone
        while other.request({"op": "status", "id": 2})[0]["connections"] > 1:
            assert time.monotonic() < deadline, "the flooding connection was never closed"
            time.sleep(0.1)
    assert _rss_kb(private.proc.pid) - rss_before < 30_000
    assert private.stop() == 0


def _rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_fallback_voice_and_disabled_voice_in_status(start_daemon):
    private = start_daemon(
        '[plugins]\nload = ["tests.plugins.broken_engine"]\n[synthesis]\nfallback_voice = "piper:en_US-joe-medium"\n'
    )
    with private.connect() as conn:
        frames = conn.request({"op": "synthesize", "id": 1, "text": "Spoken anyway.", "voice": "broken:corrupt"})
        status = conn.request({"op": "status", "id": 2})[0]
        direct = conn.request({"op": "synthesize", "id": 3, "text": "Still here.", "voice": "kokoro:jm_kumo"})
    assert frames[-1]["type"] == "end" and audio_of(frames)
    assert frames[0]["voice"] == "piper:en_US-joe-medium"
    assert frames[-1]["fallback"]["requested"] == "broken:corrupt"
    assert "corrupt.onnx" in status["voices_failed"]["broken:corrupt"]
    assert direct[-1]["type"] == "end"


def test_unloadable_voice_without_fallback_is_a_clean_error(start_daemon):
    private = start_daemon('[plugins]\nload = ["tests.plugins.broken_engine"]\n')
    with private.connect() as conn:
        frames = conn.request({"op": "synthesize", "id": 1, "text": "x", "voice": "broken:corrupt"})
    assert frames[-1]["code"] == "internal" and "corrupt.onnx" in frames[-1]["message"]


def test_admin_ops_work_for_the_daemon_user(start_daemon):
    private = start_daemon()
    with private.connect() as conn:
        conn.request({"op": "synthesize", "id": 1, "text": "cached once"})
        assert conn.request({"op": "flush_cache", "id": 2})[0]["type"] == "ok"
        assert conn.request({"op": "status", "id": 3})[0]["cache"]["entries"] == 0
        assert conn.request({"op": "shutdown", "id": 4})[0]["type"] == "ok"
    assert private.proc.wait(30) == 0
    assert not private.socket.exists()


TEST_USER = "litettsd-test"


@pytest.fixture(scope="module")
def second_user():
    """A real second uid in a real group; creating them needs root (CI and dev machines are root)."""
    if os.geteuid() != 0:
        pytest.skip("creating a second user needs root")
    try:
        grp.getgrnam(TEST_USER)
    except KeyError:
        subprocess.run(["groupadd", "--system", TEST_USER], check=True)
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-g", TEST_USER, TEST_USER], check=True)
    return TEST_USER


SYSTEM_PYTHON = "/usr/bin/python3"  # the venv's interpreter lives under root's home, out of reach


def _as_user(user, socket_path, message):
    """Send one frame as another uid; the frame is encoded here and the reply decoded here."""
    from litettsd_client.protocol import decode_payload, encode_frame

    script = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        f"s.connect({str(socket_path)!r})\n"
        f"s.sendall(bytes.fromhex({encode_frame(message).hex()!r}))\n"
        "head = s.recv(4)\n"
        "size = int.from_bytes(head, 'big')\n"
        "body = b''\n"
        "while len(body) < size:\n"
        "    body += s.recv(size - len(body))\n"
        "print(body.hex())\n"
    )
    result = subprocess.run(
        ["runuser", "-u", user, "--", SYSTEM_PYTHON, "-c", script], capture_output=True, text=True, timeout=60
    )
    reply = decode_payload(bytes.fromhex(result.stdout.strip())) if result.returncode == 0 else None
    return result, reply


@pytest.fixture
def shared_folder():
    """A folder other users can traverse (pytest's own temporary folders are 0700)."""
    import shutil
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="litettsd-shared-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_group_members_may_speak_but_not_administer(start_daemon, second_user, shared_folder):
    private = start_daemon(f'[server]\ngroup = "{second_user}"\n', socket=shared_folder / "run" / "litettsd.sock")
    import stat

    assert stat.S_IMODE(private.socket.stat().st_mode) == 0o660
    assert stat.S_IMODE(private.socket.parent.stat().st_mode) == 0o750
    result, pong = _as_user(second_user, private.socket, {"op": "ping", "id": 1})
    assert pong == {"type": "pong", "id": 1}, result.stderr
    for op in ("shutdown", "flush_cache", "reload"):
        _, denied = _as_user(second_user, private.socket, {"op": op, "id": 2})
        assert denied is not None and denied["code"] == "permission_denied"
    assert private.proc.poll() is None


def test_a_group_socket_in_a_folder_it_did_not_create_leaves_the_folder_alone(start_daemon, second_user, shared_folder):
    """``--socket /tmp/x.sock`` with a group must not make /tmp 0750 and re-own it."""
    import stat

    shared_folder.chmod(0o1777)
    before = shared_folder.stat()
    daemon = start_daemon(f'[server]\ngroup = "{second_user}"\n', socket=shared_folder / "litettsd.sock")
    after = shared_folder.stat()
    assert (after.st_mode, after.st_gid, after.st_uid) == (before.st_mode, before.st_gid, before.st_uid)
    assert stat.S_IMODE(daemon.socket.stat().st_mode) == 0o660
    assert daemon.socket.stat().st_gid == grp.getgrnam(second_user).gr_gid
    _, pong = _as_user(second_user, daemon.socket, {"op": "ping", "id": 1})
    assert pong == {"type": "pong", "id": 1}


def test_other_users_cannot_connect_to_a_private_socket(start_daemon, second_user, shared_folder):
    private = start_daemon(socket=shared_folder / "run" / "litettsd.sock")
    result, reply = _as_user(second_user, private.socket, {"op": "ping", "id": 1})
    assert reply is None and "Permission denied" in result.stderr
