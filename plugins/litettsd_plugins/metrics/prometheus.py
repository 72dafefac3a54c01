"""Prometheus exposition of the ``metrics`` plugin's counters: a textfile or a loopback port.

Configured by its own table, off by default::

    [plugins.prometheus]
    mode = "textfile"                       # off | textfile | http
    path = "/var/lib/prometheus/node-exporter/litettsd.prom"
    interval = 15.0                         # seconds between textfile writes

    [plugins.prometheus]
    mode = "http"
    port = 9787                             # served on 127.0.0.1 only

The numbers come from the daemon's own ``metrics`` op, asked over the daemon's socket
from this plugin's thread, exactly as ``litetts top`` or any other client asks. That is
the one route that has the live ``status`` (queue, cache, plugin errors) as well as the
request counters, it never runs on the event loop, and a loop too busy to answer shows up
as ``litettsd_up 0`` instead of as numbers that silently stopped moving.

No hook hands plugins the settings at start and at every reload except the
``register_*`` ones, so ``litettsd_register_normalizers`` (called for every runtime the
daemon builds) is where the exporter is (re)configured; it registers no normalizer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litettsd.config import ConfigError, Settings, constraint
from litettsd.hookspecs import hookimpl
from litettsd_client.client import Client
from litettsd_client.protocol import LitettsError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# prometheus_client is imported where it is used, not here: the daemon imports every
# installed plugin at start, and importing it costs 60-80 ms that a daemon with the
# exporter off (the default) should not pay before it can speak.

log = logging.getLogger(__name__)

PLUGIN = "prometheus"
"""The entry-point name, which names the ``[plugins.prometheus]`` table."""
SOURCE_PLUGIN = "metrics"
"""The entry-point name of the counters plugin whose map is exported."""
MODES = ("off", "textfile", "http")
FETCH_TIMEOUT = 10.0
"""Seconds to wait for the daemon's answer before a scrape reports ``litettsd_up 0``."""


@dataclass(frozen=True)
class PrometheusSettings:
    """The ``[plugins.prometheus]`` table."""

    mode: str = field(default="off", metadata=constraint(choices=MODES))
    path: str = ""
    """textfile mode: the file to replace atomically; node_exporter only reads names ending in ``.prom``."""
    port: int = field(default=9787, metadata=constraint(1, 65535))
    """http mode: the port on 127.0.0.1 serving ``/metrics``."""
    interval: float = field(default=15.0, metadata=constraint(1.0, 86_400.0))
    """textfile mode: seconds between writes (http mode asks the daemon at each scrape)."""

    def __post_init__(self) -> None:
        # The schema types cannot say "path is required in textfile mode"; raising
        # ConfigError here makes check-config, start-up and reload refuse it cleanly.
        if self.mode == "textfile":
            if not os.path.isabs(self.path):
                raise ConfigError('[plugins.prometheus] mode = "textfile" needs an absolute path')
            if not self.path.endswith(".prom"):
                raise ConfigError("[plugins.prometheus] path must end in .prom (node_exporter reads only those)")


# --- the map -> Prometheus families -------------------------------------------------------


def _labelled(
    family: CounterMetricFamily | GaugeMetricFamily, rows: Iterable[tuple[list[str], float]]
) -> CounterMetricFamily | GaugeMetricFamily:
    for labels, value in rows:
        family.add_metric(labels, value)
    return family


def families(metrics: dict[str, Any] | None) -> list[Metric]:
    """Prometheus metric families for the counters plugin's map (see ``counters.Metrics.snapshot``).

    ``None`` (the daemon did not answer, or runs no ``metrics`` plugin) gives only ``litettsd_up 0``.
    """
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
    from prometheus_client.utils import floatToGoString

    def counter(name: str, doc: str, value: float) -> Metric:
        return CounterMetricFamily(name, doc, value=value)

    def gauge(name: str, doc: str, value: float) -> Metric:
        return GaugeMetricFamily(name, doc, value=value)

    def histogram(name: str, doc: str, snapshot: dict[str, Any]) -> Metric:
        buckets = [(bound if bound == "+Inf" else floatToGoString(bound), count) for bound, count in snapshot["buckets"]]
        return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=snapshot["sum"])

    up = gauge("litettsd_up", "1 if the daemon answered the metrics request of this scrape.", int(metrics is not None))
    if metrics is None:
        return [up]
    requests = metrics["requests"]
    synthesis = metrics["synthesis"]
    histograms = metrics["histograms"]
    cache = metrics["cache"]
    queue = metrics["queue"]
    process = metrics["process"]
    return [
        up,
        _labelled(
            CounterMetricFamily(
                "litettsd_requests", "Finished requests by op, outcome and error code.", labels=["op", "outcome", "code"]
            ),
            (([s["op"], s["outcome"], s["code"]], s["count"]) for s in requests["series"]),
        ),
        _labelled(
            CounterMetricFamily("litettsd_voice_syntheses", "Syntheses that finished with audio, by voice.", labels=["voice"]),
            (([voice], count) for voice, count in sorted(synthesis["by_voice"].items())),
        ),
        _labelled(
            CounterMetricFamily("litettsd_format_syntheses", "Syntheses that finished with audio, by format.", labels=["format"]),
            (([fmt], count) for fmt, count in sorted(synthesis["by_format"].items())),
        ),
        counter("litettsd_cached_syntheses", "Syntheses replayed from the audio cache.", synthesis["cached"]),
        counter("litettsd_audio_seconds", "Seconds of audio produced.", synthesis["audio_seconds"]),
        counter("litettsd_text_chars", "Characters of text synthesized.", synthesis["text_chars"]),
        counter("litettsd_sent_bytes", "Encoded audio bytes sent.", synthesis["bytes_sent"]),
        histogram(
            "litettsd_first_audio_seconds", "Time from request to its first audio frame.", histograms["first_audio_seconds"]
        ),
        histogram("litettsd_synth_seconds", "Inference time of syntheses not served from the cache.", histograms["synth_seconds"]),
        histogram(
            "litettsd_real_time_factor",
            "Synthesis seconds per second of audio (below 1: faster than real time).",
            histograms["real_time_factor"],
        ),
        counter("litettsd_cache_hits", "Audio cache hits.", cache.get("hits", 0)),
        counter("litettsd_cache_misses", "Audio cache misses.", cache.get("misses", 0)),
        gauge("litettsd_cache_entries", "Syntheses held in the audio cache.", cache.get("entries", 0)),
        gauge("litettsd_cache_bytes", "Bytes held in the audio cache.", cache.get("bytes", 0)),
        gauge("litettsd_queue_waiting", "Inference jobs waiting for the inference thread.", queue.get("waiting", 0)),
        gauge("litettsd_inference_busy", "1 while the inference thread is running a job.", int(bool(queue.get("busy")))),
        gauge("litettsd_requests_in_flight", "Requests being served.", metrics.get("requests_in_flight") or 0),
        gauge("litettsd_connections", "Open client connections.", metrics.get("connections") or 0),
        _labelled(
            GaugeMetricFamily("litettsd_voice_loaded", "1 for each loaded (warm) voice.", labels=["voice"]),
            (([voice], 1) for voice in metrics["voices_loaded"]),
        ),
        _labelled(
            CounterMetricFamily("litettsd_plugin_errors", "Exceptions raised by plugins, by plugin.", labels=["plugin"]),
            (([plugin], count) for plugin, count in sorted(metrics["plugin_errors"].items())),
        ),
        counter("litettsd_process_cpu_seconds", "CPU time of the daemon process (user + system).", process["cpu_seconds"]),
        gauge("litettsd_process_resident_memory_bytes", "Resident memory of the daemon process.", process["rss_bytes"]),
        gauge("litettsd_process_threads", "Threads of the daemon process.", process["threads"]),
        gauge("litettsd_uptime_seconds", "Seconds since the daemon started.", metrics.get("uptime") or 0),
    ]


FIRST_WRITE_S = 2.0
"""Seconds from start (or reconfiguration) to the textfile's first write."""


class DaemonSource:
    """Asks the daemon for ``metrics`` over one kept-open connection (reopened after a failure)."""

    def __init__(self, socket_path: Path) -> None:
        self._client = Client(socket_path, timeout=FETCH_TIMEOUT)
        self._lock = threading.Lock()
        """The blocking client serves one request at a time; scrapes may come from several threads."""

    def fetch(self) -> dict[str, Any] | None:
        """The counters map, or ``None`` if the daemon did not answer or has no ``metrics`` plugin."""
        with self._lock:
            try:
                reply = self._client.metrics()
            except LitettsError as exc:
                log.debug("prometheus: no metrics from the daemon: %s", exc)
                return None
        found: dict[str, Any] | None = reply.get("plugins", {}).get(SOURCE_PLUGIN)
        return found

    def close(self) -> None:
        with self._lock:
            self._client.close()


def build_registry(fetch: Callable[[], dict[str, Any] | None]) -> CollectorRegistry:
    """A registry whose every collection (textfile write or HTTP scrape) calls ``fetch`` afresh."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.registry import Collector

    class DaemonCollector(Collector):
        def collect(self) -> list[Metric]:
            return families(fetch())

    registry = CollectorRegistry()
    registry.register(DaemonCollector())
    return registry


# --- exporters ----------------------------------------------------------------------------


class Exporter:
    """The running export for one configuration: a textfile writer thread or an HTTP server."""

    def __init__(self, options: PrometheusSettings, socket_path: Path) -> None:
        self.options = options
        self.socket_path = socket_path
        self.source = DaemonSource(socket_path)
        self.registry = build_registry(self._fetch)
        self.collections = 0
        """Times the daemon answered an export (a textfile write or an HTTP scrape)."""
        self.last_collection: float | None = None
        self.last_error: str | None = None
        """Why the last textfile write failed, or why the port could not be opened."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: WSGIServer | None = None

    def start(self) -> None:
        if self.options.mode == "textfile":
            self._thread = threading.Thread(target=self._write_loop, name="litettsd-prometheus", daemon=True)
            self._thread.start()
            log.info("prometheus: writing %s every %g s", self.options.path, self.options.interval)
        elif self.options.mode == "http":
            from prometheus_client import start_http_server

            try:
                self._server, _ = start_http_server(self.options.port, addr="127.0.0.1", registry=self.registry)
            except OSError as exc:
                self.last_error = f"cannot listen on 127.0.0.1:{self.options.port}: {exc.strerror or exc}"
                log.error("prometheus: %s", self.last_error)
                return
            log.info("prometheus: serving http://127.0.0.1:%d/metrics", self.options.port)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(FETCH_TIMEOUT + 1)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.source.close()

    def _fetch(self) -> dict[str, Any] | None:
        metrics = self.source.fetch()
        if metrics is not None:
            self.collections += 1
            self.last_collection = time.time()
        return metrics

    def write_once(self) -> None:
        """Replace the textfile: a temporary file beside it, then a rename, so readers never see half a file.

        The file is made 0644 whatever the daemon's umask (the units set 0077): node_exporter
        runs as another user and must be able to read it.
        """
        from prometheus_client import generate_latest

        path = self.options.path
        temporary = f"{path}.{os.getpid()}.tmp"  # node_exporter skips names not ending in .prom
        try:
            text = generate_latest(self.registry)
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with os.fdopen(descriptor, "wb") as out:
                os.fchmod(out.fileno(), 0o644)
                out.write(text)
            os.replace(temporary, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            error = f"cannot write {path}: {exc.strerror or exc}"
            if error != self.last_error:  # once per distinct failure, not every interval
                log.error("prometheus: %s", error)
            self.last_error = error
            return
        self.last_error = None

    def _write_loop(self) -> None:
        # The first file comes soon after start: a collector must not find none for a whole
        # interval, which may be a day. Event.wait sleeps until then or stop(): no polling.
        wait = min(self.options.interval, FIRST_WRITE_S)
        while not self._stop.wait(wait):
            self.write_once()
            wait = self.options.interval

    def describe(self) -> dict[str, Any]:
        """This exporter's own state, for the ``metrics`` op."""
        target = self.options.path if self.options.mode == "textfile" else f"http://127.0.0.1:{self.options.port}/metrics"
        return {
            "mode": self.options.mode,
            "target": target,
            "collections": self.collections,
            "last_collection": self.last_collection,
            "last_error": self.last_error,
        }


_lock = threading.Lock()
_current: Exporter | None = None
"""The exporter in force; module state because each reload calls the hook again."""


def configure(options: PrometheusSettings, socket_path: Path) -> Exporter | None:
    """Apply a configuration: keep the running exporter if nothing changed, else replace it."""
    global _current
    with _lock:
        if _current is not None and (_current.options, _current.socket_path) == (options, socket_path):
            return _current
        if _current is not None:
            _current.stop()
            _current = None
        if options.mode != "off":
            _current = Exporter(options, socket_path)
            _current.start()
        return _current


@hookimpl
def litettsd_config_schema() -> type:
    return PrometheusSettings


@hookimpl
def litettsd_register_normalizers(settings: Settings) -> list[object]:
    """Not a normalizer: the hook called with the settings at start and at each reload."""
    configure(settings.plugins.table(PLUGIN, PrometheusSettings), settings.server.socket_path())
    return []


@hookimpl
def litettsd_metrics(status: dict[str, Any]) -> dict[str, Any] | None:
    exporter = _current
    return None if exporter is None else exporter.describe()
