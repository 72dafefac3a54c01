"""espeak-ng in its child process: same phonemes, and a text that crashes it crashes nothing else."""

from __future__ import annotations

import espeakng_loader
import pytest

from litettsd.espeak import Espeak
from litettsd.g2p import EspeakProcess

from .conftest import DaemonProcess

CRASHERS = ["a." * 200, "s'" * 220]
"""Texts that overflow a stack buffer in libespeak-ng 1.52 and abort its process (espeak-ng#2495)."""


def in_process() -> Espeak:
    return Espeak(espeakng_loader.get_library_path(), espeakng_loader.get_data_path())


def test_the_child_gives_the_phonemes_of_the_library_itself() -> None:
    isolated, direct = EspeakProcess(), in_process()
    for text, tie in (("Hello there, world.", None), ("The quick brown fox.", "^"), ("Dr. Smith's cat", None)):
        assert isolated.phonemize(text, "en-us", tie) == direct.phonemize(text, "en-us", tie)
    with pytest.raises(ValueError, match="no voice"):
        isolated.phonemize("x", "no-such-voice")
    assert isolated.phonemize("still here", "en-us") == direct.phonemize("still here", "en-us")


def test_the_child_cannot_talk_to_systemd_for_the_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    """NOTIFY_SOCKET and the watchdog's variables are the daemon's: a helper must not get them."""
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("LITETTSD_TEST_MARKER", "kept")
    espeak = EspeakProcess()
    espeak.phonemize("hello", "en-us")
    child = espeak._child
    assert child is not None
    with open(f"/proc/{child.pid}/environ", "rb") as handle:
        names = {entry.split(b"=", 1)[0] for entry in handle.read().split(b"\0") if entry}
    assert b"LITETTSD_TEST_MARKER" in names
    assert not names & {b"NOTIFY_SOCKET", b"WATCHDOG_USEC"}


@pytest.mark.parametrize("crasher", CRASHERS, ids=["dotted", "suffixes"])
def test_a_text_that_crashes_espeak_keeps_its_other_words(crasher: str) -> None:
    espeak = EspeakProcess()
    espeak.start()
    before = espeak._child
    phonemes = espeak.phonemize(f"Say {crasher} then go home.", "en-us")
    assert espeak._child is None or espeak._child is not before  # it did crash: a new child
    direct = in_process()
    words = phonemes.split()  # after the crash, word by word (the crasher in short pieces)
    assert words[0] == direct.phonemize("Say", "en-us")
    assert words[-3:] == [direct.phonemize(word, "en-us") for word in ("then", "go", "home.")]
    assert espeak.phonemize("after the crash", "en-us") == direct.phonemize("after the crash", "en-us")


def test_the_daemon_speaks_on_through_an_espeak_crash(daemon: DaemonProcess) -> None:
    # Before, the daemon aborted ("stack smashing detected") and every client lost its speech.
    with daemon.connect() as other, daemon.connect() as conn:
        for rid, crasher in enumerate(CRASHERS, start=1):
            frames = conn.request({"op": "synthesize", "id": rid, "text": f"Say {crasher} then stop.", "cache": False})
            assert frames[-1]["type"] == "end" and frames[-1]["duration"] > 1.0, frames[-1]
        assert other.request({"op": "ping", "id": 9})[0]["type"] == "pong"
        normalized = conn.request({"op": "normalize", "id": 10, "text": "a" + ".a" * 199})[0]
        assert normalized["type"] == "normalized" and normalized["phonemes"]
