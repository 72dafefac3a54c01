"""Shared pieces of the benchmarks: a daemon subprocess, socket requests, medians."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from litettsd_client.protocol import encode_frame, recv_frame

BIN = Path(sys.executable).parent
TERMINAL = {"end", "cancelled", "error"}


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def paired_ratio(ours: list[float], theirs: list[float]) -> float:
    """Median of ``ours[i] / theirs[i]``: runs of one round are back to back, so the drift of a
    shared machine's speed over seconds, which moves whole rounds, cancels out of each pair."""
    return median([a / b for a, b in zip(ours, theirs, strict=True)])


class Daemon:
    """A litettsd subprocess on a private socket, sharing the benchmark's model cache."""

    def __init__(self, cache: Path, config: str = "") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="litettsd-bench-"))
        self.socket = self.root / "litettsd.sock"
        config_file = self.root / "bench.toml"
        config_file.write_text(f'[cache]\ndir = "{cache}"\n[log]\nlevel = "warning"\n{config}')
        # The daemon's sd_notify messages come here, as they would to systemd: READY=1 is sent
        # once the default voice is loaded and its warm-up inference has run. A thread blocked
        # on the socket notes the arrival time, whatever the benchmark is doing meanwhile.
        self.notifications = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notifications.bind(str(self.root / "notify.sock"))
        self._ready_at: float | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._watch_notifications, daemon=True).start()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(BIN / "litettsd"), "--socket", str(self.socket), "--config", str(config_file)],
            stderr=open(self.root / "daemon.log", "wb"),
            env={**os.environ, "NOTIFY_SOCKET": str(self.root / "notify.sock")},
        )

    def _watch_notifications(self) -> None:
        while not self._ready.is_set():
            try:
                message = self.notifications.recv(4096)
            except OSError:  # closed by stop()
                return
            if b"READY=1" in message.split(b"\n"):
                self._ready_at = time.perf_counter()
                self._ready.set()

    def seconds_to_ready(self, timeout: float = 60.0) -> float:
        """Seconds from exec to the daemon's first READY=1 notification."""
        if not self._ready.wait(timeout) or self._ready_at is None:
            raise RuntimeError(f"no READY=1 within {timeout} s")
        return self._ready_at - self.started

    def connect(self, timeout: float = 60.0) -> socket.socket:
        deadline = time.perf_counter() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.socket))
                return sock
            except OSError:
                sock.close()
                if time.perf_counter() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.002)

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")

    def children_private_mb(self) -> float:
        """Memory of the daemon's child processes (its espeak-ng) that no other process maps:
        what they add to the daemon's own (the interpreter's code and libraries are shared)."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                if parent != self.proc.pid:
                    continue
                for line in (stat.parent / "smaps_rollup").read_text().splitlines():
                    if line.startswith(("Private_Clean:", "Private_Dirty:")):
                        total += int(line.split()[1])
            except (OSError, ValueError, IndexError):  # gone meanwhile
                continue
        return total / 1024

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.notifications.close()


def request(sock: socket.socket, message: dict[str, Any]) -> tuple[list[dict[str, Any]], float | None, float]:
    """Send one request; return its frames, seconds to the first audio frame and to the last frame."""
    started = time.perf_counter()
    sock.sendall(encode_frame(message))
    frames = []
    first = None
    while True:
        frame = recv_frame(sock)
        assert frame is not None
        if frame.get("id") != message["id"]:
            continue
        frames.append(frame)
        if frame["type"] == "audio" and first is None:
            first = time.perf_counter() - started
        if frame["type"] in TERMINAL or message["op"] != "synthesize":
            return frames, first, time.perf_counter() - started


def wait_ready(daemon: Daemon) -> tuple[float, float]:
    """Seconds from exec to the first pong, and to READY=1 (default voice loaded and warmed)."""
    with daemon.connect() as sock:
        request(sock, {"op": "ping", "id": 1})
        first_pong = time.perf_counter() - daemon.started
    return first_pong, daemon.seconds_to_ready()


def compile_daemon_modules() -> None:
    """Byte-compile litettsd's three packages, as installing a wheel does.

    An interpreter that may not write bytecode (``PYTHONDONTWRITEBYTECODE``, set in many
    development shells) recompiles every module edited since the last written ``.pyc`` at
    each start, which would add tens of milliseconds to the daemon's start-up times; the
    baselines, installed from wheels, were compiled at install time.
    """
    import compileall
    import importlib.util

    for package in ("litettsd", "litettsd_plugins", "litettsd_client"):
        spec = importlib.util.find_spec(package)
        if spec is not None:
            for folder in spec.submodule_search_locations or []:
                compileall.compile_dir(folder, quiet=1)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def environment() -> dict[str, Any]:
    import onnxruntime

    return {
        "cpu": cpu_model(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "onnxruntime": onnxruntime.__version__,
        "python": sys.version.split()[0],
    }
