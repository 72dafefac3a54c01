"""Counters and histograms of every request, answered through the ``metrics`` op.

The daemon tells each metrics plugin about every finished request
(``litettsd_request_finished``) and asks for a map when a client sends ``metrics``
(``litettsd_metrics``). This plugin keeps, since the daemon started:

* requests by op, outcome and error code, and the last few errors;
* for syntheses that produced audio: per-voice and per-format counts, audio seconds, text
  characters and bytes sent, and histograms of time to first audio, synthesis time and
  real-time factor (synthesis seconds per audio second);
* from the ``status`` it is handed: cache hits and misses, queue depth, loaded voices and
  plugin errors;
* the daemon process's CPU time, CPU share and resident memory (psutil).

``litetts top``, the HTTP gateway's dashboard and the ``prometheus`` exporter all read
this map, so it is the one place that defines these numbers. Hooks run on the event
loop, but the map may also be read from other threads, so all state sits behind a lock.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from litettsd.api import RequestRecord
from litettsd.hookspecs import hookimpl

SYNTHESIS_OPS = frozenset({"synthesize", "char"})
"""Ops that produce audio; only they feed the audio histograms and per-voice counts."""

SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Upper bounds for latencies: a cached phrase answers in about a millisecond, a long text in tens of seconds."""
RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)
"""Upper bounds for the real-time factor; above 1.0 speech is made slower than it is spoken."""

WINDOW = 1000
"""Percentiles come from this many most recent observations: all-time percentiles of a
long-running daemon stop moving, and people watching ``top`` want to see the present."""
RECENT_ERRORS = 20
PROCESS_SAMPLE_SECONDS = 1.0
"""Reuse a process sample younger than this. A sample costs about 60 µs (measured with
psutil 7 on this project's 2-core machine), so taking it lazily on the loop, at most once
a second however many clients poll, is cheaper than keeping a sampling thread alive."""


class Histogram:
    """Cumulative bucket counts, count and sum since start, percentiles over a recent window."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0
        self.recent: deque[float] = deque(maxlen=WINDOW)

    def observe(self, value: float) -> None:
        """Count one value; callers hold the lock."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value
        self.recent.append(value)

    def snapshot(self) -> dict[str, Any]:
        """Buckets as ``[upper bound, cumulative count]`` pairs (Prometheus ``le`` style, "+Inf" last)."""
        buckets: list[list[Any]] = []
        running = 0
        for bound, count in zip([*self.bounds, "+Inf"], self.counts):
            running += count
            buckets.append([bound, running])
        ordered = sorted(self.recent)
        return {
            "buckets": buckets,
            "count": self.count,
            "sum": self.sum,
            "p50": percentile(ordered, 50),
            "p90": percentile(ordered, 90),
            "p99": percentile(ordered, 99),
        }


def percentile(ordered: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of sorted values: always one of the observed values, ``None`` if none."""
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class ProcessSample:
    """One reading of the daemon process; ``cpu_percent`` is over the span since the previous one."""

    at: float
    cpu_seconds: float
    cpu_percent: float
    rss_bytes: int
    threads: int

    def to_map(self) -> dict[str, Any]:
        return {
            "cpu_seconds": self.cpu_seconds,
            "cpu_percent": self.cpu_percent,
            "rss_bytes": self.rss_bytes,
            "threads": self.threads,
        }


@dataclass
class Metrics:
    """Everything counted since start; one instance per daemon process (module state survives reloads)."""

    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(op, outcome, error code or "") -> count."""
    voices: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    audio_seconds: float = 0.0
    text_chars: int = 0
    bytes_sent: int = 0
    cached: int = 0
    first_audio: Histogram = field(default_factory=lambda: Histogram(SECONDS_BUCKETS))
    synth: Histogram = field(default_factory=lambda: Histogram(SECONDS_BUCKETS))
    rtf: Histogram = field(default_factory=lambda: Histogram(RTF_BUCKETS))
    errors: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_ERRORS))
    process: ProcessSample | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _proc: Any = None
    """``psutil.Process``, made on the first reading: importing psutil costs ~9 ms of start-up."""

    def observe(self, record: RequestRecord) -> None:
        """Count one finished request."""
        with self.lock:
            self.requests[(record.op, record.outcome, record.error_code or "")] += 1
            if record.outcome == "error":
                self.errors.append(
                    {"at": time.time(), "op": record.op, "code": record.error_code, "voice": record.voice}
                )
            # Only finished syntheses: their voice and format are the resolved ones, whereas a
            # refused request carries whatever the client typed (unbounded label values).
            if record.op not in SYNTHESIS_OPS or record.outcome != "ok":
                return
            self.voices[record.voice or ""] += 1
            self.formats[record.format or ""] += 1
            self.audio_seconds += record.audio_seconds
            self.text_chars += record.text_chars
            self.bytes_sent += record.bytes_sent
            if record.first_audio_seconds is not None:
                self.first_audio.observe(record.first_audio_seconds)
            if record.cached:
                # A replay reports the original synthesis time; counting it again would
                # describe inference that never ran.
                self.cached += 1
                return
            self.synth.observe(record.synth_seconds)
            if record.audio_seconds > 0:
                self.rtf.observe(record.synth_seconds / record.audio_seconds)

    def sample_process(self) -> ProcessSample:
        """The latest process reading, refreshed when older than ``PROCESS_SAMPLE_SECONDS``."""
        now = time.monotonic()
        with self.lock:
            previous = self.process
            if previous is not None and now - previous.at < PROCESS_SAMPLE_SECONDS:
                return previous
            if self._proc is None:
                import psutil

                self._proc = psutil.Process()
            with self._proc.oneshot():
                times = self._proc.cpu_times()
                rss = self._proc.memory_info().rss
                threads = self._proc.num_threads()
                created = self._proc.create_time()
            cpu = times.user + times.system
            if previous is None:  # first reading: the average since the process started
                span, used = max(time.time() - created, 1e-9), cpu
            else:
                span, used = now - previous.at, cpu - previous.cpu_seconds
            self.process = ProcessSample(now, cpu, 100.0 * used / span, rss, threads)
            return self.process

    def snapshot(self, status: dict[str, Any]) -> dict[str, Any]:
        """The JSON-able map for the ``metrics`` reply."""
        process = self.sample_process().to_map()
        cache = dict(status.get("cache") or {})
        looked_up = cache.get("hits", 0) + cache.get("misses", 0)
        cache["hit_ratio"] = cache.get("hits", 0) / looked_up if looked_up else None
        with self.lock:
            by_op: dict[str, dict[str, int]] = {}
            by_code: Counter[str] = Counter()
            for (op, outcome, code), count in self.requests.items():
                outcomes = by_op.setdefault(op, {})
                outcomes[outcome] = outcomes.get(outcome, 0) + count
                if code:
                    by_code[code] += count
            return {
                "uptime": status.get("uptime"),
                "requests": {
                    "total": sum(self.requests.values()),
                    "by_op": by_op,
                    "errors": dict(by_code),
                    "series": [
                        {"op": op, "outcome": outcome, "code": code, "count": count}
                        for (op, outcome, code), count in sorted(self.requests.items())
                    ],
                },
                "synthesis": {
                    "completed": sum(self.voices.values()),
                    "cached": self.cached,
                    "audio_seconds": self.audio_seconds,
                    "text_chars": self.text_chars,
                    "bytes_sent": self.bytes_sent,
                    "by_voice": dict(self.voices),
                    "by_format": dict(self.formats),
                },
                "histograms": {
                    "first_audio_seconds": self.first_audio.snapshot(),
                    "synth_seconds": self.synth.snapshot(),
                    "real_time_factor": self.rtf.snapshot(),
                },
                "recent_errors": list(self.errors),
                "cache": cache,
                "queue": dict(status.get("queue") or {}),
                "requests_in_flight": status.get("requests_in_flight"),
                "connections": status.get("connections"),
                "voices_loaded": list(status.get("voices_loaded") or []),
                "plugin_errors": dict(status.get("plugin_errors") or {}),
                "process": process,
            }


METRICS = Metrics()
"""This process's counters. Module state, so a reload that rebuilds the plugin manager
(which re-registers this same imported module) keeps counting from where it was."""


@hookimpl
def litettsd_request_finished(record: RequestRecord) -> None:
    METRICS.observe(record)


@hookimpl
def litettsd_metrics(status: dict[str, Any]) -> dict[str, Any]:
    return METRICS.snapshot(status)
