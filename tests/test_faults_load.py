"""Faults and load against real daemons: disconnect storms, SIGTERM under load, many clients."""

from __future__ import annotations

import io
import os
import random
import signal
import statistics
import threading
import time

import numpy as np
import soundfile as sf

from litettsd_client.finalize import finalize_flac_length

from .conftest import RawConnection, audio_of
from .robustness import process_footprint, report, scaled

TEXT = "Load test sentence number {n}, spoken in full. It has two sentences."
LONG = " ".join(f"Sentence {n} of a long text that keeps the daemon busy." for n in range(40))


def wait_idle(daemon, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        with daemon.connect() as conn:
            status = conn.request({"op": "status", "id": 1})[0]
        if status["requests_in_flight"] == 0 and status["connections"] == 1:  # this status connection
            time.sleep(0.3)  # let the daemon close its end of this status connection too
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def test_disconnect_storm_leaks_nothing(start_daemon):
    private = start_daemon("[cache]\nphrases = []\n")
    rounds = scaled(1000, 5000)

    def storm(count: int) -> None:
        for _ in range(count):
            conn = private.connect()
            conn.send({"op": "synthesize", "id": 1, "text": LONG, "cache": False})
            assert conn.recv()["type"] == "start"
            conn.close()  # mid-stream

    storm(50)  # warm-up: thread pools and arenas reach their working size
    wait_idle(private)
    before = process_footprint(private.proc.pid)
    storm(rounds // 2)
    wait_idle(private)
    middle = process_footprint(private.proc.pid)
    storm(rounds // 2)
    wait_idle(private)
    after = process_footprint(private.proc.pid)
    report("disconnect-storm", {"rounds": rounds, "before": before, "middle": middle, "after": after})
    # Pools created on first use (asyncio's workers, up to cpus + 4 threads, and what they
    # hold) may still appear during the first half; a leak keeps growing in the second.
    # The pool is created lazily, so its threads may appear in either half; a leak would
    # add threads per disconnect (thousands), not stay under the pool's bound.
    pool_bound = (os.cpu_count() or 1) + 4
    assert middle["threads"] <= before["threads"] + pool_bound
    assert after["threads"] <= before["threads"] + pool_bound
    assert middle["fds"] <= before["fds"] + 2
    assert after["fds"] <= middle["fds"]
    assert after["rss_kb"] <= before["rss_kb"] * 1.1
    assert "cancelled" in private.log.read_text()  # the abandoned inferences were cancelled


def test_sigterm_under_load_ends_every_stream_cleanly(start_daemon):
    private = start_daemon("[server]\ngraceful_timeout = 2.0\n")
    outcomes: dict[int, list] = {}

    def client(index: int) -> None:
        conn = RawConnection(private.socket)
        conn.send({"op": "synthesize", "id": 1, "text": LONG if index % 2 else "Short one.", "cache": False})
        frames = []
        while (frame := conn.recv()) is not None:
            frames.append(frame)
        conn.close()
        outcomes[index] = frames

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    started = time.monotonic()
    private.proc.send_signal(signal.SIGTERM)
    assert private.proc.wait(2.0 + 10) == 0
    stopped_after = time.monotonic() - started
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == 8
    for frames in outcomes.values():
        assert frames and frames[-1]["type"] in ("end", "cancelled", "error"), frames[-1:]
        assert [f["seq"] for f in frames if f["type"] == "audio"] == list(range(sum(f["type"] == "audio" for f in frames)))
    report("sigterm-under-load", {"clients": 8, "exit_seconds": round(stopped_after, 2)})


def _decode(frames) -> int:
    start, end = frames[0], frames[-1]
    data = audio_of(frames)
    if start["format"] == "pcm":
        return len(data) // 2
    buffer = io.BytesIO(data)
    if start["format"] == "flac":
        finalize_flac_length(buffer, end["samples"])
        buffer.seek(0)
    samples, rate = sf.read(buffer, dtype="int16")
    assert rate == start["sample_rate"]
    return len(samples)


def test_sixteen_clients_mixed_load(start_daemon):
    # Both engines loaded up front, so "stable after warm-up" is not confused with Kokoro's
    # lazy first load part-way through the run.
    private = start_daemon('[server]\nrequest_timeout = 120.0\n[cache]\nphrases = []\n[voices]\npreload = ["kokoro:jm_kumo"]\n')
    duration = scaled(12, 120)
    formats = ["pcm", "wav", "mp3", "flac", "ogg"]
    latencies: list[float] = []
    errors: list[dict] = []
    completed = cancelled = disconnected = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + duration
    footprints = []

    def client(index: int) -> None:
        nonlocal completed, cancelled, disconnected
        rng = random.Random(index)
        conn = RawConnection(private.socket)
        rid = 0
        while time.monotonic() < stop_at:
            rid += 1
            voice = "kokoro:jm_kumo" if rng.random() < 0.1 else "piper:en_US-joe-medium"
            request = {"op": "synthesize", "id": rid, "text": TEXT.format(n=rng.randint(0, 10**6)), "voice": voice,
                       "format": rng.choice(formats), "cache": rng.random() < 0.5}
            action = rng.random() if rid > 1 else 1.0  # every client completes at least one
            started = time.monotonic()
            conn.send(request)
            if action < 0.1:  # disconnect mid-stream
                conn.recv()
                conn.close()
                conn = RawConnection(private.socket)
                with lock:
                    disconnected += 1
                continue
            if action < 0.2:  # cancel mid-stream
                assert conn.recv()["type"] == "start"
                conn.send({"op": "cancel", "id": rid + 100000, "target": rid})
                frames = []
                while True:
                    frame = conn.recv()
                    if frame["id"] == rid + 100000:
                        break
                    frames.append(frame)
                assert frames[-1]["type"] in ("cancelled", "end"), frames[-1]
                with lock:
                    cancelled += 1
                continue
            frames = conn.collect(rid)
            elapsed = time.monotonic() - started
            if frames[-1]["type"] != "end":
                with lock:
                    errors.append(frames[-1])
                continue
            audio_frames = [f for f in frames if f["type"] == "audio"]
            assert [f["seq"] for f in audio_frames] == list(range(len(audio_frames)))
            assert _decode(frames) > 0
            with lock:
                latencies.append(elapsed)
                completed += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        footprints.append(process_footprint(private.proc.pid)["rss_kb"])
        time.sleep(1.0)
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    assert completed >= 16
    p50 = statistics.median(latencies)
    p99 = float(np.percentile(latencies, 99))
    warm = footprints[len(footprints) // 3 :]
    report(
        "load",
        {
            "clients": 16, "seconds": duration, "completed": completed, "cancelled": cancelled,
            "disconnected": disconnected, "errors": len(errors), "p50_s": round(p50, 3), "p99_s": round(p99, 3),
            "requests_per_s": round(completed / duration, 2), "rss_kb_min_max_after_warmup": (min(warm), max(warm)),
        },
    )
    # Stable after warm-up: the last third grows no further than the level the middle third
    # reached. (min-to-max over the last two thirds failed on a slow CI run: the first Kokoro
    # request's arena growth came a third of the way into a 12 s run; that is a step, not a leak.)
    third = len(footprints) // 3
    assert max(footprints[2 * third :]) <= max(footprints[third : 2 * third]) * 1.15
    assert p99 < 120.0  # nothing starved past its deadline
    assert private.proc.poll() is None


