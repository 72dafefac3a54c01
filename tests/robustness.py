"""Shared pieces of the fuzz, fault and load tests (fast in `make test`, long in `make soak`)."""

from __future__ import annotations

import os
from pathlib import Path

SOAK = os.environ.get("LITETTSD_SOAK") == "1"
"""`make soak` sets this: the long versions of the same tests."""


def scaled(fast: int, soak: int) -> int:
    return soak if SOAK else fast


def process_footprint(pid: int) -> dict[str, int]:
    """RSS (kB), open file descriptors and threads of a process."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return {
        "rss_kb": rss,
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": len(os.listdir(f"/proc/{pid}/task")),
    }


def report(name: str, figures: dict[str, object]) -> None:
    """Append figures to the soak report (build/soak-report.txt) and print them."""
    line = f"{name}: " + ", ".join(f"{k}={v}" for k, v in figures.items())
    print(line)
    out = Path(__file__).resolve().parent.parent / "build" / "soak-report.txt"
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as handle:
        handle.write(line + "\n")
