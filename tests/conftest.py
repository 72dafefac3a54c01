"""Shared fixtures: a real daemon subprocess on a temporary socket, with real voices."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from litettsd_client.protocol import encode_frame, recv_frame

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_VOICE = "piper:en_US-joe-medium"
TERMINAL = {"end", "cancelled", "error"}


class RawConnection:
    """A bare protocol connection for tests that must see every frame as sent."""

    def __init__(self, path: Path, timeout: float = 120.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(encode_frame(message))

    def recv(self) -> dict[str, Any] | None:
        return recv_frame(self.sock)

    def request(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Send one request and collect its frames up to the terminal one (or the single reply)."""
        self.send(message)
        return self.collect(message["id"], multi=message.get("op") == "synthesize")

    def collect(self, rid: int, multi: bool = True) -> list[dict[str, Any]]:
        frames: list[dict[str, Any]] = []
        while True:
            frame = self.recv()
            assert frame is not None, f"connection closed before request {rid} ended: {frames}"
            if frame.get("id") != rid:
                continue
            frames.append(frame)
            if not multi or frame["type"] in TERMINAL:
                return frames

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def audio_of(frames: list[dict[str, Any]]) -> bytes:
    return b"".join(f["data"] for f in frames if f["type"] == "audio")


class DaemonProcess:
    """A litettsd subprocess; ``stop()`` sends SIGTERM and returns the exit code."""

    def __init__(
        self, root: Path, cache: Path, config: str = "", env: dict[str, str] | None = None, socket: Path | None = None
    ) -> None:
        self.socket = socket or root / "litettsd.sock"
        self.log = root / "daemon.log"
        base_file = root / "base.toml"
        base_file.write_text(f'[cache]\ndir = "{cache}"\n')
        config_file = root / "test.toml"
        config_file.write_text(config)
        # The machine's own /etc/litettsd and ~/.config/litettsd must not leak into tests.
        environment = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "LITETTSD_SYSTEM_CONFIG_DIR": str(root / "etc"),
            "XDG_CONFIG_HOME": str(root / "xdg"),
            **(env or {}),
        }
        self._log_handle = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "litettsd"), "--socket", str(self.socket), "--config", str(base_file), "--config", str(config_file)],
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            env=environment,
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                with RawConnection(self.socket, timeout=5) as conn:
                    status = conn.request({"op": "status", "id": 1})[0]
                    if status.get("voices_loaded"):  # the default voice loads first
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"daemon not ready after {timeout}s:\n{self.log.read_text()}")

    def connect(self) -> RawConnection:
        return RawConnection(self.socket)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_handle.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the session, so derived models are prepared once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def daemon(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[DaemonProcess]:
    """The shared daemon with the default configuration."""
    process = DaemonProcess(tmp_path_factory.mktemp("daemon"), model_cache)
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture
def start_daemon(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[Any]:
    """Start a private daemon (custom config or env); stopped after the test."""
    started: list[DaemonProcess] = []

    def start(
        config: str = "", env: dict[str, str] | None = None, wait: bool = True, socket: Path | None = None
    ) -> DaemonProcess:
        process = DaemonProcess(tmp_path_factory.mktemp("daemon"), model_cache, config, env, socket)
        started.append(process)
        if wait:
            process.wait_ready()
        return process

    yield start
    for process in started:
        process.stop()
