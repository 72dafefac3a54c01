"""Issue 4's figure: normalization must not slow the hot path.

Times the whole normalizer chain (as the pipeline builds it) over mixed real-world text and
compares it with the synthesis time of the same text through the daemon, in one run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common import Daemon, median, request, wait_ready

ROUNDS = 7
MIXED = (
    "On 2023-05-12 Dr. Smith paid $123.45 (approx. 15% more than the 1,250 budgeted) for 3/4 of the "
    "2.5 kg order; see https://example.com/orders/v1.2.3?id=42 or mail sales@example.com. "
    "The meeting is at 3:30 pm EST on March 12th, in room 101 at 42 Main St. "
    "Chapter IV covers the years 1999 to 2005, 5-10 pages each &amp; a few &#x27;quoted&#x27; notes. "
    "Call 555-123-4567 about serial 8472910384; it runs at 60 mph and 21°C, using 8 GB of RAM. "
)


def run(cache: Path) -> dict[str, Any]:
    from litettsd.api import NormalizeContext
    from litettsd.cache import AudioCache
    from litettsd.config import load_settings
    from litettsd.pipeline import Pipeline
    from litettsd.plugins import build_plugin_manager
    from litettsd.scheduler import InferenceScheduler
    from litettsd.voices import VoiceRegistry

    settings = load_settings().settings
    plugins = build_plugin_manager()
    pipeline = Pipeline(settings, plugins, VoiceRegistry([], None), InferenceScheduler(), AudioCache(0))  # type: ignore[arg-type]
    context = NormalizeContext()
    text = MIXED * 4
    pipeline.normalize_text(text, context)
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(10):
            pipeline.normalize_text(text, context)
        timings.append((time.perf_counter() - started) / 10)
    per_1000 = median(timings) / len(text) * 1000

    daemon = Daemon(cache)
    wait_ready(daemon)
    sock = daemon.connect()
    synth = []
    for rid in range(ROUNDS):
        time.sleep(0.3)
        _, _, total = request(sock, {"op": "synthesize", "id": rid + 1, "text": text, "cache": False})
        synth.append(total)
    sock.close()
    daemon.stop()
    return {
        "normalize_ms_per_1000_chars": 1000 * per_1000,
        "normalize_text_ms": 1000 * median(timings),
        "synthesize_text_ms": 1000 * median(synth),
        "normalize_share_of_synthesis": median(timings) / median(synth),
        "text_chars": len(text),
    }
