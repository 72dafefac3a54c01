"""The ``metrics`` counters plugin and the ``prometheus`` exporter.

Unit tests feed ``RequestRecord``s straight into the counters; the daemon tests check the
same numbers come out of a real daemon after a known sequence of requests, and that the
Prometheus text (textfile and HTTP) parses with prometheus_client's own parser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from litettsd.api import RequestRecord
from litettsd_client import Client
from litettsd_plugins.metrics import counters, prometheus
from litettsd_plugins.metrics.counters import Histogram, Metrics, percentile
from litettsd_plugins.metrics.prometheus import PrometheusSettings, build_registry, configure, families

from .conftest import DEFAULT_VOICE

LITETTSD = str(Path(sys.executable).with_name("litettsd"))
STATUS = {
    "uptime": 12.0,
    "cache": {"entries": 2, "bytes": 100, "max_bytes": 1000, "hits": 1, "misses": 3},
    "queue": {"waiting": 2, "busy": True},
    "requests_in_flight": 1,
    "connections": 3,
    "voices_loaded": [DEFAULT_VOICE],
    "plugin_errors": {"faulty": 4},
}


def ok(voice: str = DEFAULT_VOICE, **fields: Any) -> RequestRecord:
    values: dict[str, Any] = dict(
        op="synthesize", outcome="ok", voice=voice, format="pcm", text_chars=10, audio_seconds=2.0,
        synth_seconds=0.5, first_audio_seconds=0.1, bytes_sent=1000,
    )
    values.update(fields)
    return RequestRecord(**values)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# --- counters, unit --------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 90) == 90.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_histogram_buckets_are_cumulative() -> None:
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 2.0):
        histogram.observe(value)
    snapshot = histogram.snapshot()
    assert snapshot["buckets"] == [[0.1, 2], [1.0, 3], ["+Inf", 4]]  # le: 0.1 counts itself
    assert snapshot["count"] == 4
    assert snapshot["sum"] == pytest.approx(2.65)
    assert (snapshot["p50"], snapshot["p90"], snapshot["p99"]) == (0.1, 2.0, 2.0)


def test_counters_after_known_records() -> None:
    metrics = Metrics()
    metrics.observe(ok())
    metrics.observe(ok(format="wav", synth_seconds=1.0, first_audio_seconds=0.3))
    metrics.observe(ok(cached=True, first_audio_seconds=0.001))
    metrics.observe(ok(voice="kokoro:jf_alpha", op="char", audio_seconds=0.5, synth_seconds=0.1))
    metrics.observe(RequestRecord(op="synthesize", outcome="error", error_code="unknown_voice", voice="typo:x", format="pcm"))
    metrics.observe(RequestRecord(op="synthesize", outcome="cancelled", voice=DEFAULT_VOICE))
    metrics.observe(RequestRecord(op="status", outcome="ok"))
    snap = metrics.snapshot(STATUS)

    assert snap["requests"]["total"] == 7
    assert snap["requests"]["by_op"] == {
        "synthesize": {"ok": 3, "error": 1, "cancelled": 1}, "char": {"ok": 1}, "status": {"ok": 1},
    }
    assert snap["requests"]["errors"] == {"unknown_voice": 1}
    assert {"op": "synthesize", "outcome": "error", "code": "unknown_voice", "count": 1} in snap["requests"]["series"]
    synthesis = snap["synthesis"]
    # The refused voice "typo:x" and the cancelled request are not per-voice syntheses.
    assert synthesis["by_voice"] == {DEFAULT_VOICE: 3, "kokoro:jf_alpha": 1}
    assert synthesis["by_format"] == {"pcm": 3, "wav": 1}
    assert (synthesis["completed"], synthesis["cached"]) == (4, 1)
    assert synthesis["audio_seconds"] == pytest.approx(6.5)
    assert (synthesis["text_chars"], synthesis["bytes_sent"]) == (40, 4000)
    histograms = snap["histograms"]
    assert histograms["first_audio_seconds"]["count"] == 4
    # The cached replay ran no inference: it is in neither synthesis time nor RTF.
    assert histograms["synth_seconds"]["count"] == 3
    assert histograms["synth_seconds"]["sum"] == pytest.approx(1.6)
    assert histograms["real_time_factor"]["count"] == 3
    # RTFs 0.25, 0.5 and 0.2: nearest rank picks observed values.
    assert histograms["real_time_factor"]["p50"] == pytest.approx(0.25)
    assert histograms["real_time_factor"]["p90"] == pytest.approx(0.5)
    assert histograms["real_time_factor"]["p99"] == pytest.approx(0.5)
    assert [e["code"] for e in snap["recent_errors"]] == ["unknown_voice"]
    assert snap["cache"]["hit_ratio"] == pytest.approx(0.25)
    assert snap["queue"] == {"waiting": 2, "busy": True}
    assert snap["plugin_errors"] == {"faulty": 4}
    assert snap["process"]["rss_bytes"] > 0 and snap["process"]["threads"] >= 1


def test_request_log_gives_the_length_of_finished_audio_and_the_bytes_of_cut_audio(caplog: pytest.LogCaptureFixture) -> None:
    from litettsd_plugins.metrics import request_log

    with caplog.at_level("INFO", logger="litettsd.requests"):
        request_log.litettsd_request_finished(ok())
        request_log.litettsd_request_finished(ok(outcome="cancelled", audio_seconds=0.0, bytes_sent=316000))
    finished, cancelled = caplog.messages
    assert "synthesize ok " in finished and "audio=2.00s" in finished and "first=100ms" in finished
    assert "synthesize cancelled " in cancelled and "sent=316000B" in cancelled and "audio=" not in cancelled


def test_process_sample_is_reused_within_a_second() -> None:
    metrics = Metrics()
    first = metrics.sample_process()
    assert metrics.sample_process() is first
    first.at -= counters.PROCESS_SAMPLE_SECONDS  # pretend a second went by
    assert metrics.sample_process() is not first


# --- prometheus, unit -------------------------------------------------------------------


def test_prometheus_text_parses_and_carries_the_counters() -> None:
    metrics = Metrics()
    metrics.observe(ok())
    metrics.observe(ok(cached=True))
    metrics.observe(RequestRecord(op="synthesize", outcome="error", error_code="text_too_long"))
    text = generate_latest(build_registry(lambda: metrics.snapshot(STATUS))).decode()
    found = samples(text)
    assert found[("litettsd_up", ())] == 1
    assert found[("litettsd_requests_total", (("code", ""), ("op", "synthesize"), ("outcome", "ok")))] == 2
    assert found[("litettsd_requests_total", (("code", "text_too_long"), ("op", "synthesize"), ("outcome", "error")))] == 1
    assert found[("litettsd_voice_syntheses_total", (("voice", DEFAULT_VOICE),))] == 2
    assert found[("litettsd_cached_syntheses_total", ())] == 1
    assert found[("litettsd_first_audio_seconds_count", ())] == 2
    assert found[("litettsd_first_audio_seconds_bucket", (("le", "0.1"),))] == 2
    assert found[("litettsd_first_audio_seconds_bucket", (("le", "+Inf"),))] == 2
    assert found[("litettsd_synth_seconds_count", ())] == 1
    assert found[("litettsd_cache_hits_total", ())] == 1
    assert found[("litettsd_queue_waiting", ())] == 2
    assert found[("litettsd_inference_busy", ())] == 1
    assert found[("litettsd_voice_loaded", (("voice", DEFAULT_VOICE),))] == 1
    assert found[("litettsd_plugin_errors_total", (("plugin", "faulty"),))] == 4
    assert found[("litettsd_process_resident_memory_bytes", ())] > 0


def test_unanswered_scrape_says_down() -> None:
    text = generate_latest(build_registry(lambda: None)).decode()
    assert samples(text) == {("litettsd_up", ()): 0}
    assert [family.name for family in families(None)] == ["litettsd_up"]


# --- against the daemon -----------------------------------------------------------------


def metrics_of(client: Client) -> dict[str, Any]:
    plugins: dict[str, Any] = client._call("metrics")["plugins"]
    return plugins


def test_daemon_counts_a_known_sequence_exactly(start_daemon: Any) -> None:
    # No pre-cached phrases: they would be synthesizing in the background meanwhile.
    daemon = start_daemon('[cache]\nphrases = []\n[plugins]\nload = ["tests.plugins.faulty"]\n')
    with Client(daemon.socket, timeout=120) as client:
        before = metrics_of(client)["metrics"]
        first = client.synthesize("Counting requests one.", format="pcm")
        audio = [first.read()]
        again = client.synthesize("Counting requests one.", format="pcm")
        audio.append(again.read())
        wav = client.synthesize("Counting requests two.", format="wav", voice=DEFAULT_VOICE)
        audio.append(wav.read())
        with pytest.raises(Exception, match="unknown_voice"):
            client.synthesize("Nobody speaks this.", voice="nobody:none").read()
        client.normalize("Dr. Smith")
        client.cancel(999)  # nothing to cancel: still an op that was served
        with pytest.raises(Exception, match="unknown_op"):
            client._call("no_such_op")  # refused before any handler runs: counted all the same
        status = client.status()
        after = metrics_of(client)["metrics"]

    def delta(op: str, outcome: str) -> int:
        return after["requests"]["by_op"].get(op, {}).get(outcome, 0) - before["requests"]["by_op"].get(op, {}).get(outcome, 0)

    assert delta("synthesize", "ok") == 3
    assert delta("synthesize", "error") == 1
    assert delta("normalize", "ok") == 1
    assert delta("metrics", "ok") == 1  # ``before`` itself; ``after`` is counted once it has replied
    assert delta("cancel", "ok") == 1
    assert delta("unknown", "error") == 1  # made-up op names share one label
    assert after["requests"]["errors"].get("unknown_voice", 0) - before["requests"]["errors"].get("unknown_voice", 0) == 1
    assert [e["code"] for e in after["recent_errors"][-2:]] == ["unknown_voice", "unknown_op"]

    synthesis_before, synthesis = before["synthesis"], after["synthesis"]
    assert synthesis["completed"] - synthesis_before["completed"] == 3
    assert synthesis["cached"] - synthesis_before["cached"] == 1
    assert synthesis["by_voice"][DEFAULT_VOICE] - synthesis_before["by_voice"].get(DEFAULT_VOICE, 0) == 3
    assert synthesis["by_format"]["wav"] - synthesis_before["by_format"].get("wav", 0) == 1
    assert synthesis["bytes_sent"] - synthesis_before["bytes_sent"] == sum(len(a) for a in audio)
    durations = [first.end["duration"], again.end["duration"], wav.end["duration"]]
    assert synthesis["audio_seconds"] - synthesis_before["audio_seconds"] == pytest.approx(sum(durations))
    assert synthesis["text_chars"] - synthesis_before["text_chars"] == 3 * len("Counting requests one.")

    histograms = after["histograms"]
    assert histograms["first_audio_seconds"]["count"] - before["histograms"]["first_audio_seconds"]["count"] == 3
    assert histograms["synth_seconds"]["count"] - before["histograms"]["synth_seconds"]["count"] == 2
    assert histograms["real_time_factor"]["count"] - before["histograms"]["real_time_factor"]["count"] == 2
    assert histograms["first_audio_seconds"]["p50"] is not None

    # Status-derived values are the daemon's own.
    for key in ("hits", "misses", "entries"):
        assert after["cache"][key] == status["cache"][key]
    assert after["cache"]["hits"] - before["cache"]["hits"] == 1
    assert after["voices_loaded"] == status["voices_loaded"]
    assert after["plugin_errors"]["tests.plugins.faulty"] > before["plugin_errors"].get("tests.plugins.faulty", 0)
    assert after["queue"]["waiting"] == 0
    assert after["process"]["rss_bytes"] > 50 * 1024 * 1024  # a model is loaded
    assert after["process"]["cpu_seconds"] > 0


def test_textfile_export_from_the_daemon(start_daemon: Any, tmp_path: Path) -> None:
    target = tmp_path / "litettsd.prom"
    daemon = start_daemon(f'[plugins.prometheus]\nmode = "textfile"\npath = "{target}"\ninterval = 1.0\n')
    with Client(daemon.socket, timeout=120) as client:
        client.synthesize("Exported.", format="pcm").read()
        deadline = time.monotonic() + 30
        found: dict[Any, float] = {}
        key = ("litettsd_requests_total", (("code", ""), ("op", "synthesize"), ("outcome", "ok")))
        while time.monotonic() < deadline:
            if target.exists():
                found = samples(target.read_text())
                if found.get(key):
                    break
            time.sleep(0.2)
        assert found[key] == 1
        assert found[("litettsd_up", ())] == 1
        assert found[("litettsd_first_audio_seconds_count", ())] == 1
        exporter = metrics_of(client)["prometheus"]
    assert exporter["mode"] == "textfile" and exporter["target"] == str(target)
    assert exporter["collections"] >= 1 and exporter["last_error"] is None
    assert not [p for p in tmp_path.iterdir() if p.name != target.name]  # no temporary files left behind


def test_textfile_is_written_soon_after_start_even_with_a_long_interval(start_daemon: Any, tmp_path: Path) -> None:
    target = tmp_path / "litettsd.prom"
    daemon = start_daemon(f'[plugins.prometheus]\nmode = "textfile"\npath = "{target}"\ninterval = 3600.0\n')
    deadline = time.monotonic() + 15
    while not target.exists():
        assert time.monotonic() < deadline, "no textfile within 15 s of start"
        time.sleep(0.2)
    assert ("litettsd_up", ()) in samples(target.read_text())  # up, or not yet: either way a file
    daemon.stop()


def test_textfile_is_readable_by_node_exporter_and_errors_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "out.prom"
    exporter = prometheus.Exporter(PrometheusSettings(mode="textfile", path=str(target)), tmp_path / "none.sock")
    umask = os.umask(0o077)  # the systemd units' umask
    try:
        exporter.write_once()
    finally:
        os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o644
    assert samples(target.read_text()) == {("litettsd_up", ()): 0}  # no daemon there
    assert exporter.last_error is None and exporter.collections == 0
    exporter.options = PrometheusSettings(mode="textfile", path=str(tmp_path / "missing" / "out.prom"))
    exporter.write_once()
    assert exporter.last_error is not None and "No such file or directory" in exporter.last_error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.prom"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_http_export_serves_loopback_and_stops(daemon: Any) -> None:
    port = free_port()
    try:
        exporter = configure(PrometheusSettings(mode="http", port=port), daemon.socket)
        assert exporter is not None
        with Client(daemon.socket, timeout=120) as client:
            client.synthesize("Scraped.", format="pcm").read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
            found = samples(response.read().decode())
        assert found[("litettsd_up", ())] == 1
        assert found[("litettsd_requests_total", (("code", ""), ("op", "synthesize"), ("outcome", "ok")))] >= 1
        assert found[("litettsd_voice_loaded", (("voice", DEFAULT_VOICE),))] == 1
        # The same configuration again keeps the running exporter.
        assert configure(PrometheusSettings(mode="http", port=port), daemon.socket) is exporter
    finally:
        configure(PrometheusSettings(), daemon.socket)
    assert prometheus._current is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)


@pytest.mark.parametrize(
    "table, message",
    [
        ('mode = "textfile"', "needs an absolute path"),
        ('mode = "textfile"\npath = "/tmp/litettsd.txt"', "must end in .prom"),
        ('mode = "push"', "is not one of off, textfile, http"),
        ("port = 0", "out of range"),
        ('prot = 9000', "did you mean 'port'"),
    ],
)
def test_bad_prometheus_tables_are_config_errors(tmp_path: Path, table: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(f"[plugins.prometheus]\n{table}\n")
    env = {**os.environ, "LITETTSD_SYSTEM_CONFIG_DIR": str(tmp_path / "etc"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    result = subprocess.run([LITETTSD, "check-config", "--config", str(config)], capture_output=True, text=True, env=env)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
