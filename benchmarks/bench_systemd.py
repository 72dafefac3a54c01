"""Issue 6's figures: exec to READY=1 over sd_notify, and first audio of a socket-activated request.

systemd is not PID 1 here, so the benchmark owns the NOTIFY_SOCKET datagram socket (as
systemd would) and uses the real ``systemd-socket-activate`` for activation.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import BIN, median

from litettsd_client.protocol import encode_frame, recv_frame

ROUNDS = 5


def _config(cache: Path, folder: Path) -> Path:
    path = folder / "bench.toml"
    path.write_text(f'[cache]\ndir = "{cache}"\nphrases = []\n[log]\nlevel = "warning"\n')
    return path


def _exec_to_ready(cache: Path) -> float:
    folder = Path(tempfile.mkdtemp(prefix="litettsd-notify-"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(folder / "notify"))
    listener.settimeout(60)
    env = {**os.environ, "NOTIFY_SOCKET": str(folder / "notify")}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "litettsd"), "--socket", str(folder / "s.sock"), "--config", str(_config(cache, folder))],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        while b"READY=1" not in listener.recv(4096).split(b"\n"):
            pass
        return time.perf_counter() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        listener.close()


def _activated_first_audio(cache: Path) -> float:
    folder = Path(tempfile.mkdtemp(prefix="litettsd-activate-"))
    path = folder / "activated.sock"
    activator = subprocess.Popen(
        ["systemd-socket-activate", "-l", str(path), str(BIN / "litettsd"), "--config", str(_config(cache, folder))],
        stderr=subprocess.DEVNULL,
    )
    try:
        while not path.exists():
            time.sleep(0.01)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        started = time.perf_counter()
        sock.connect(str(path))  # starts the daemon
        sock.sendall(encode_frame({"op": "synthesize", "id": 1, "text": "Hello there.", "cache": False}))
        while (frame := recv_frame(sock)) is not None and frame["type"] != "audio":
            pass
        elapsed = time.perf_counter() - started
        sock.close()
        return elapsed
    finally:
        activator.send_signal(signal.SIGTERM)
        activator.wait(30)


def run(cache: Path) -> dict[str, Any]:
    _exec_to_ready(cache)  # first start prepares the cached models; not counted
    return {
        "exec_to_ready_notify_s": median([_exec_to_ready(cache) for _ in range(ROUNDS)]),
        "socket_activated_first_audio_s": median([_activated_first_audio(cache) for _ in range(ROUNDS)]),
    }
