"""Protocol fuzzing against a real daemon: structured and raw; it must keep serving and not leak."""

from __future__ import annotations

import os
import random
import struct

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import RawConnection
from .robustness import process_footprint, report, scaled

FRAMES = scaled(5000, 100_000)
OPS = ["hello", "ping", "voices", "status", "normalize", "synthesize", "char", "cancel", "metrics", "fly", "", "reload"]
FIELDS = ["text", "voice", "format", "sample_rate", "speed", "pitch", "volume", "stream", "priority", "ssml",
          "ssml_strict", "punctuation", "spell", "capitals", "say_as", "cache", "target", "char", "key", "language"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=12),
)
values = st.recursive(scalars, lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3), max_leaves=6)
requests = st.fixed_dictionaries(
    {},
    optional={
        "op": st.one_of(st.sampled_from(OPS), values),
        "id": st.one_of(st.integers(min_value=0, max_value=5), values),
        **{field: values for field in FIELDS},
    },
)


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory, model_cache):
    from .conftest import DaemonProcess

    # Tiny texts only: the fuzzer is after the protocol, not hours of synthesis.
    process = DaemonProcess(tmp_path_factory.mktemp("fuzz"), model_cache, "[server]\nmax_text_chars = 8\n[cache]\nphrases = []\n")
    process.wait_ready()
    yield process
    assert process.stop() == 0


class Session:
    """A connection that reconnects when the daemon closes it after a bad frame."""

    def __init__(self, daemon) -> None:
        self.daemon = daemon
        self.conn = daemon.connect()

    def send_raw(self, data: bytes) -> None:
        try:
            self.conn.sock.sendall(data)
        except OSError:
            self.reconnect()

    def reconnect(self) -> None:
        self.conn.close()
        self.conn = self.daemon.connect()

    def settle(self) -> None:
        """Prove the daemon still serves: a fresh connection gets a pong and real audio."""
        self.reconnect()
        with self.daemon.connect() as check:
            assert check.request({"op": "ping", "id": 1})[0]["type"] == "pong"
            frames = check.request({"op": "synthesize", "id": 2, "text": "Fine."})
            assert frames[-1]["type"] == "end", frames[-1]


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def test_structured_and_raw_fuzzing_keeps_the_daemon_serving_without_leaks(fuzz_daemon):
    session = Session(fuzz_daemon)
    rng = random.Random(1234)
    examples: list[dict] = []

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(requests)
    def collect(message: dict) -> None:
        examples.append(message)

    collect()
    session.settle()
    baseline = None
    sent = 0
    batches = 0
    while sent < FRAMES:
        for _ in range(50):
            kind = rng.random()
            if kind < 0.6:
                message = rng.choice(examples)
                try:
                    data = frame(msgpack.packb(message, use_bin_type=True))
                except (ValueError, OverflowError, TypeError):
                    continue
            elif kind < 0.8:
                data = frame(os.urandom(rng.randint(0, 64)))
            elif kind < 0.9:
                data = frame(msgpack.packb({"op": "ping", "id": 1}))[: rng.randint(1, 8)]  # truncated
            else:
                data = frame(b"\x82\xa2op\xa4ping\xa2id\xc4\x02\xff\xfe")  # bin where an int is expected
            session.send_raw(data)
            sent += 1
        # Read whatever came back, then check the daemon on a fresh connection.
        session.conn.sock.settimeout(0.5)
        try:
            while session.conn.sock.recv(65536):
                pass
        except OSError:
            pass
        batches += 1
        if batches % 10 == 0:
            session.settle()
            footprint = process_footprint(fuzz_daemon.proc.pid)
            if baseline is None:
                baseline = footprint  # after warm-up
            else:
                assert footprint["fds"] <= baseline["fds"] * 1.1 + 2, (baseline, footprint)
                assert footprint["rss_kb"] <= baseline["rss_kb"] * 1.1, (baseline, footprint)
    session.settle()
    final = process_footprint(fuzz_daemon.proc.pid)
    report("fuzz", {"frames": sent, "baseline": baseline, "final": final})
    assert fuzz_daemon.proc.poll() is None


def test_invalid_utf8_and_surrogates_are_bad_requests(fuzz_daemon):
    # msgpack str whose bytes are a lone surrogate (not valid UTF-8).
    payload = b"\x83\xa2op\xa9normalize\xa2id\x01\xa4text\xa3\xed\xa0\x80"
    with fuzz_daemon.connect() as conn:
        conn.sock.sendall(frame(payload))
        reply = conn.recv()
        assert reply["code"] == "bad_request" and reply["id"] == 0
        assert conn.recv() is None


def test_huge_integers_and_deep_nesting_are_refused_cleanly(fuzz_daemon):
    nested: dict = {}
    cursor = nested
    for _ in range(500):
        cursor["x"] = {}
        cursor = cursor["x"]
    with fuzz_daemon.connect() as conn:
        for rid, message in enumerate(
            [{"op": "ping", "id": 2**64 - 1}, {"op": "synthesize", "id": 3, "text": "hi", "speed": 2**63 - 1}, {"op": "voices", "id": 4, "language": nested}],
            start=1,
        ):
            conn.send(message)
            reply = conn.recv()
            assert reply["type"] in ("pong", "error"), reply
        assert conn.request({"op": "ping", "id": 9})[0]["type"] == "pong"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_arbitrary_unicode_text_gets_audio_or_a_clean_error(daemon, text):
    with daemon.connect() as conn:
        frames = conn.request({"op": "synthesize", "id": 1, "text": text, "cache": False})
    assert frames[-1]["type"] in ("end", "error"), frames[-1]
    if frames[-1]["type"] == "error":
        assert frames[-1]["code"] != "internal", frames[-1]


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t  ", "\u202eRTL override\u202c and \u05e9\u05dc\u05d5\u05dd", "e\u0301\u0301\u0301 combining", "\x00\x01\x07 control", "🙂" * 50],
    ids=["empty", "whitespace", "rtl", "combining", "control", "emoji"],
)
def test_awkward_texts(daemon, text):
    with daemon.connect() as conn:
        frames = conn.request({"op": "synthesize", "id": 1, "text": text})
    assert frames[-1]["type"] == "end", frames[-1]


def test_hundred_thousand_character_line(daemon):
    line = ("word " * 20000)[:100000]
    with daemon.connect() as conn:
        normalized = conn.request({"op": "normalize", "id": 1, "text": line})[0]
        assert normalized["type"] == "normalized" and len(normalized["text"]) > 90000
        conn.send({"op": "synthesize", "id": 2, "text": line})
        assert conn.recv()["type"] == "start"
        first = conn.recv()
        assert first["type"] == "audio"
        conn.send({"op": "cancel", "id": 3, "target": 2})
        frames = conn.collect(3, multi=False)
        assert frames[-1]["type"] == "ok"
        assert conn.request({"op": "ping", "id": 4})[0]["type"] == "pong"


