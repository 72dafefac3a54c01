"""Issue 3's figures: the daemon against raw onnxruntime on the same phonemes, in one run.

(a) whole synthesis of a ~20-second text; (b) time to the first audio frame for a 2-word
phrase and for the first sentence of a long paragraph, against raw inference of that first
chunk; (c) exec to first pong and to ready; (d) peak RSS with Piper only and with Kokoro too;
(e) first audio of cached screen-reader phrases, and of phrases from the start-up list;
(f) CPU burned over 30 s of idleness after a burst of requests.
Each figure is the median of ROUNDS runs; daemon and raw runs alternate so that machine
noise hits both alike.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from common import Daemon, cpu_seconds, median, paired_ratio, request, wait_ready

from litettsd_client.protocol import encode_frame

ROUNDS = 7
IDLE_GAP = 0.3
"""Pause before every timed run, daemon and raw alike: a screen reader's phrases come after
silence, when caches are cold and worker threads asleep; back-to-back runs would flatter
whichever side ran second."""
TWENTY_SECONDS = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling in the salt wind. "
    "Every evening the keeper climbed the narrow stairs to light the lamp, counting each step as "
    "his father had done before him. Ships passing in the night trusted that small light to guide "
    "them safely home, and for forty years it never failed."
)
TWO_WORDS = "Next button."
PHRASES = (
    "Next button.",
    "Heading level two, Settings.",
    "Link, Privacy policy.",
    "Checkbox, not checked, Remember me.",
    "Edit text, Search.",
    "Menu bar.",
    "Close.",
    "Tab three of five, Downloads.",
    "Dialog, Save changes?",
    "List, four items.",
)
"""What a screen reader says all the time: time to first audio matters most here."""
PRECACHED = ("button", "heading level 2", "not checked", "menu item", "escape")
"""Phrases from the default ``[cache] phrases`` list, synthesized in the background at start-up."""
IDLE_SECONDS = 30.0
LONG_PARAGRAPH = (
    "When the committee met on Tuesday morning, the first item on the agenda was the budget. "
    "Several members argued that the library needed more funding for its children's programs, "
    "while others wanted to repair the roof before winter. After a long discussion, they agreed "
    "to split the money between both projects and to revisit the question in the spring."
)


class _Recorder:
    """Stands in for a session once, to capture the exact inputs the daemon's voice would feed."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.feeds: list[dict[str, Any]] = []

    def run(self, outputs: Any, feed: dict[str, Any], run_options: Any = None) -> Any:
        self.feeds.append(feed)
        return self.session.run(outputs, feed)

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def get_outputs(self) -> Any:
        return self.session.get_outputs()


def raw_feeds(voice_id: str, text: str, cache: Path, speed: float = 1.0) -> tuple[Any, list[dict[str, Any]]]:
    """A plain onnxruntime session on the same model, and the per-chunk inputs the daemon uses
    for ``text`` at ``speed``."""
    import onnxruntime

    from litettsd.api import EngineContext, NormalizeContext
    from litettsd.cache import AudioCache
    from litettsd.chunking import plan_chunks, split_clauses
    from litettsd.config import load_settings
    from litettsd.pipeline import Pipeline
    from litettsd.plugins import build_plugin_manager
    from litettsd.scheduler import InferenceScheduler
    from litettsd.voices import VoiceRegistry

    settings = load_settings().settings
    plugins = build_plugin_manager()
    sessions: dict[str, Any] = {}

    def plain_session(model: Path, engine: str) -> Any:
        # Raw onnxruntime with its defaults, except the same thread count as the daemon.
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = len(os.sched_getaffinity(0))
        sessions[engine] = _Recorder(
            onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        )
        return sessions[engine]

    context = EngineContext(settings=settings, cache_dir=cache, create_session=plain_session)
    engines = [engine for _, engine in plugins.collect("litettsd_register_engines", settings=settings)]
    registry = VoiceRegistry(engines, context)
    engine, canonical = registry.canonical(voice_id)
    voice = engine.load(canonical, context)
    pipeline = Pipeline(settings, plugins, registry, InferenceScheduler(), AudioCache(0))
    normalized = pipeline.normalize_text(text, NormalizeContext(language=voice.info.language))
    recorder = sessions[engine.name]
    for chunk in plan_chunks(split_clauses(normalized), voice):
        voice.infer(chunk.phonemes, speed, onnxruntime.RunOptions())
    return recorder.session, recorder.feeds


def time_raw(session: Any, feeds: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for feed in feeds:
        session.run(None, feed)
    return time.perf_counter() - started


def _preemption(daemon: Daemon, cache: Path, rid: int) -> dict[str, Any]:
    """First audio of a ``message`` request while a long ``text`` request is inferring,
    against raw inference of the message's first chunk (issue 7: <= 1.3)."""
    session, feeds = raw_feeds("piper:en_US-joe-medium", TWO_WORDS, cache)
    long_text = " ".join([LONG_PARAGRAPH] * 4)
    urgent, raw = [], []
    for _ in range(ROUNDS):
        background = daemon.connect()
        rid += 2
        background.sendall(encode_frame({"op": "synthesize", "id": rid, "text": long_text, "priority": "text", "cache": False}))
        time.sleep(0.5)  # well inside the long request's inference
        sock = daemon.connect()
        _, first, _ = request(sock, {"op": "synthesize", "id": rid + 1, "text": TWO_WORDS, "priority": "message", "cache": False})
        assert first is not None
        urgent.append(first)
        sock.close()
        background.close()  # cancels the long request
        time.sleep(IDLE_GAP)
        raw.append(time_raw(session, feeds[:1]))
    return {
        "preempt_first_audio_daemon_ms": 1000 * median(urgent),
        "preempt_first_audio_raw_ms": 1000 * median(raw),
        "preempt_first_audio_ratio": paired_ratio(urgent, raw),
    }


def _cached_phrases(daemon: Daemon, rid: int) -> dict[str, Any]:
    """First audio of phrases served from the audio cache: the start-up list, and phrases
    cached by an earlier request."""
    precached, cached = [], []
    sock = daemon.connect()
    for phrase in PRECACHED:
        rid += 1
        time.sleep(IDLE_GAP)
        frames, first, _ = request(sock, {"op": "synthesize", "id": rid, "text": phrase})
        assert first is not None and frames[-1].get("cached"), (phrase, frames[-1])
        precached.append(first)
    for phrase in PHRASES:
        rid += 1
        request(sock, {"op": "synthesize", "id": rid, "text": phrase})  # fills the cache
        for _ in range(ROUNDS):
            rid += 1
            time.sleep(IDLE_GAP)
            frames, first, _ = request(sock, {"op": "synthesize", "id": rid, "text": phrase})
            assert first is not None and frames[-1].get("cached"), (phrase, frames[-1])
            cached.append(first)
    sock.close()
    return {
        "precached_phrase_first_audio_ms": 1000 * median(precached),
        "cached_phrase_first_audio_ms": 1000 * median(cached),
    }


def _idle_cpu(daemon: Daemon) -> dict[str, Any]:
    """Share of one core the daemon uses while nobody asks anything, after a burst of work."""
    sock = daemon.connect()
    for rid, phrase in enumerate(PHRASES, start=9000):
        request(sock, {"op": "synthesize", "id": rid, "text": phrase, "cache": False})
    sock.close()
    before = cpu_seconds(daemon.proc.pid)
    time.sleep(IDLE_SECONDS)
    used = cpu_seconds(daemon.proc.pid) - before
    return {"idle_cpu_seconds_per_30s": used, "idle_cpu_percent_of_one_core": 100 * used / IDLE_SECONDS}


def run(cache: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    starts, readies = [], []
    for _ in range(ROUNDS):
        daemon = Daemon(cache)
        pong, ready = wait_ready(daemon)
        starts.append(pong)
        readies.append(ready)
        daemon.stop()
    results["exec_to_first_pong_s"] = median(starts)
    results["exec_to_ready_s"] = median(readies)

    daemon = Daemon(cache)
    wait_ready(daemon)
    sock = daemon.connect()
    rid = 100
    for voice in ("piper:en_US-joe-medium", "kokoro:jm_kumo"):
        session, feeds = raw_feeds(voice, TWENTY_SECONDS, cache)
        request(sock, {"op": "synthesize", "id": rid, "text": TWENTY_SECONDS, "voice": voice, "cache": False})  # warm
        time_raw(session, feeds)
        daemon_times, raw_times = [], []
        audio_seconds = 0.0
        for _ in range(ROUNDS):
            rid += 1
            time.sleep(IDLE_GAP)
            frames, _, total = request(
                sock, {"op": "synthesize", "id": rid, "text": TWENTY_SECONDS, "voice": voice, "cache": False}
            )
            audio_seconds = frames[-1]["duration"]
            daemon_times.append(total)
            time.sleep(IDLE_GAP)
            raw_times.append(time_raw(session, feeds))
        key = voice.split(":")[0]
        results[f"{key}_20s_text_audio_s"] = audio_seconds
        results[f"{key}_20s_text_daemon_s"] = median(daemon_times)
        results[f"{key}_20s_text_raw_s"] = median(raw_times)
        results[f"{key}_20s_text_ratio"] = paired_ratio(daemon_times, raw_times)

        for label, text in (("two_words", TWO_WORDS), ("paragraph_first", LONG_PARAGRAPH)):
            session, feeds = raw_feeds(voice, text, cache)
            first_daemon, first_raw = [], []
            for _ in range(ROUNDS):
                rid += 1
                time.sleep(IDLE_GAP)
                _, first, _ = request(sock, {"op": "synthesize", "id": rid, "text": text, "voice": voice, "cache": False})
                assert first is not None
                first_daemon.append(first)
                time.sleep(IDLE_GAP)
                first_raw.append(time_raw(session, feeds[:1]))
            results[f"{key}_first_audio_{label}_daemon_ms"] = 1000 * median(first_daemon)
            results[f"{key}_first_audio_{label}_raw_ms"] = 1000 * median(first_raw)
            results[f"{key}_first_audio_{label}_ratio"] = paired_ratio(first_daemon, first_raw)
    results.update(_preemption(daemon, cache, rid))
    results.update(_cached_phrases(daemon, rid + 2 * ROUNDS + 10))
    results.update(_idle_cpu(daemon))
    sock.close()
    daemon.stop()

    for label, config in (("piper_only", ""), ("piper_and_kokoro", '[voices]\npreload = ["kokoro:jm_kumo"]\n')):
        peaks, children = [], []
        for _ in range(3):
            daemon = Daemon(cache, config)
            wait_ready(daemon)
            sock = daemon.connect()
            request(sock, {"op": "synthesize", "id": 1, "text": TWENTY_SECONDS})
            if "kokoro" in label:
                request(sock, {"op": "synthesize", "id": 2, "text": TWENTY_SECONDS, "voice": "kokoro:jm_kumo"})
            peaks.append(daemon.peak_rss_mb())
            children.append(daemon.children_private_mb())
            sock.close()
            daemon.stop()
        results[f"peak_rss_{label}_mb"] = median(peaks)
        results[f"espeak_child_private_{label}_mb"] = median(children)
        results[f"peak_rss_{label}_with_espeak_child_mb"] = median([a + b for a, b in zip(peaks, children)])
    return results
