"""sd_litetts over its pipes, driven as speech-dispatcher drives it, against a real daemon.

Audio is checked byte for byte against what the daemon sends for the request the SET
mapping should produce, so each test pins both the protocol and the mapping; physical
measures (duration, RMS, f0) check that the mapping means what it says.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litettsd_client.protocol import ProtocolError, encode_frame, recv_frame
from litettsd_client.speechd_config import (
    DEFAULT_CONFIG_TEXT,
    ModuleConfig,
    Settings,
    choose_voice,
    gain_for_volume,
    parse_config,
    pitch_for,
    speed_for_rate,
)

from tests.conftest import REPO, DaemonProcess, audio_of
from tests.speechd_harness import SD_LITETTS, ModuleDriver, dominant_pitch, rms

BLOCK_BYTES = 4096
"""LitettsAudioBlockBytes default."""
IDENTITY = {
    "format": "pcm",
    "speed": 1.0,
    "pitch": 1.0,
    "volume": 1.0,
    "punctuation": "none",
    "spell": False,
    "capitals": "none",
    "priority": "message",
}
"""The daemon fields for speech-dispatcher's default SET (rate 0, pitch 0, volume 100...)."""
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A second sentence follows it closely.",
    "Then a third one ends the paragraph.",
]
LONG = [
    "When the committee met on Tuesday morning, the first item on the agenda was the budget.",
    "Several members argued that the library needed more funding for its children's programs.",
    "Others wanted to repair the roof before winter, since the rain had already damaged books.",
    "After a long discussion, they agreed to split the money between both projects.",
    "They also decided to revisit the question in the spring, when the accounts were final.",
    "The chair thanked everyone for their patience and closed the meeting at noon.",
    "Outside, the first snow of the season had started to fall on the empty square.",
    "Children ran between the market stalls, catching flakes on their tongues and laughing.",
]


def spd_ssml(sentences: list[str]) -> str:
    """A message as speech-dispatcher hands it over: SSML with a mark after each sentence but the last."""
    body = "".join(f'{s}<mark name="__spd_{i}"/> ' for i, s in enumerate(sentences[:-1])) + sentences[-1]
    return f"<speak>{body}</speak>"


def daemon_request(daemon: DaemonProcess, op: str = "synthesize", **fields: Any) -> tuple[bytes, list[dict[str, Any]]]:
    """The daemon's own audio and mark frames for one request."""
    with daemon.connect() as conn:
        conn.send({"op": op, "id": 1, **IDENTITY, **fields})
        frames = conn.collect(1)
    assert frames[-1]["type"] == "end", frames[-1]
    return audio_of(frames), [f for f in frames if f["type"] == "mark"]


def start_module(daemon: DaemonProcess, tmp_path: Path, *argv: str) -> ModuleDriver:
    driver = ModuleDriver(
        [str(SD_LITETTS), *argv], env={"LITETTSD_SOCKET": str(daemon.socket)}, stderr=tmp_path / "module.log"
    )
    assert driver.start()[-1] == "299 OK LOADED SUCCESSFULLY"
    return driver


@pytest.fixture
def module(daemon: DaemonProcess, tmp_path: Path) -> Iterator[ModuleDriver]:
    driver = start_module(daemon, tmp_path)
    yield driver
    if driver.proc.poll() is None:
        assert driver.quit() == 0


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype=np.int16)


# -- start-up and plain commands --------------------------------------------------------


def test_init_without_daemon_says_what_to_start(tmp_path: Path) -> None:
    driver = ModuleDriver([str(SD_LITETTS)], env={"LITETTSD_SOCKET": str(tmp_path / "nobody.sock")})
    reply = driver.command("INIT")
    assert reply[-1] == "399 ERR CANT INIT MODULE"
    assert all(line.startswith("399-") for line in reply[:-1])
    text = "\n".join(reply)
    assert "litettsd is not running" in text
    assert "systemctl --user start litettsd.socket" in text and "`litettsd`" in text
    assert str(tmp_path / "nobody.sock") in text
    silent = driver.speak("Hello.")  # begins and ends at once: 301 would crash speech-dispatcher
    assert silent.ending == "702 END" and silent.audio == b""
    assert driver.command("LIST VOICES") == ["304 CANT LIST VOICES"]
    assert driver.quit() == 0


class _DroppingProxy:
    """Forwards to the daemon, but ends the first connection that sends a ``synthesize``
    without passing it on: a daemon that died just before the message reached it."""

    def __init__(self, path: Path, daemon: Path) -> None:
        self.path, self.daemon, self.dropped = path, daemon, 0
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(str(self.daemon))
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        with contextlib.suppress(OSError, ProtocolError):
            while (frame := recv_frame(client)) is not None:
                if frame.get("op") == "synthesize" and not self.dropped:
                    self.dropped += 1
                    break
                upstream.sendall(encode_frame(frame))
        for end in (client, upstream):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)

    def close(self) -> None:
        self._listener.close()


def test_a_message_the_daemon_never_heard_is_sent_again(daemon: DaemonProcess, tmp_path: Path) -> None:
    # The first message after the daemon died (and systemd started it again) used to end in
    # silence: 200 OK SPEAKING, BEGIN, END, no audio.
    proxy = _DroppingProxy(tmp_path / "proxy.sock", daemon.socket)
    driver = ModuleDriver([str(SD_LITETTS)], env={"LITETTSD_SOCKET": str(proxy.path)}, stderr=tmp_path / "module.log")
    try:
        assert driver.start()[-1] == "299 OK LOADED SUCCESSFULLY"
        message = driver.speak("Heard the second time.")
        assert proxy.dropped == 1
        assert message.audio == daemon_request(daemon, text="Heard the second time.", ssml=True)[0]
        assert "sending it again" in (tmp_path / "module.log").read_text()
        assert driver.quit() == 0
    finally:
        proxy.close()


def test_startup_replies(daemon: DaemonProcess, tmp_path: Path) -> None:
    driver = ModuleDriver([str(SD_LITETTS)], env={"LITETTSD_SOCKET": str(daemon.socket)})
    init = driver.command("INIT")
    assert init[-1] == "299 OK LOADED SUCCESSFULLY" and init[0].startswith("299-")
    assert driver.command("AUDIO", ["audio_output_method=server"]) == [
        "207 OK RECEIVING AUDIO SETTINGS",
        "203 OK AUDIO INITIALIZED",
    ]
    assert driver.command("AUDIO", ["audio_output_method=alsa"])[-1] == "300 MODULE ERROR"
    assert driver.command("AUDIO", ["nonsense"])[-1] == "302 ERROR BAD SYNTAX"
    assert driver.command("LOGLEVEL", ["log_level=5"]) == ["207 OK RECEIVING LOGLEVEL SETTINGS", "203 OK LOGLEVEL SET"]
    assert driver.command("LOGLEVEL", ["log_level=loud"])[-1] == "303 ERROR INVALID PARAMETER OR VALUE"
    assert driver.command("FLY") == ["300 ERR UNKNOWN COMMAND"]
    assert driver.quit() == 0


def test_list_voices_lists_the_daemons(module: ModuleDriver, daemon: DaemonProcess) -> None:
    with daemon.connect() as conn:
        voices = conn.request({"op": "voices", "id": 1})[0]["voices"]
    reply = module.command("LIST VOICES")
    assert reply[-1] == "200 OK VOICE LIST SENT"
    assert reply[:-1] == [f"200-{v['id']}\t{v['language']}\tnone" for v in voices]


def test_debug_on_copies_the_log_to_a_file(module: ModuleDriver, tmp_path: Path) -> None:
    debug = tmp_path / "debug.log"
    assert module.command(f"DEBUG ON {debug} ") == ["200 OK DEBUGGING ON"]
    module.speak(spd_ssml(["Log this."]))
    assert module.command("DEBUG OFF ") == ["200 OK DEBUGGING OFF"]
    assert "SPEAK" in debug.read_text()
    size = debug.stat().st_size
    module.speak(spd_ssml(["Not this."]))
    assert debug.stat().st_size == size
    assert module.command(f"DEBUG ON {tmp_path}/missing/debug.log") == ["303 CANT OPEN CUSTOM DEBUG FILE"]
    assert module.command("DEBUG SIDEWAYS") == ["302 ERROR BAD SYNTAX"]


def test_quit_while_speaking_stops_first_and_exits_soon(daemon: DaemonProcess, tmp_path: Path) -> None:
    driver = start_module(daemon, tmp_path)
    driver.shrink_pipe(4096)  # the module blocks on its output, still speaking when QUIT comes
    driver.begin(spd_ssml(LONG))
    first = driver.event()
    assert first is not None and first.is_audio
    sent = driver.send("QUIT")
    lines = []
    with contextlib.suppress(EOFError):  # the module's exit ends the reading
        while (event := driver.event(5)) is not None:
            lines.append(event.line)
    # At most the block being written, then the message's ending; nothing after the reply.
    assert lines[-2:] == ["703 STOP", "210 OK QUIT"], lines
    assert set(lines[:-2]) <= {"705 AUDIO"}, lines
    assert driver.close(5) == 0
    assert time.perf_counter() - sent < 2


def test_quit_and_end_of_input_exit_cleanly(daemon: DaemonProcess, tmp_path: Path) -> None:
    driver = start_module(daemon, tmp_path)
    started = time.monotonic()
    assert driver.quit() == 0
    assert time.monotonic() - started < 2
    driver = start_module(daemon, tmp_path)
    assert driver.proc.stdin is not None
    driver.proc.stdin.close()
    assert driver.close(5) == 0


# -- speaking ---------------------------------------------------------------------------


def test_audio_blocks_are_the_daemons_pcm_escaped(module: ModuleDriver, daemon: DaemonProcess) -> None:
    text = spd_ssml(SENTENCES)
    message = module.speak(text)
    expected, _ = daemon_request(daemon, text=text, ssml=True)
    assert message.ending == "702 END"
    assert message.audio == expected  # byte-exact after unescaping
    payload = b"".join(block.raw for block in message.blocks)
    assert b"\x7d\x2a" in payload and b"\x7d\x5d" in payload  # both escapes were needed and used
    assert expected.count(b"\n") == payload.count(b"\x7d\x2a") and b"\n" not in payload
    for block in message.blocks:
        assert block.header == {
            "bits": 16,
            "num_channels": 1,
            "sample_rate": 22050,
            "num_samples": len(block.pcm) // 2,
            "big_endian": 0,
        }
        assert 0 < len(block.pcm) <= BLOCK_BYTES


def test_marks_come_in_order_after_exactly_their_samples(module: ModuleDriver, daemon: DaemonProcess) -> None:
    text = spd_ssml(SENTENCES)
    message = module.speak(text)
    _, marks = daemon_request(daemon, text=text, ssml=True)
    assert message.marks() == [(m["name"], m["offset"]) for m in marks]
    assert [name for name, _ in message.marks()] == ["__spd_0", "__spd_1"]
    lines = message.lines
    for name in ("__spd_0", "__spd_1"):
        assert lines[lines.index(f"700-{name}") + 1] == "700 INDEX MARK"


def test_marks_stay_in_step_with_resampled_audio(daemon: DaemonProcess, tmp_path: Path) -> None:
    conf = tmp_path / "litetts.conf"
    conf.write_text("LitettsSampleRate 16000\nLitettsAudioBlockBytes 1000\n")
    driver = start_module(daemon, tmp_path, str(conf))
    text = spd_ssml(SENTENCES)
    message = driver.speak(text)
    expected, marks = daemon_request(daemon, text=text, ssml=True, sample_rate=16000)
    assert message.sample_rate == 16000
    assert message.audio == expected
    assert message.marks() == [(m["name"], m["offset"]) for m in marks]
    assert max(len(block.pcm) for block in message.blocks) == 1000
    assert driver.quit() == 0


def test_client_marks_pass_through(module: ModuleDriver) -> None:
    message = module.speak('<speak>Press <mark name="here"/>the button <mark name="there"/>now.</speak>')
    assert [name for name, _ in message.marks()] == ["here", "there"]
    offsets = [offset for _, offset in message.marks()]
    assert 0 < offsets[0] < offsets[1] < len(message.audio) // 2


def test_dot_stuffed_lines_are_restored(module: ModuleDriver, daemon: DaemonProcess) -> None:
    text = "<speak>First line\n.hidden file\n..two dots</speak>"
    message = module.speak(text)  # ModuleDriver dot-stuffs as the server does
    expected, _ = daemon_request(daemon, text=text, ssml=True)
    assert message.audio == expected


def test_empty_message_begins_and_ends_silently(module: ModuleDriver) -> None:
    empty = module.speak("")
    assert empty.ending == "702 END" and empty.audio == b""
    assert module.command("KEY", ["a", "b"]) == ["202 OK RECEIVING MESSAGE", "305 DATA MORE THAN ONE LINE"]


# -- STOP and PAUSE ---------------------------------------------------------------------


def in_flight(daemon: DaemonProcess) -> int:
    with daemon.connect() as conn:
        return int(conn.request({"op": "status", "id": 1})[0]["requests_in_flight"])  # the status op not counted


def test_stop_while_blocked_sends_no_more_audio_and_cancels_the_daemon(
    module: ModuleDriver, daemon: DaemonProcess
) -> None:
    module.shrink_pipe(4096)  # like a server reading at playback speed: the module blocks at once
    module.begin(spd_ssml(LONG * 3))  # minutes of speech: still synthesizing when STOP comes
    first = module.event()
    assert first is not None and first.is_audio
    time.sleep(0.5)  # the daemon is still synthesizing; the module waits on the full pipe
    assert in_flight(daemon) == 1
    module.send("STOP")
    time.sleep(0.2)
    assert in_flight(daemon) == 0  # cancelled at the daemon, not only muted here
    message = module.until_end()
    assert message.ending == "703 STOP"
    # What was in the pipe (4 KiB) and the block being written may still arrive; nothing newer.
    assert len(message.blocks) <= 2
    assert module.quiet(0.5) == []
    assert module.speak(spd_ssml(["Still working."])).ending == "702 END"


def test_stop_reports_within_20_ms(module: ModuleDriver) -> None:
    latencies = []
    for _ in range(7):
        module.begin(spd_ssml(LONG))
        first = module.event()
        assert first is not None and first.is_audio
        stopped = module.send("STOP")
        message = module.until_end()
        assert message.ending == "703 STOP"
        latencies.append(message.events[-1].at - stopped)
        assert module.quiet(0.2) == []
    assert statistics.median(latencies) < 0.020, latencies


def test_stop_when_idle_or_twice_sends_nothing(module: ModuleDriver) -> None:
    module.send("STOP")
    assert module.quiet(0.3) == []
    assert module.speak(spd_ssml(["Short."])).ending == "702 END"
    module.send("STOP", "STOP")  # after the end, as the server may: the ending was already sent
    assert module.quiet(0.3) == []
    module.begin(spd_ssml(LONG))
    module.send("STOP", "STOP")
    assert module.until_end().ending == "703 STOP"
    assert module.quiet(0.3) == []


def test_pause_stops_at_the_next_sentence_mark(module: ModuleDriver, daemon: DaemonProcess) -> None:
    module.shrink_pipe(4096)
    text = spd_ssml(LONG)
    module.begin(text)
    first = module.event()
    assert first is not None and first.is_audio
    module.send("PAUSE")
    message = module.until_end()
    assert message.ending == "704 PAUSE"
    lines = message.lines
    assert lines[-3].startswith("700-__spd_") and lines[-2] == "700 INDEX MARK"
    assert not message.events[-2].is_audio and not message.events[-3].is_audio  # no audio after the mark
    _, marks = daemon_request(daemon, text=text, ssml=True)
    paused_at = lines[-3][4:]
    assert paused_at != marks[-1]["name"]  # it did not simply run to the end
    name, samples_after_first = message.marks()[-1]
    offset = next(m["offset"] for m in marks if m["name"] == paused_at)
    assert (name, first.header["num_samples"] + samples_after_first) == (paused_at, offset)
    assert module.quiet(0.5) == []
    assert in_flight(daemon) == 0


# -- SET --------------------------------------------------------------------------------

PHRASE = spd_ssml(["The quick brown fox jumps over the lazy dog."])


def test_set_replies_and_validation(module: ModuleDriver) -> None:
    assert module.set() == ["203 OK RECEIVING SETTINGS", "203 OK SETTINGS RECEIVED"]
    for bad in ("rate=101", "pitch=-101", "volume=loud", "punctuation_mode=few", "spelling_mode=yes",
                "cap_let_recogn=shout", "voice=robot1", "pitch_range=1000"):  # fmt: skip
        assert module.command("SET", [bad])[-1] == "303 ERROR INVALID PARAMETER OR VALUE", bad
    assert module.command("SET", ["rate"])[-1] == "302 ERROR BAD SYNTAX"
    assert module.command("SET", ["future_setting=1", "rate=10"])[-1] == "203 OK SETTINGS RECEIVED"


def test_rejected_set_changes_nothing(module: ModuleDriver) -> None:
    base = module.speak(PHRASE)
    assert module.command("SET", ["rate=100", "volume=999"])[-1] == "303 ERROR INVALID PARAMETER OR VALUE"
    module.send("SPEAK")
    module.expect("202 OK RECEIVING MESSAGE")
    module.send(PHRASE, ".")
    module.expect("200 OK SPEAKING", "701 BEGIN")
    assert module.until_end().audio == base.audio


@pytest.mark.parametrize(("rate", "speed"), [(100, 2.5), (50, 2.5**0.5), (-100, 0.5), (-30, 0.5**0.3)])
def test_rate_sets_speed(module: ModuleDriver, daemon: DaemonProcess, rate: int, speed: float) -> None:
    base = module.speak(PHRASE)
    message = module.speak(PHRASE, rate=str(rate))
    expected, _ = daemon_request(daemon, text=PHRASE, ssml=True, speed=speed)
    assert message.audio == expected
    ratio = len(message.audio) / len(base.audio)
    # Duration moves as 1/speed, less at the extremes: pauses stay, phoneme lengths round to frames.
    assert ratio < speed**-0.4 if speed > 1 else ratio > speed**-0.4, ratio


def test_volume_sets_linear_gain(module: ModuleDriver, daemon: DaemonProcess) -> None:
    full = module.speak(PHRASE, volume="100")
    half = module.speak(PHRASE, volume="0")
    silent = module.speak(PHRASE, volume="-100")
    assert half.audio == daemon_request(daemon, text=PHRASE, ssml=True, volume=0.5)[0]
    assert 0.48 < rms(half.samples()) / rms(full.samples()) < 0.52
    assert len(silent.audio) == len(full.audio) and not silent.samples().any()


def test_pitch_shifts_f0_and_keeps_duration(module: ModuleDriver, daemon: DaemonProcess) -> None:
    base = module.speak(PHRASE)
    high = module.speak(PHRASE, pitch="100")
    low = module.speak(PHRASE, pitch="-50")
    assert high.audio == daemon_request(daemon, text=PHRASE, ssml=True, pitch=2 ** (6 / 12))[0]
    f0 = dominant_pitch(base.samples(), 22050)
    assert 1.25 < dominant_pitch(high.samples(), 22050) / f0 < 1.6
    assert dominant_pitch(low.samples(), 22050) / f0 < 0.97  # nominal 0.84; f0 tracking is coarse down there
    assert abs(len(high.audio) - len(base.audio)) / len(base.audio) < 0.15


def test_pitch_range_is_accepted_and_ignored(module: ModuleDriver) -> None:
    assert module.speak(PHRASE, pitch_range="80").audio == module.speak(PHRASE).audio


def test_punctuation_mode_is_passed_on(module: ModuleDriver, daemon: DaemonProcess) -> None:
    text = spd_ssml(["Hi, Bob!"])
    none = module.speak(text, punctuation_mode="none")
    for mode in ("some", "most", "all"):
        message = module.speak(text, punctuation_mode=mode)
        assert message.audio == daemon_request(daemon, text=text, ssml=True, punctuation=mode)[0], mode
    with daemon.connect() as conn:
        spoken = conn.request({"op": "normalize", "id": 1, "text": "Hi, Bob!", "punctuation": "all"})[0]["text"]
    assert "comma" in spoken
    assert len(module.speak(text, punctuation_mode="all").audio) > len(none.audio)


def test_spelling_and_capitals(module: ModuleDriver, daemon: DaemonProcess) -> None:
    text = spd_ssml(["Hi Bob"])
    plain = module.speak(text)
    spelled = module.speak(text, spelling_mode="on")
    capitals = module.speak(text, spelling_mode="on", cap_let_recogn="spell")
    assert spelled.audio == daemon_request(daemon, text=text, ssml=True, spell=True)[0]
    assert capitals.audio == daemon_request(daemon, text=text, ssml=True, spell=True, capitals="spell")[0]
    assert len(plain.audio) < len(spelled.audio) < len(capitals.audio)


def test_voice_type_language_and_synthesis_voice_pick_voices(module: ModuleDriver, daemon: DaemonProcess) -> None:
    assert module.speak(PHRASE, voice="male1").sample_rate == 22050  # Piper, the daemon's default
    female = module.speak(PHRASE, voice="female1")
    assert female.sample_rate == 24000
    assert female.audio == daemon_request(daemon, text=PHRASE, ssml=True, voice="kokoro:jf_alpha")[0]
    chosen = module.speak(PHRASE, synthesis_voice="kokoro:jm_kumo", voice="female1")
    assert chosen.audio == daemon_request(daemon, text=PHRASE, ssml=True, voice="kokoro:jm_kumo")[0]
    # Unknown voices and languages fall back instead of silencing the message.
    assert module.speak(PHRASE, synthesis_voice="espeak-ng:klatt").audio == module.speak(PHRASE).audio
    assert module.speak(PHRASE, language="fr-FR").ending == "702 END"


# -- CHAR, KEY, SOUND_ICON --------------------------------------------------------------


def test_char_and_key_use_the_daemons_char_op(module: ModuleDriver, daemon: DaemonProcess) -> None:
    for command, data, field in (("CHAR", "a", {"char": "a"}), ("CHAR", "space", {"char": " "}),
                                 ("KEY", "shift_a", {"key": "shift_a"}), ("KEY", "control_alt_delete",
                                 {"key": "control_alt_delete"})):  # fmt: skip
        message = module.speak(data, command=command)
        assert message.ending == "702 END"
        assert message.audio == daemon_request(daemon, op="char", **field)[0], (command, data)
        if data != "space":  # key names are being reworked by the normalizer; require sound only
            assert rms(message.samples()) > 100
    capital = module.speak("A", command="CHAR", cap_let_recogn="spell")
    assert capital.audio == daemon_request(daemon, op="char", char="A", capitals="spell")[0]
    # icon without a capital icon file still marks the capital, in words
    assert module.speak("A", command="CHAR", cap_let_recogn="icon").audio == capital.audio
    lower = module.speak("a", command="CHAR", cap_let_recogn="icon")
    assert lower.audio == daemon_request(daemon, op="char", char="a")[0]


def test_char_of_several_code_points_is_spelled(module: ModuleDriver, daemon: DaemonProcess) -> None:
    decomposed = "e\u0301"
    message = module.speak(decomposed, command="CHAR")
    assert message.audio == daemon_request(daemon, text=decomposed, spell=True)[0]


def write_tone(path: Path) -> np.ndarray:
    """A 0.4 s 440 Hz 16-bit WAV at 11025 Hz; returns its samples."""
    tone = (np.sin(np.arange(4410) * 2 * np.pi * 440 / 11025) * 12000).astype(np.int16)
    tone[100:110] = 0x0A0A  # bytes the escaping must carry
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(11025)
        wav.writeframes(tone.tobytes())
    return tone


def test_sound_icon_plays_the_file_or_speaks_the_name(daemon: DaemonProcess, tmp_path: Path) -> None:
    icons = tmp_path / "icons"
    icons.mkdir()
    tone = write_tone(icons / "bell.wav")
    (icons / "broken.wav").write_bytes(b"not a wav")
    conf = tmp_path / "litetts.conf"
    conf.write_text(f'LitettsSoundIconFolder "{icons}"\n')
    driver = start_module(daemon, tmp_path, str(conf))
    bell = driver.speak("bell", command="SOUND_ICON")
    assert bell.audio == tone.tobytes() and bell.sample_rate == 11025
    spoken = driver.speak("message_new", command="SOUND_ICON")
    assert spoken.audio == daemon_request(daemon, text="message new")[0]
    assert driver.speak("broken", command="SOUND_ICON").audio == daemon_request(daemon, text="broken")[0]
    assert driver.quit() == 0


def test_a_stereo_sound_icon_is_played_whole_in_one_channel(daemon: DaemonProcess, tmp_path: Path) -> None:
    # speech-dispatcher 0.11 played half of each stereo block: icons are mixed down first.
    icons = tmp_path / "icons"
    icons.mkdir()
    left = write_tone(tmp_path / "mono.wav")
    right = (left // 3).astype(np.int16)
    with wave.open(str(icons / "chime.wav"), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(11025)
        wav.writeframes(np.column_stack([left, right]).astype("<i2").tobytes())
    conf = tmp_path / "litetts.conf"
    conf.write_text(f'LitettsSoundIconFolder "{icons}"\n')
    driver = start_module(daemon, tmp_path, str(conf))
    chime = driver.speak("chime", command="SOUND_ICON")
    expected = ((left.astype(np.int32) + right) // 2).astype("<i2")
    assert chime.sample_rate == 11025 and chime.audio == expected.tobytes()
    assert driver.quit() == 0


def test_capital_icon_comes_before_a_capital_letter(daemon: DaemonProcess, tmp_path: Path) -> None:
    icons = tmp_path / "icons"
    icons.mkdir()
    tone = write_tone(icons / "capital.wav")
    conf = tmp_path / "litetts.conf"
    conf.write_text(f'LitettsSoundIconFolder "{icons}"\n')
    driver = start_module(daemon, tmp_path, str(conf))
    message = driver.speak("B", command="CHAR", cap_let_recogn="icon")
    assert message.ending == "702 END"
    first_rate = message.blocks[0].header["sample_rate"]
    icon = b"".join(b.pcm for b in message.blocks if b.header["sample_rate"] == first_rate)
    letter = b"".join(b.pcm for b in message.blocks if b.header["sample_rate"] != first_rate)
    assert first_rate == 11025 and icon == tone.tobytes()
    assert letter == daemon_request(daemon, op="char", char="B")[0]  # the icon, not "capital"
    assert driver.quit() == 0


# -- configuration, failures, installation ----------------------------------------------


def test_shipped_config_is_the_builtin_default() -> None:
    assert (REPO / "config" / "speechd" / "litetts.conf").read_text() == DEFAULT_CONFIG_TEXT
    assert parse_config(DEFAULT_CONFIG_TEXT.splitlines()) == ModuleConfig()


def test_bad_config_lines_keep_defaults(caplog: pytest.LogCaptureFixture) -> None:
    config = parse_config(
        [
            "LitettsRateMaxSpeed 9",
            "LitettsPriority urgent",
            "LitettsVoiceType robot1 piper:x",
            "NoSuchSetting 1",
            'LitettsSocket "/run/x.sock" # comment',
            "litettsvoicetype female1 piper:en_US-joe-medium",
            'LitettsSocket "unterminated',
        ]
    )
    assert config.rate_max_speed == 2.5 and config.priority == "message"
    assert config.socket == "/run/x.sock"
    assert config.voice_types["female1"] == "piper:en_US-joe-medium" and "robot1" not in config.voice_types
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 5


def test_mapping_curves() -> None:
    config = ModuleConfig()
    assert speed_for_rate(0, config) == 1.0 and speed_for_rate(100, config) == 2.5
    assert speed_for_rate(-100, config) == 0.5
    speeds = [speed_for_rate(r, config) for r in range(-100, 101, 10)]
    assert speeds == sorted(speeds)
    assert pitch_for(0, config) == 1.0 and pitch_for(100, config) == pytest.approx(2 ** 0.5)
    assert pitch_for(-100, config) == pytest.approx(2**-0.5)
    assert gain_for_volume(100, config) == 1.0 and gain_for_volume(0, config) == 0.5
    assert gain_for_volume(-100, config) == 0.0


def test_voice_choice_order() -> None:
    voices = [
        {"id": "piper:en_US-joe-medium", "language": "en-US"},
        {"id": "kokoro:jf_alpha", "language": "en-US"},
        {"id": "piper:en_GB-x", "language": "en-GB"},
        {"id": "piper:de_DE-y", "language": "de-DE"},
    ]
    config = ModuleConfig()
    assert choose_voice(Settings(), config, voices) is None  # male1 "" is the daemon's default
    assert choose_voice(Settings(voice="female1"), config, voices) == "kokoro:jf_alpha"
    assert choose_voice(Settings(voice="male2"), config, voices) is None  # kokoro:jm_kumo not installed
    assert choose_voice(Settings(voice="female1", language="de"), config, voices) == "piper:de_DE-y"
    assert choose_voice(Settings(language="en-GB"), config, voices) == "piper:en_GB-x"
    assert choose_voice(Settings(voice="female1", language="en-GB"), config, voices) == "kokoro:jf_alpha"
    assert choose_voice(Settings(voice="female1", language="fr"), config, voices) == "kokoro:jf_alpha"
    assert choose_voice(Settings(synthesis_voice="piper:de_DE-y", language="en"), config, voices) == "piper:de_DE-y"
    # male1 with a language: the daemon's default voice when it speaks it, not the first listed
    assert choose_voice(Settings(language="en-US"), config, voices, "kokoro:jf_alpha") is None
    assert choose_voice(Settings(language="en-US"), config, voices, "piper:de_DE-y") == "piper:en_US-joe-medium"


def test_config_socket_is_used(daemon: DaemonProcess, tmp_path: Path) -> None:
    conf = tmp_path / "litetts.conf"
    conf.write_text(f'LitettsSocket "{daemon.socket}"\n')
    driver = ModuleDriver([str(SD_LITETTS), str(conf)], env={"LITETTSD_SOCKET": str(tmp_path / "wrong.sock")})
    assert driver.start()[-1] == "299 OK LOADED SUCCESSFULLY"
    assert driver.quit() == 0


def test_lost_daemon_refuses_messages_and_keeps_serving(start_daemon: Any, tmp_path: Path) -> None:
    private = start_daemon()
    driver = start_module(private, tmp_path)
    assert driver.speak(PHRASE).ending == "702 END"
    private.stop()
    assert driver.set()[-1] == "203 OK SETTINGS RECEIVED"
    silent = driver.speak(PHRASE)
    assert silent.ending == "702 END" and silent.audio == b""
    assert driver.command("LIST VOICES") == ["304 CANT LIST VOICES"]
    assert driver.quit() == 0


def test_speechd_install(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home)}
    env.pop("XDG_DATA_HOME", None)
    env.pop("XDG_CONFIG_HOME", None)
    litetts = str(SD_LITETTS.parent / "litetts")
    out = subprocess.run([litetts, "speechd-install", "--user"], env=env, capture_output=True, text=True, check=True)
    link = home / ".local/libexec/speech-dispatcher-modules/sd_litetts"
    conf = home / ".config/speech-dispatcher/modules/litetts.conf"
    assert link.is_symlink() and link.resolve() == SD_LITETTS.resolve()
    assert conf.read_text() == DEFAULT_CONFIG_TEXT
    assert (home / ".local/share").is_dir()  # speech-dispatcher resolves .local/share/../libexec
    assert 'AddModule "litetts" "sd_litetts" "litetts.conf"' in out.stdout
    conf.write_text("LitettsRateMaxSpeed 3\n")
    again = subprocess.run([litetts, "speechd-install", "--user"], env=env, capture_output=True, text=True, check=True)
    assert "kept" in again.stdout and conf.read_text() == "LitettsRateMaxSpeed 3\n"
    dest = tmp_path / "dest"
    subprocess.run([litetts, "speechd-install", "--destdir", str(dest)], capture_output=True, check=True)
    assert (dest / "usr/lib/speech-dispatcher-modules/sd_litetts").is_symlink()
    assert (dest / "etc/speech-dispatcher/modules/litetts.conf").read_text() == DEFAULT_CONFIG_TEXT
