"""sd_litetts inside the real speech-dispatcher, heard through a null sink and transcribed.

A private PulseAudio (its null sink stands in for speakers), a ``parec`` on the sink's
monitor and a private speech-dispatcher that loads the module through a wrapper script
(AddModule passes no environment). Clients are the real ones: ``spd-say`` and Debian's
Python ``speechd`` library under Debian's python3. Nothing is faked but the sound card.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litettsd_client.speechd_config import DEFAULT_CONFIG_TEXT

from tests.conftest import DaemonProcess
from tests.speechd_harness import (
    ESPEAK_CONF,
    SD_ESPEAK,
    SD_LITETTS,
    PulseAudio,
    Recorder,
    SpeechDispatcher,
    first_sound,
    have_speech_dispatcher,
    module_wrapper,
)
from tests.stt import transcribe, word_error_rate

pytestmark = pytest.mark.skipif(not have_speech_dispatcher(), reason="speech-dispatcher and PulseAudio not installed")

SYSTEM_PYTHON = "/usr/bin/python3"
"""python3-speechd is a Debian package: it lives in the system interpreter, not the venv."""
CLIENT_SCRIPT = """
import json, sys, threading, time
import speechd

mode, text = sys.argv[1], sys.argv[2]
client = speechd.SSIPClient("litetts-e2e")
client.set_output_module("litetts")
if mode == "ssml":
    client.set_data_mode(speechd.DataMode.SSML)
events, done = [], threading.Event()

def callback(kind, index_mark=None):
    events.append({"type": kind, "mark": index_mark, "at": time.perf_counter()})
    if kind in (speechd.CallbackType.END, speechd.CallbackType.CANCEL):
        done.set()

kinds = (speechd.CallbackType.BEGIN, speechd.CallbackType.END, speechd.CallbackType.CANCEL,
         speechd.CallbackType.INDEX_MARK)
client.speak(text, callback=callback, event_types=kinds)
done.wait(60)
client.close()
print(json.dumps(events))
"""
"""Speaks one message through the speechd client library and prints its callbacks as JSON.

Times are ``perf_counter`` (CLOCK_MONOTONIC), comparable with the test process's.
"""

SENTENCE = "The library opens at nine in the morning and closes at six in the evening."
LONG = (
    "When the committee met on Tuesday morning, the first item on the agenda was the budget. "
    "Several members argued that the library needed more funding for its children's programs, "
    "while others wanted to repair the roof before winter. After a long discussion, they agreed "
    "to split the money between both projects and to revisit the question in the spring."
)


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseAudio]:
    server = PulseAudio(tmp_path_factory.mktemp("pulse"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def recorder(pulse: PulseAudio) -> Iterator[Recorder]:
    capture = Recorder(pulse)
    yield capture
    capture.stop()


@pytest.fixture(scope="module")
def speechd(
    tmp_path_factory: pytest.TempPathFactory, pulse: PulseAudio, daemon: DaemonProcess
) -> Iterator[SpeechDispatcher]:
    root = tmp_path_factory.mktemp("speechd")
    wrapper = module_wrapper(root / "sd_litetts_wrapper", daemon.socket)
    server = SpeechDispatcher(
        root,
        pulse,
        {"litetts": (wrapper, DEFAULT_CONFIG_TEXT), "espeak-ng": (SD_ESPEAK, ESPEAK_CONF.read_text())},
    )
    yield server
    server.stop()


def heard(recorder: Recorder, since: int) -> np.ndarray:
    """What played since byte ``since``, once the sink has had time to pass the tail on."""
    time.sleep(0.4)
    return recorder.samples(since)


def python_client(speechd: SpeechDispatcher, mode: str, text: str) -> list[dict[str, Any]]:
    result = speechd.run(SYSTEM_PYTHON, "-c", CLIENT_SCRIPT, mode, text)
    assert result.returncode == 0, result.stderr
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def test_module_is_loaded(speechd: SpeechDispatcher) -> None:
    modules = speechd.run("spd-say", "-O").stdout.split()
    assert "litetts" in modules and "espeak-ng" in modules
    voices = speechd.run("spd-say", "-o", "litetts", "-L").stdout
    assert "piper:en_US-joe-medium" in voices


def test_spd_say_is_heard_and_understood(speechd: SpeechDispatcher, recorder: Recorder) -> None:
    since = recorder.mark()
    result = speechd.run("spd-say", "-w", "-o", "litetts", SENTENCE)
    assert result.returncode == 0, result.stderr
    audio = heard(recorder, since)
    assert first_sound(audio) is not None
    text = transcribe(audio, recorder.rate)
    assert word_error_rate(SENTENCE, text) <= 0.2, text


def test_python_client_is_heard_and_gets_begin_and_end(speechd: SpeechDispatcher, recorder: Recorder) -> None:
    since = recorder.mark()
    events = python_client(speechd, "text", LONG)
    assert events[-1]["type"] == "end"  # BEGIN is racy in the client library; not required
    text = transcribe(heard(recorder, since), recorder.rate)
    assert word_error_rate(LONG, text) <= 0.2, text


def test_index_marks_arrive_in_order_as_the_audio_plays(speechd: SpeechDispatcher, recorder: Recorder) -> None:
    ssml = (
        '<speak>First, the red door.<mark name="red"/> Then the green door on the left.<mark name="green"/>'
        ' Finally the blue door at the end of the hall.<mark name="blue"/></speak>'
    )
    since = recorder.mark()
    events = python_client(speechd, "ssml", ssml)
    marks = [e for e in events if e["type"] == "index_marks"]
    assert [e["mark"] for e in marks] == ["red", "green", "blue"]
    assert events[-1]["type"] == "end"
    start = recorder.time_of(since + 2 * (first_sound(recorder.samples(since)) or 0))
    # Each mark fires when playback reaches it: after the sound starts, spread over the
    # sentences' duration (each takes well over half a second), not all at once.
    times = [start] + [e["at"] for e in marks]
    gaps = np.diff(times)
    assert (gaps > 0.5).all(), gaps
    text = transcribe(heard(recorder, since), recorder.rate)
    assert word_error_rate("First, the red door. Then the green door on the left. Finally the blue door at the end of the hall.", text) <= 0.2, text  # fmt: skip


def test_spd_say_cancel_silences_at_once(speechd: SpeechDispatcher, recorder: Recorder) -> None:
    since = recorder.mark()
    speaking = speechd.popen("spd-say", "-w", "-o", "litetts", LONG)
    assert recorder.wait_for_sound(since) is not None
    time.sleep(1.0)
    cancel = speechd.run("spd-say", "-C")
    assert cancel.returncode == 0
    assert speaking.wait(5) == 0
    time.sleep(0.3)  # what PulseAudio already held plays out
    after = recorder.mark()
    time.sleep(2.0)
    tail = recorder.samples(after)
    assert first_sound(tail) is None, f"sound {first_sound(tail)} samples after the cancel settled"
    # The server goes on working: the next message is spoken.
    since = recorder.mark()
    assert speechd.run("spd-say", "-w", "-o", "litetts", "Ready.").returncode == 0
    assert first_sound(heard(recorder, since)) is not None


def test_a_message_while_the_daemon_is_down_leaves_speech_dispatcher_speaking(
    tmp_path: Path, pulse: PulseAudio, recorder: Recorder, start_daemon: Any
) -> None:
    """speech-dispatcher 0.11.4 crashed (SIGSEGV) two messages after the module answered one
    with 301 ERROR CANT SPEAK, and ``spd-say -w`` never returned for it."""
    socket = tmp_path / "run" / "litettsd.sock"
    first = start_daemon(socket=socket)
    root = tmp_path / "speechd"
    root.mkdir()
    server = SpeechDispatcher(root, pulse, {"litetts": (module_wrapper(root / "wrapper", socket), DEFAULT_CONFIG_TEXT)})
    try:
        assert server.run("spd-say", "-w", "-o", "litetts", "Warm up.").returncode == 0
        first.stop()
        assert server.run("spd-say", "-w", "-o", "litetts", "Nobody home.", timeout=30).returncode == 0
        start_daemon(socket=socket)
        for number in ("one", "two", "three"):
            since = recorder.mark()
            result = server.run("spd-say", "-w", "-o", "litetts", f"Message number {number}.", timeout=60)
            assert result.returncode == 0 and server.proc.poll() is None, (number, result.stderr)
        assert "three" in transcribe(heard(recorder, since), recorder.rate).lower()
    finally:
        server.stop()


def test_installed_module_is_found_by_a_stock_server(
    tmp_path: Path, pulse: PulseAudio, recorder: Recorder, daemon: DaemonProcess
) -> None:
    """``litetts speechd-install --user``, then speech-dispatcher with the system configuration."""
    home = tmp_path / "speechd" / "home"
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share"),
           "XDG_CONFIG_HOME": str(home / ".config")}  # fmt: skip
    subprocess.run([str(SD_LITETTS.parent / "litetts"), "speechd-install", "--user"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    server = SpeechDispatcher(tmp_path / "speechd", pulse, env={"LITETTSD_SOCKET": str(daemon.socket)})
    try:
        assert "litetts" in server.run("spd-say", "-O").stdout.split()
        since = recorder.mark()
        assert server.run("spd-say", "-w", "-o", "litetts", SENTENCE).returncode == 0
        text = transcribe(heard(recorder, since), recorder.rate)
        assert word_error_rate(SENTENCE, text) <= 0.2, text
        assert "modules/litetts.conf" in (tmp_path / "speechd" / "logs" / "speech-dispatcher.log").read_text(
            errors="replace"
        )
    finally:
        server.stop()
