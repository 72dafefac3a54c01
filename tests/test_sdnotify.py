"""sd_notify and socket activation, checked against sockets the tests own.

The notify tests play systemd's part with their own datagram socket; the activation tests
run real child processes with real descriptors at 3 and up, once through systemd's own
``systemd-socket-activate`` and once with descriptors placed by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from litettsd.sdnotify import Notifier, listen_fds, run_watchdog, watchdog_interval

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[socket.socket]:
    """A datagram socket standing in for systemd's notification socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5)
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_messages_arrive_exactly(manager: socket.socket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": manager.getsockname()})
    assert notifier.enabled
    assert notifier.ready("serving piper:en_US-joe-medium")
    assert received(manager) == ["READY=1", "STATUS=serving piper:en_US-joe-medium"]
    notifier.status("loading voice")
    assert received(manager) == ["STATUS=loading voice"]
    notifier.stopping()
    assert received(manager) == ["STOPPING=1"]
    notifier.watchdog()
    assert received(manager) == ["WATCHDOG=1"]
    notifier.close()


def test_reloading_carries_the_monotonic_clock(manager: socket.socket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": manager.getsockname()})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    first, second = received(manager)
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC" and before <= int(value) <= after


def test_status_cannot_inject_assignments(manager: socket.socket) -> None:
    Notifier({"NOTIFY_SOCKET": manager.getsockname()}).status("voice\nREADY=1")
    assert received(manager) == ["STATUS=voice READY=1"]


def test_abstract_namespace() -> None:
    name = f"litettsd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert received(sock) == ["READY=1"]


@pytest.mark.parametrize("value", ["", "relative/path", "@", "vsock:2:1234"])
def test_no_op_without_a_usable_socket(value: str) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": value} if value else {})
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()


def test_a_vanished_manager_does_not_raise(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert notifier.enabled
    assert not notifier.ready()


def test_a_manager_that_stops_reading_never_blocks_the_sender(manager: socket.socket) -> None:
    """The daemon notifies from its event loop: a full datagram queue must not hang it."""
    notifier = Notifier({"NOTIFY_SOCKET": manager.getsockname()})
    started = time.monotonic()
    results = [notifier.status(f"update {n}") for n in range(2000)]  # never read meanwhile
    assert time.monotonic() - started < 5
    assert results[0] and not results[-1]  # the first ones got through; the rest were dropped
    # A state change waits (up to 2 s) for room, and gets through once the manager reads again.
    threading.Timer(0.3, lambda: received(manager)).start()
    assert notifier.ready("back")
    manager.settimeout(0.5)
    queued = []
    with contextlib.suppress(TimeoutError):
        while True:
            queued.append(received(manager)[0])
    assert queued[-1] == "READY=1" and queued[:-1] == [f"STATUS=update {n}" for n in range(1, len(queued))]


def test_reads_the_process_environment(manager: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", manager.getsockname())
    assert Notifier().status("from os.environ")
    assert received(manager) == ["STATUS=from os.environ"]


def test_watchdog_interval() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({}) is None


def test_watchdog_pings_only_while_healthy(manager: socket.socket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": manager.getsockname()})
    health = iter([True, False, False, True])

    async def run() -> None:
        task = asyncio.create_task(run_watchdog(notifier, 0.01, lambda: next(health, False)))
        await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(run())
    manager.settimeout(0.1)
    pings = []
    while True:
        try:
            pings.append(manager.recv(64))
        except TimeoutError:
            break
    assert pings == [b"WATCHDOG=1", b"WATCHDOG=1"]


def test_listen_fds_ignores_another_process_and_unsets() -> None:
    env = {"LISTEN_PID": "1", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "x", "OTHER": "kept"}
    assert listen_fds(env, pid=2) == []
    assert env == {"OTHER": "kept"}


def test_listen_fds_without_activation() -> None:
    env: dict[str, str] = {}
    assert listen_fds(env) == []


@pytest.mark.parametrize(
    "env",
    [
        {"LISTEN_PID": "me", "LISTEN_FDS": "1"},
        {"LISTEN_PID": "{pid}", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "only-one"},
    ],
)
def test_listen_fds_rejects_malformed_variables(env: dict[str, str]) -> None:
    env = {key: value.format(pid=os.getpid()) for key, value in env.items()}
    with pytest.raises(ValueError):
        listen_fds(env)
    assert not env  # unset even on error, as sd_listen_fds does


_CHILD_REPORT = """
import json, os, socket, sys
sys.path.insert(0, {repo!r})
from litettsd.sdnotify import listen_fds
found = listen_fds()
report = {{
    "sockets": [
        {{"name": s.name, "fd": s.sock.fileno(), "family": s.sock.family.name, "type": s.sock.type.name,
         "address": s.sock.getsockname(), "inheritable": os.get_inheritable(s.sock.fileno())}}
        for s in found
    ],
    "left": sorted(k for k in os.environ if k.startswith("LISTEN_")),
}}
"""


def test_listen_fds_with_systemd_socket_activate(tmp_path: Path) -> None:
    """systemd's own activation tool: a listening socket at fd 3, then a real connection."""
    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        pytest.skip("systemd-socket-activate is not installed")
    path = tmp_path / "tts.sock"
    child = _CHILD_REPORT.format(repo=str(REPO)) + (
        "connection, _ = found[0].sock.accept()\nconnection.sendall(json.dumps(report).encode())\n"
    )
    launcher = subprocess.Popen(
        [activate, "-l", str(path), "--fdname=litettsd", sys.executable, "-c", child],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(20)
            client.connect(str(path))  # the tool starts the child on the first connection
            data = b"".join(iter(lambda: client.recv(4096), b""))
    finally:
        launcher.terminate()
        launcher.wait(10)
    report = json.loads(data)
    expected = {"name": "litettsd", "fd": 3, "family": "AF_UNIX", "type": "SOCK_STREAM", "address": str(path)}
    assert report["sockets"] == [{**expected, "inheritable": False}]
    assert report["left"] == []


def test_listen_fds_several_named_sockets(tmp_path: Path) -> None:
    """Descriptors placed at 3 and 4 by hand, in a child that names itself in LISTEN_PID."""
    stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stream.bind(str(tmp_path / "stream.sock"))
    stream.listen()
    datagram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    datagram.bind(str(tmp_path / "dgram.sock"))
    placing = (
        # Move both out of the way first: either might already sit at 3 or 4.
        f"import fcntl, os\nhigh = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in ({stream.fileno()}, {datagram.fileno()})]\n"
        "os.dup2(high[0], 3)\nos.dup2(high[1], 4)\n"
        "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='2', LISTEN_FDNAMES='main:events')\n"
    )
    code = placing + _CHILD_REPORT.format(repo=str(REPO)) + "print(json.dumps(report))\n"
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            pass_fds=(stream.fileno(), datagram.fileno()),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    finally:
        stream.close()
        datagram.close()
    report = json.loads(result.stdout)
    assert [(s["name"], s["fd"], s["type"], s["address"]) for s in report["sockets"]] == [
        ("main", 3, "SOCK_STREAM", str(tmp_path / "stream.sock")),
        ("events", 4, "SOCK_DGRAM", str(tmp_path / "dgram.sock")),
    ]
    assert report["left"] == []
