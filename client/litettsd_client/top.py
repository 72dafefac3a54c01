"""``litetts top``: a live terminal view of the daemon, refreshed once a second.

It asks the daemon for ``status`` and ``metrics`` over the socket, like any client, and
shows load, latency, real-time factor, queue, cache, CPU and memory, loaded voices and
recent errors. ``q`` quits: the terminal is put in cbreak mode so the key arrives without
Enter, and the wait between refreshes is a ``select`` on stdin, so a key press is seen at
once and nothing spins. Needs the ``top`` extra (rich). ``--once`` prints one frame and
exits, for scripts and for terminals that are not interactive.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .client import Client
from .protocol import LitettsError, Message

SYNTHESIS_OPS = ("synthesize", "char")
QUIT_KEYS = {"q", "Q"}
RECENT_ERRORS_SHOWN = 6


@dataclass
class Snapshot:
    """One refresh: the replies, the synthesis rate since the previous one, or why there are none."""

    status: Message | None = None
    metrics: dict[str, Any] | None = None
    rate: float | None = None
    error: str | None = None


class Sampler:
    """Polls the daemon; keeps the previous totals to turn counters into a rate."""

    def __init__(self, socket_path: str | None) -> None:
        self.client = Client(socket_path, timeout=5.0)
        self._previous: tuple[float, int] | None = None

    def sample(self) -> Snapshot:
        try:
            status = self.client.status()
            reply = self.client.metrics()
        except LitettsError as exc:  # the next sample reconnects
            self._previous = None
            return Snapshot(error=exc.message)
        metrics = reply.get("plugins", {}).get("metrics")
        snapshot = Snapshot(status=status, metrics=metrics)
        if metrics is not None:
            now, total = time.monotonic(), syntheses(metrics)
            if self._previous is not None:
                then, before = self._previous
                snapshot.rate = max(0, total - before) / max(now - then, 1e-6)
            self._previous = (now, total)
        return snapshot

    def close(self) -> None:
        self.client.close()


def syntheses(metrics: dict[str, Any]) -> int:
    """Every ``synthesize`` and ``char`` request so far, whatever its outcome: the load."""
    by_op = metrics["requests"]["by_op"]
    return sum(sum(by_op.get(op, {}).values()) for op in SYNTHESIS_OPS)


# --- rendering -------------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.0f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _bytes(size: float) -> str:
    units = ("B", "KiB", "MiB", "GiB")
    index = 0
    while size >= 1024 and index < len(units) - 1:
        size /= 1024
        index += 1
    return f"{size:.0f} B" if index == 0 else f"{size:.1f} {units[index]}"


def _uptime(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _pairs(title: str, rows: list[tuple[str, str]]) -> Panel:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim")
    table.add_column(justify="right")
    for label, value in rows:
        table.add_row(label, value)
    return Panel(table, title=title, title_align="left")


def render(snapshot: Snapshot, interval: float | None) -> RenderableType:
    """The whole screen for one snapshot; ``interval`` None for a single frame (no live hints)."""
    live = interval is not None
    footer = Text(f"q quit · refresh every {interval:g} s" if live else "", style="dim")
    if snapshot.status is None:
        unreachable = Text(f"litettsd unreachable: {snapshot.error}", style="bold red")
        return Group(unreachable, Text("retrying…"), footer) if live else unreachable
    status = snapshot.status
    header = Text.assemble(
        (f"litettsd {status.get('version')}", "bold"),
        f"  pid {status.get('pid')}  up {_uptime(status.get('uptime', 0))}  {status.get('socket')}",
    )
    metrics = snapshot.metrics
    queue = status.get("queue", {})
    if metrics is None:
        note = Text("the daemon runs no `metrics` plugin: status only", style="yellow")
        queue_panel = _pairs("Queue", [("waiting", str(queue.get("waiting"))), ("in flight", str(status.get("requests_in_flight")))])
        return Group(header, note, queue_panel, footer)

    requests = metrics["requests"]
    synthesis = metrics["synthesis"]
    first = metrics["histograms"]["first_audio_seconds"]
    synth = metrics["histograms"]["synth_seconds"]
    rtf = metrics["histograms"]["real_time_factor"]
    cache = metrics["cache"]
    process = metrics["process"]
    errors = sum(requests["errors"].values())

    panels = Table.grid(expand=True, padding=(0, 1))
    for _ in range(3):
        panels.add_column(ratio=1)
    panels.add_row(
        _pairs(
            "Requests",
            [
                ("syntheses/s", _num(snapshot.rate)),
                ("completed", str(synthesis["completed"])),
                ("from cache", str(synthesis["cached"])),
                ("errors", str(errors)),
                ("audio", f"{synthesis['audio_seconds']:.1f} s"),
                ("all requests", str(requests["total"])),
            ],
        ),
        _pairs(
            "Latency, ms (p50 / p90 / p99)",
            [
                ("first audio", f"{_ms(first['p50'])} / {_ms(first['p90'])} / {_ms(first['p99'])}"),
                ("synthesis", f"{_ms(synth['p50'])} / {_ms(synth['p90'])} / {_ms(synth['p99'])}"),
                ("real-time factor", f"{_num(rtf['p50'], 3)} / {_num(rtf['p90'], 3)} / {_num(rtf['p99'], 3)}"),
            ],
        ),
        _pairs(
            "Process",
            [
                ("CPU", f"{process['cpu_percent']:.1f} %"),
                ("memory", _bytes(process["rss_bytes"])),
                ("threads", str(process["threads"])),
                ("connections", str(metrics.get("connections"))),
            ],
        ),
    )
    ratio = cache.get("hit_ratio")
    panels.add_row(
        _pairs(
            "Queue",
            [
                ("waiting", str(queue.get("waiting"))),
                ("inference", "busy" if queue.get("busy") else "idle"),
                ("in flight", str(status.get("requests_in_flight"))),
            ],
        ),
        _pairs(
            "Cache",
            [
                ("hits / misses", f"{cache.get('hits', 0)} / {cache.get('misses', 0)}"),
                ("hit ratio", "–" if ratio is None else f"{ratio * 100:.0f} %"),
                ("entries", str(cache.get("entries", 0))),
                ("size", f"{_bytes(cache.get('bytes', 0))} of {_bytes(cache.get('max_bytes', 0))}"),
            ],
        ),
        _voices_panel(status, synthesis["by_voice"]),
    )
    return Group(header, panels, _errors_panel(metrics), footer)


def _voices_panel(status: Message, by_voice: dict[str, int]) -> Panel:
    table = Table.grid(padding=(0, 1))
    table.add_column()
    table.add_column(justify="right")
    loaded = status.get("voices_loaded", [])
    for voice in sorted(set(loaded) | set(by_voice)):
        table.add_row(Text(voice, style="bold" if voice in loaded else "dim"), str(by_voice.get(voice, 0)))
    title = f"Voices ({len(loaded)} loaded of {status.get('voices_available')})"
    return Panel(table, title=title, title_align="left")


def _errors_panel(metrics: dict[str, Any]) -> Panel:
    recent = metrics["recent_errors"][-RECENT_ERRORS_SHOWN:]
    plugin_errors = metrics["plugin_errors"]
    lines = [
        Text.assemble(
            (time.strftime("%H:%M:%S", time.localtime(error["at"])), "dim"),
            f"  {error['op']}  ",
            (str(error["code"]), "red"),
            f"  {error.get('voice') or ''}",
        )
        for error in reversed(recent)
    ]
    if plugin_errors:
        lines.append(Text("plugin errors: " + ", ".join(f"{name} ×{count}" for name, count in plugin_errors.items()), "yellow"))
    return Panel(Group(*lines) if lines else Text("none", style="dim"), title="Recent errors", title_align="left")


# --- the loop ----------------------------------------------------------------------------


@contextlib.contextmanager
def cbreak(stream: TextIO) -> Iterator[None]:
    """Keys without Enter and without echo; the terminal is restored however we leave."""
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def wait_for_quit(fd: int, seconds: float) -> bool:
    """Sleep up to ``seconds`` in ``select``; true as soon as a quit key is pressed."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            keys = os.read(fd, 64).decode(errors="ignore")
            if not keys:  # end of input: nobody can press q any more
                return True
            if QUIT_KEYS & set(keys):
                return True
    return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litetts top", description="Live view of the litettsd daemon; q quits.")
    parser.add_argument("--socket", metavar="PATH", help="daemon socket (default: $LITETTSD_SOCKET or the per-user path)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    parser.add_argument("--once", action="store_true", help="print one frame and exit (1 if the daemon is unreachable)")
    return parser


def main_top(argv: list[str]) -> int:
    """Run the live view until q or Ctrl-C; returns the exit status."""
    args = _parser().parse_args(argv)
    sampler = Sampler(args.socket)
    console = Console()
    try:
        if args.once or not sys.stdin.isatty():
            snapshot = sampler.sample()
            console.print(render(snapshot, None))
            return 0 if snapshot.status is not None else 1
        with cbreak(sys.stdin), Live(console=console, screen=True, auto_refresh=False) as live:
            while True:
                live.update(render(sampler.sample(), args.interval), refresh=True)
                if wait_for_quit(sys.stdin.fileno(), args.interval):
                    return 0
    except KeyboardInterrupt:
        return 0
    finally:
        sampler.close()


if __name__ == "__main__":
    sys.exit(main_top(sys.argv[1:]))
