"""``litetts top`` in a real pseudo-terminal (tmux): it renders the daemon's numbers and q quits."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from litettsd_client import Client, LitettsError
from litettsd_client.top import Snapshot, render

from .conftest import DEFAULT_VOICE

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (scripts/install-system-deps)")


class Tmux:
    """One detached tmux session running a command on a 140x45 screen."""

    def __init__(self, name: str, command: str) -> None:
        self.name = name
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "140", "-y", "45", command], check=True)

    def screen(self) -> str:
        result = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return result.stdout

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"screen never matched:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def top(daemon: Any, tmp_path: Path) -> Iterator[tuple[Tmux, Path]]:
    exit_file = tmp_path / "exit"
    # pytest exports COLUMNS=80 and LINES=24, which rich would believe over the terminal.
    command = (
        f"env -u COLUMNS -u LINES {shlex.quote(sys.executable)} -m litettsd_client.top --socket {shlex.quote(str(daemon.socket))}; "
        f"echo $? > {shlex.quote(str(exit_file))}; sleep 60"
    )
    session = Tmux(f"litettsd-top-{tmp_path.name}", f"sh -c {shlex.quote(command)}")
    yield session, exit_file
    session.kill()


def shows_completed(screen: str, count: int) -> bool:
    """The Requests panel (leftmost column) says ``completed <count>``."""
    return any(line.split()[1:3] == ["completed", str(count)] for line in screen.splitlines())


def test_top_shows_live_numbers_and_quits_on_q(daemon: Any, top: tuple[Tmux, Path]) -> None:
    session, exit_file = top
    with Client(daemon.socket, timeout=120) as client:
        client.synthesize("Top should count this.", format="pcm").read()
        completed = client._call("metrics")["plugins"]["metrics"]["synthesis"]["completed"]
        screen = session.wait_for(lambda s: shows_completed(s, completed))
        assert "litettsd 0.1.0" in screen and "syntheses/s" in screen
        assert DEFAULT_VOICE in screen
        assert "first audio" in screen and "real-time factor" in screen
        assert "hit ratio" in screen and "CPU" in screen and "memory" in screen
        # It refreshes: a new synthesis and an error show up within a couple of seconds.
        client.synthesize("And this one as well.", format="pcm").read()
        session.wait_for(lambda s: shows_completed(s, completed + 1), timeout=10)
        with pytest.raises(LitettsError):
            client.synthesize("Then one that fails.", voice="nobody:none").read()
        session.wait_for(lambda s: "unknown_voice" in s and "nobody:none" in s, timeout=10)
    session.keys("q")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not exit_file.exists():
        time.sleep(0.05)
    assert exit_file.read_text().strip() == "0"


def test_top_once_prints_a_frame(daemon: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "litettsd_client.top", "--socket", str(daemon.socket), "--once"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "160"},  # rich's width when stdout is not a terminal
    )
    assert result.returncode == 0, result.stderr
    assert "Requests" in result.stdout and "Latency" in result.stdout and DEFAULT_VOICE in result.stdout


@pytest.mark.parametrize("socket_first", [["--socket", "{}"], ["--socket={}"]])
def test_litetts_top_takes_the_socket_before_the_command_too(daemon: Any, socket_first: list[str]) -> None:
    """``litetts --socket P status`` is how every other command is written; top must follow."""
    litetts = Path(sys.executable).parent / "litetts"
    given = [word.format(daemon.socket) for word in socket_first]
    result = subprocess.run(
        [str(litetts), *given, "top", "--once"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "160"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Requests" in result.stdout and DEFAULT_VOICE in result.stdout


def test_top_says_when_the_daemon_is_unreachable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "litettsd_client.top", "--socket", str(tmp_path / "none.sock"), "--once"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "unreachable" in result.stdout
    assert "retrying" not in result.stdout and "q quit" not in result.stdout  # one frame: no live hints


def test_render_without_the_metrics_plugin() -> None:
    from rich.console import Console

    status = {"version": "0.1.0", "pid": 1, "uptime": 5.0, "socket": "/s", "queue": {"waiting": 0}, "requests_in_flight": 0}
    console = Console(width=100, record=True)
    console.print(render(Snapshot(status=status), 1.0))
    assert "no `metrics` plugin" in console.export_text()
