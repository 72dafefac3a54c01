"""The line protocol every baseline server speaks, so ``bench_compare.py`` drives them alike.

A baseline runs as a long-lived subprocess, like the daemon, so that its model load is paid
once and measured on its own: on start it loads and synthesizes one warm-up phrase, then
prints one JSON line ``{"ready": ..., "import_s", "load_s", "first_synthesis_s"}``. After
that each line read from stdin is a JSON request and each reply one JSON line of timings
taken inside the process (no pipe latency): ``first_s`` (first audio available), ``total_s``
and ``audio_s`` (seconds of audio produced). End of input ends the server.

This file must run under any of the baseline virtual environments, so it uses only the
standard library.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

STARTED = time.perf_counter()
"""Taken when the server script first imports this module, before its heavy imports."""

WARM_UP_TEXT = "Ready."
"""The daemon warms each voice with this phrase; the baselines do the same."""

Synthesizer = Callable[[dict[str, Any]], Iterator[int]]
"""Runs one request, yielding the sample count of each piece of audio as it becomes available."""


def timed(synthesize: Synthesizer, request: dict[str, Any], sample_rate: int) -> dict[str, float]:
    """Time one request: to its first audio, to its end, and how much audio it made."""
    started = time.perf_counter()
    first = None
    samples = 0
    for count in synthesize(request):
        if first is None:
            first = time.perf_counter() - started
        samples += count
    total = time.perf_counter() - started
    return {"first_s": total if first is None else first, "total_s": total, "audio_s": samples / sample_rate}


def serve(imported: float, load: Callable[[], tuple[Synthesizer, int]]) -> None:
    """Load (timed), warm up (timed), report ready, then answer requests until stdin closes."""
    load_started = time.perf_counter()
    synthesize, sample_rate = load()
    loaded = time.perf_counter()
    timed(synthesize, {"text": WARM_UP_TEXT}, sample_rate)
    ready = time.perf_counter()
    print(
        json.dumps(
            {
                "ready": True,
                "import_s": imported - STARTED,
                "load_s": loaded - load_started,
                "first_synthesis_s": ready - loaded,
            }
        ),
        flush=True,
    )
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(timed(synthesize, json.loads(line), sample_rate)), flush=True)
