"""The daemon as systemd sees it: notify messages, watchdog, socket activation, CPU pinning.

systemd is not PID 1 here, so the test plays its part of the notify protocol itself (it
owns the NOTIFY_SOCKET datagram socket); socket activation uses the real
``systemd-socket-activate``. Nothing else is faked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from .conftest import BIN, DaemonProcess, RawConnection, audio_of


class NotifyListener:
    """The service manager's end of sd_notify: collects (time, message) pairs."""

    def __init__(self, path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.path = path
        self.messages: list[tuple[float, str]] = []

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data.decode()))

    def wait_for(self, text: str, after: float = 0.0, timeout: float = 60) -> float:
        """When the first message holding the line ``text`` arrived after ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for when, message in self.messages:
                if when > after and text in message.split("\n"):
                    return when
            self.pump(0.1)
        raise AssertionError(f"no {text!r} after {after} in {[m for _, m in self.messages][-20:]}")

    def lines(self) -> list[str]:
        return [line for _, message in self.messages for line in message.split("\n")]


def test_notify_sequence_and_watchdog(tmp_path, model_cache):
    listener = NotifyListener(tmp_path / "notify")
    env = {"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "400000", "WATCHDOG_PID": ""}
    daemon = DaemonProcess(tmp_path, model_cache, env=env)
    try:
        ready_at = listener.wait_for("READY=1")
        lines = listener.lines()
        assert any(line.startswith("STATUS=loading") for line in lines[: lines.index("READY=1")])
        # Pings at half of WATCHDOG_USEC (0.2 s), from the event loop.
        listener.pump(2.0)
        pings = [when for when, message in listener.messages if message == "WATCHDOG=1" and when > ready_at]
        assert 6 <= len(pings) <= 14, len(pings)
        daemon.proc.send_signal(signal.SIGHUP)
        reloading_at = listener.wait_for("RELOADING=1", after=ready_at)
        after_reload = listener.wait_for("READY=1", after=reloading_at)
        reloading = next(m for _, m in listener.messages if "RELOADING=1" in m)
        assert "MONOTONIC_USEC=" in reloading
        assert after_reload > ready_at
        daemon.proc.send_signal(signal.SIGTERM)
        listener.wait_for("STOPPING=1", after=after_reload)
        assert daemon.proc.wait(30) == 0
    finally:
        daemon.stop()


def test_a_stop_during_a_reload_never_says_ready_again(tmp_path, model_cache):
    """READY=1 after STOPPING=1 would tell systemd the stopping service is back."""
    listener = NotifyListener(tmp_path / "notify")
    daemon = DaemonProcess(tmp_path, model_cache, "[cache]\nphrases = []\n", env={"NOTIFY_SOCKET": str(listener.path)})
    try:
        ready_at = listener.wait_for("READY=1")
        # A new default voice makes the reload load Kokoro: long enough to stop in the middle of it.
        (tmp_path / "test.toml").write_text('[synthesis]\ndefault_voice = "kokoro:jm_kumo"\n')
        daemon.proc.send_signal(signal.SIGHUP)
        listener.wait_for("RELOADING=1", after=ready_at)
        daemon.proc.send_signal(signal.SIGTERM)
        stopping_at = listener.wait_for("STOPPING=1", after=ready_at)
        assert daemon.proc.wait(60) == 0
        listener.pump(0.5)
        assert not any(when > stopping_at and "READY=1" in m.split("\n") for when, m in listener.messages), listener.messages
    finally:
        daemon.stop()


def test_status_line_is_a_live_summary(tmp_path, model_cache):
    listener = NotifyListener(tmp_path / "notify")
    daemon = DaemonProcess(tmp_path, model_cache, "[cache]\nphrases = []\n", env={"NOTIFY_SOCKET": str(listener.path)})
    try:
        listener.wait_for("READY=1")
        with RawConnection(daemon.socket) as conn:
            for rid in range(1, 4):
                assert conn.request({"op": "synthesize", "id": rid, "text": f"Request {rid}.", "cache": False})[-1]["type"] == "end"
        listener.pump(2.0)  # refreshed at most once a second
        statuses = [line for line in listener.lines() if line.startswith("STATUS=")]
        latest = statuses[-1]
        assert "serving piper:en_US-joe-medium" in latest and "3 requests served, 0 in flight" in latest, statuses
        rtf = float(latest.split("last real-time factor ")[1].split(";")[0])
        assert 0 < rtf < 1, latest  # the joe voice is far faster than real time on any CPU here
        (tmp_path / "test.toml").write_text("[server]\nmax_text_chars = -1\n")
        daemon.proc.send_signal(signal.SIGHUP)
        listener.wait_for("RELOADING=1")
        listener.pump(1.0)
        assert "last reload failed: " in [line for line in listener.lines() if line.startswith("STATUS=")][-1]
        with RawConnection(daemon.socket) as conn:  # finishes during the shutdown's grace period
            conn.send({"op": "synthesize", "id": 9, "text": "One more sentence, spoken while stopping."})
            assert conn.recv()["type"] == "start"
            daemon.proc.send_signal(signal.SIGTERM)
            listener.wait_for("STOPPING=1")
            conn.collect(9)
        listener.pump(2.0)
        assert [line for line in listener.lines() if line.startswith("STATUS=")][-1] == "STATUS=shutting down"
    finally:
        daemon.stop()


def test_blocked_event_loop_stops_watchdog_pings(tmp_path, model_cache):
    listener = NotifyListener(tmp_path / "notify")
    env = {"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "400000"}
    daemon = DaemonProcess(tmp_path, model_cache, '[plugins]\nload = ["tests.plugins.loop_blocker"]\n', env=env)
    try:
        listener.wait_for("READY=1")
        with daemon.connect() as conn:
            conn.send({"op": "ping", "id": 1})
            assert conn.recv()["type"] == "pong"
            listener.pump(4.0)
        pings = [when for when, message in listener.messages if message == "WATCHDOG=1"]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        assert max(gaps) > 2.5, gaps  # the blocked loop sent nothing for ~3 s
        assert pings[-1] > pings[0] + 3.0  # and pinging resumed afterwards
    finally:
        daemon.stop()


def test_socket_activation_serves_a_client_that_connected_first(tmp_path, model_cache):
    socket_path = tmp_path / "activated.sock"
    (tmp_path / "c.toml").write_text(f'[cache]\ndir = "{model_cache}"\n')
    env = {**os.environ, "LITETTSD_SYSTEM_CONFIG_DIR": str(tmp_path / "etc"), "XDG_CONFIG_HOME": str(tmp_path / "x")}
    unused = tmp_path / "configured.sock"  # the activated socket wins; the log says so
    activator = subprocess.Popen(
        ["systemd-socket-activate", "-l", str(socket_path), str(BIN / "litettsd"), "--config", str(tmp_path / "c.toml"),
         "--socket", str(unused)],
        env=env,
        stderr=open(tmp_path / "daemon.log", "wb"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not socket_path.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # The daemon has not even started yet: systemd-socket-activate starts it on this connection.
        with RawConnection(socket_path) as conn:
            frames = conn.request({"op": "synthesize", "id": 1, "text": "Activated by the first client."})
            status = conn.request({"op": "status", "id": 2})[0]
        assert frames[-1]["type"] == "end" and len(audio_of(frames)) > 10000
        assert status["socket"] == str(socket_path)
        activator.send_signal(signal.SIGTERM)
        assert activator.wait(30) == 0
        log = (tmp_path / "daemon.log").read_text()
        assert "socket activation" in log
        assert f"server.socket {unused} (flag --socket) is not used: systemd passed the socket {socket_path}" in log
        assert not unused.exists()
    finally:
        if activator.poll() is None:
            activator.kill()
            activator.wait()


def test_pinned_start_uses_only_allowed_cpus_and_matching_threads(tmp_path, model_cache):
    (tmp_path / "c.toml").write_text(f'[cache]\ndir = "{model_cache}"\n')
    env = {**os.environ, "LITETTSD_SYSTEM_CONFIG_DIR": str(tmp_path / "etc"), "XDG_CONFIG_HOME": str(tmp_path / "x")}
    proc = subprocess.Popen(
        ["taskset", "-c", "0", str(BIN / "litettsd"), "--socket", str(tmp_path / "s.sock"), "--config", str(tmp_path / "c.toml")],
        env=env,
        stderr=open(tmp_path / "daemon.log", "wb"),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with RawConnection(tmp_path / "s.sock") as conn:
                    status = conn.request({"op": "status", "id": 1})[0]
                    if status["voices_loaded"]:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert status["cpu"] == {"affinity": [0], "planned_threads": 1}
        assert status["threads"]["piper"] == 1
        # Every thread of the process, onnxruntime's included, is pinned to CPU 0.
        for task in os.listdir(f"/proc/{proc.pid}/task"):
            assert os.sched_getaffinity(int(task)) == {0}
    finally:
        proc.terminate()
        proc.wait(30)
