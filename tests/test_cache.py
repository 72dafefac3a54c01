"""The audio cache: identical replays, opt-out, bounded size, and start-up warming."""

from __future__ import annotations

import time

from litettsd.cache import AudioCache, CachedSynthesis
from litettsd.pipeline import Audio

from .conftest import audio_of


def test_second_identical_request_is_served_from_cache(daemon):
    text = "The cache remembers this sentence exactly."
    with daemon.connect() as conn:
        first = conn.request({"op": "synthesize", "id": 1, "text": text, "format": "mp3"})
        second = conn.request({"op": "synthesize", "id": 2, "text": text, "format": "mp3"})
        bypass = conn.request({"op": "synthesize", "id": 3, "text": text, "format": "mp3", "cache": False})
        other = conn.request({"op": "synthesize", "id": 4, "text": text, "format": "mp3", "speed": 1.2})
    assert first[-1]["cached"] is False and second[-1]["cached"] is True
    assert audio_of(first) == audio_of(second) == audio_of(bypass)
    assert [f["type"] for f in first] == [f["type"] for f in second]
    assert first[-1]["samples"] == second[-1]["samples"]
    assert bypass[-1]["cached"] is False and other[-1]["cached"] is False


def test_cached_replay_keeps_marks(daemon):
    text = '<speak>One.<mark name="a"/> Two.<mark name="b"/></speak>'
    with daemon.connect() as conn:
        first = conn.request({"op": "synthesize", "id": 1, "text": text, "ssml": True})
        second = conn.request({"op": "synthesize", "id": 2, "text": text, "ssml": True})
    assert second[-1]["cached"] is True
    strip = [{k: v for k, v in f.items() if k not in ("id", "synth_seconds", "cached")} for f in first]
    assert strip == [{k: v for k, v in f.items() if k not in ("id", "synth_seconds", "cached")} for f in second]


def test_status_counts_hits_and_misses(daemon):
    with daemon.connect() as conn:
        before = conn.request({"op": "status", "id": 1})[0]["cache"]
        conn.request({"op": "synthesize", "id": 2, "text": "Counting hits."})
        conn.request({"op": "synthesize", "id": 3, "text": "Counting hits."})
        after = conn.request({"op": "status", "id": 4})[0]["cache"]
    assert after["hits"] == before["hits"] + 1
    assert after["misses"] >= before["misses"] + 1  # start-up warming may miss meanwhile
    assert after["bytes"] <= after["max_bytes"]


def test_lru_is_bounded_by_bytes():
    cache = AudioCache(max_bytes=4000)
    for index in range(10):
        cache.put(index, CachedSynthesis((Audio(b"x" * 900),), 450, 0.01), cache.generation)
    stats = cache.stats()
    assert stats["bytes"] <= 4000 and stats["entries"] < 10
    assert cache.get(9) is not None and cache.get(0) is None
    cache.put("huge", CachedSynthesis((Audio(b"x" * 2000),), 1000, 0.01), cache.generation)  # over a quarter
    assert cache.get("huge") is None


def test_audio_begun_before_a_clear_is_not_stored_after_it():
    cache = AudioCache(max_bytes=4000)
    begun = cache.generation
    cache.clear()  # a reload: new pauses or lexicon, same keys
    cache.put("old", CachedSynthesis((Audio(b"x" * 100),), 50, 0.01), begun)
    assert cache.get("old") is None
    cache.put("new", CachedSynthesis((Audio(b"x" * 100),), 50, 0.01), cache.generation)
    assert cache.get("new") is not None


def test_uncounted_lookups_leave_hits_and_misses_alone():
    cache = AudioCache(max_bytes=4000)
    cache.put("a", CachedSynthesis((Audio(b"x" * 100),), 50, 0.01), cache.generation)
    assert cache.get("a", count=False) is not None and cache.get("b", count=False) is None
    assert (cache.stats()["hits"], cache.stats()["misses"]) == (0, 0)


def test_phrases_are_precached_after_start(start_daemon):
    private = start_daemon('[cache]\nphrases = ["button", "link"]\n')
    deadline = time.monotonic() + 60
    with private.connect() as conn:
        while conn.request({"op": "status", "id": 1})[0]["cache"]["entries"] < 2:
            assert time.monotonic() < deadline, "phrases were not pre-cached"
            time.sleep(0.05)
        stats = conn.request({"op": "status", "id": 3})[0]["cache"]
        frames = conn.request({"op": "synthesize", "id": 2, "text": "button"})
    assert frames[-1]["cached"] is True and len(audio_of(frames)) > 1000
    assert (stats["hits"], stats["misses"]) == (0, 0)  # the daemon's own warming is not counted


def test_a_phrase_longer_than_the_text_limit_is_skipped_not_the_rest(start_daemon):
    private = start_daemon('[server]\nmax_text_chars = 10\n[cache]\nphrases = ["button", "heading level 1", "link"]\n')
    deadline = time.monotonic() + 60
    with private.connect() as conn:
        while conn.request({"op": "status", "id": 1})[0]["cache"]["entries"] < 2:
            assert time.monotonic() < deadline, "the phrases after the long one were not pre-cached"
            time.sleep(0.05)
    log = private.log.read_text()
    assert "'heading level 1' not pre-cached" in log and "pre-cached 2 phrases" in log
    assert "Traceback" not in log and "never retrieved" not in log


def test_cache_can_be_turned_off(start_daemon):
    private = start_daemon("[cache]\nmax_bytes = 0\n")
    with private.connect() as conn:
        conn.request({"op": "synthesize", "id": 1, "text": "No cache."})
        frames = conn.request({"op": "synthesize", "id": 2, "text": "No cache."})
    assert frames[-1]["cached"] is False


def test_the_cache_works_again_after_a_flush(daemon):
    with daemon.connect() as conn:
        for rid, text in ((1, "Cached before the flush."), (3, "Cached after the flush.")):
            conn.request({"op": "synthesize", "id": rid, "text": text})
            assert conn.request({"op": "synthesize", "id": rid + 10, "text": text})[-1]["cached"] is True, text
            if rid == 1:
                assert conn.request({"op": "flush_cache", "id": 2})[0]["type"] == "ok"

