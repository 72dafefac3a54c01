"""Speech out of the real daemon: every voice and format, streaming, resampling, options."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from litettsd_client.finalize import finalize_flac_length

from .conftest import DEFAULT_VOICE, audio_of

KOKORO_VOICES = ["kokoro:jf_alpha", "kokoro:jf_gongitsune", "kokoro:jf_nezumi", "kokoro:jf_tebukuro", "kokoro:jm_kumo"]
ALL_VOICES = [DEFAULT_VOICE, *KOKORO_VOICES]
FORMATS = ["pcm", "wav", "mp3", "flac", "ogg"]
SHORT = "Good morning, everyone."
PARAGRAPH = (
    "The library opens at nine in the morning. Visitors may borrow up to five books at a time, "
    "and they can renew them online. Quiet rooms on the second floor are reserved for study. "
    "Please return your books before the due date."
)


def synthesize(daemon, rid=1, **fields):
    with daemon.connect() as conn:
        return conn.request({"op": "synthesize", "id": rid, **fields})


def decode(frames):
    """Decode a finished stream into (int16 samples, sample rate)."""
    start, end = frames[0], frames[-1]
    assert start["type"] == "start", frames[:2]
    assert end["type"] == "end", end
    data = audio_of(frames)
    if start["format"] == "pcm":
        return np.frombuffer(data, dtype="<i2"), start["sample_rate"]
    buffer = io.BytesIO(data)
    if start["format"] == "flac":
        # A streamed FLAC header cannot know its length; the client patches it on saving,
        # and libsndfile needs it to read to the end.
        finalize_flac_length(buffer, end["samples"])
    buffer.seek(0)
    return sf.read(buffer, dtype="int16")


def test_voices_lists_piper_and_kokoro(daemon):
    with daemon.connect() as conn:
        reply = conn.request({"op": "voices", "id": 1})[0]
    ids = {voice["id"]: voice for voice in reply["voices"]}
    assert set(ALL_VOICES) <= set(ids)
    assert ids[DEFAULT_VOICE]["sample_rate"] == 22050
    assert ids["kokoro:jm_kumo"]["sample_rate"] == 24000
    assert {"id", "name", "engine", "language", "sample_rate"} <= set(ids[DEFAULT_VOICE])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("voice", ALL_VOICES)
def test_every_voice_and_format_decodes(daemon, voice, fmt):
    frames = synthesize(daemon, text=SHORT, voice=voice, format=fmt)
    samples, rate = decode(frames)
    start, end = frames[0], frames[-1]
    assert start["voice"] == voice
    assert rate == start["sample_rate"] == (22050 if voice.startswith("piper") else 24000)
    seconds = len(samples) / rate
    assert 0.8 < seconds < 4.0, seconds  # "Good morning, everyone." at a natural pace
    if fmt in ("pcm", "wav", "flac"):
        assert len(samples) == end["samples"]
    audio = samples.astype(np.float64) / 32768
    assert np.isfinite(audio).all()
    assert np.sqrt(np.mean(audio**2)) > 0.01, "audio is (nearly) silent"
    assert np.mean(np.abs(samples.astype(np.int32)) >= 32767) < 0.001, "audio clips"
    assert [f["seq"] for f in frames if f["type"] == "audio"] == list(range(len(frames) - 2))


def test_streamed_and_whole_pcm_are_identical(daemon):
    streamed = audio_of(synthesize(daemon, text=PARAGRAPH, stream=True))
    whole_frames = synthesize(daemon, text=PARAGRAPH, stream=False)
    assert sum(f["type"] == "audio" for f in whole_frames) == 1
    assert audio_of(whole_frames) == streamed


def test_streaming_sends_the_first_clause_before_the_rest(daemon):
    frames = synthesize(daemon, text=PARAGRAPH)
    audio = [f["data"] for f in frames if f["type"] == "audio"]
    total = sum(len(piece) for piece in audio)
    # One frame per chunk: the first clause alone, then each sentence (four here).
    assert len(audio) >= 4
    assert len(audio[0]) < total / 3


def test_audio_frames_say_how_much_of_the_text_is_spoken(daemon):
    frames = synthesize(daemon, text=PARAGRAPH, cache=False)
    progress = [f["progress"] for f in frames if f["type"] == "audio"]
    assert len(progress) >= 4
    assert progress == sorted(progress)  # never goes down
    # The first frame is the first clause, "The library opens at nine in the morning.": about
    # a sixth of the paragraph's characters, whatever the audio's length.
    assert 0.05 < progress[0] < 0.3
    assert progress[-1] == 1.0
    whole = synthesize(daemon, text=PARAGRAPH, cache=False, stream=False)
    assert [f["progress"] for f in whole if f["type"] == "audio"] == [1.0]
    # Marks, which move between chunks, Kokoro's sentence packing, clauses said again and again
    # and spelled words end at 1.0 too; a sentence cut into several chunks shares its letters
    # among them, so it does not say 1.0 after its first piece.
    marked = '<speak>One <mark name="a"/>two, three. Four <mark name="b"/>five and six.</speak>'
    long_sentence = " ".join(["the long grey road wound on past the quiet farms and the old mill"] * 5) + ". Then it ended."
    for voice, text in (
        ("piper:en_US-joe-medium", marked),
        ("kokoro:jm_kumo", "Good morning. See you soon."),
        ("piper:en_US-joe-medium", "No, no, no, no! I told you, no, no, no."),
        ("piper:en_US-joe-medium", '<speak><say-as interpret-as="characters">tomato</say-as> soup.</speak>'),
        ("piper:en_US-joe-medium", long_sentence),
    ):
        frames = synthesize(daemon, text=text, voice=voice, cache=False)
        audio = [f for f in frames if f["type"] == "audio"]
        progress = [f["progress"] for f in audio]
        assert progress == sorted(progress) and progress[-1] == 1.0, (text, progress)
        # Every letter here is spoken: the last frame with audio says 1.0, not an empty one after it.
        assert [f["progress"] for f in audio if f["data"]][-1] == 1.0, (text, progress)
        if text is long_sentence:
            # Within a tenth of where the audio is, frame by frame.
            sent = np.cumsum([len(f["data"]) for f in audio]) / sum(len(f["data"]) for f in audio)
            assert np.abs(np.array(progress) - sent).max() < 0.1, (progress, sent.round(3).tolist())


def test_streamed_mp3_matches_pcm_duration(daemon):
    pcm, rate = decode(synthesize(daemon, text=PARAGRAPH, format="pcm"))
    mp3, mp3_rate = decode(synthesize(daemon, text=PARAGRAPH, format="mp3", stream=True))
    assert mp3_rate == rate
    # One MP3 frame (1152 samples) plus the encoder's delay and padding (< 2 frames).
    assert abs(len(mp3) - len(pcm)) <= 3 * 1152, (len(mp3), len(pcm))


@pytest.mark.parametrize("fmt", ["pcm", "flac"])
def test_resampling_to_requested_rate(daemon, fmt):
    native, native_rate = decode(synthesize(daemon, text=SHORT))
    frames = synthesize(daemon, text=SHORT, sample_rate=16000, format=fmt)
    resampled, rate = decode(frames)
    assert rate == frames[0]["sample_rate"] == 16000
    assert abs(len(resampled) / rate - len(native) / native_rate) < 0.01


@pytest.mark.parametrize("voice", ["piper:en_US-joe-medium", "kokoro:jm_kumo"])
def test_speed_changes_duration_in_proportion(daemon, voice):
    """Speed 2 is twice as fast, pauses included. Both models round each phoneme to whole
    frames, at least one, so by themselves they stopped short (Piper at speed 4 was 2.1x)."""
    piper = voice.startswith("piper")
    text = PARAGRAPH if piper else "Good morning. The train leaves at seven, so we should hurry."
    normal, _ = decode(synthesize(daemon, text=text, voice=voice, cache=False))
    # Kokoro's frames are exact at every speed, but slowed down its decoder sustains sounds
    # over more of them: its speed 0.5 is ~0.44 once the silence at the ends is trimmed.
    for speed in (0.5, 2.0, 4.0) if piper else (2.0, 4.0):
        faster, _ = decode(synthesize(daemon, text=text, voice=voice, speed=speed, cache=False))
        assert len(normal) / len(faster) == pytest.approx(speed, rel=0.08 if piper else 0.1), speed
    # A pitch shift plays the audio faster or slower; the speed still holds, even where the
    # model would have to go past its own range (0.25..4) to make up for it.
    for pitch, speed in ((0.5, 4.0), (2.0, 0.5)) if piper else ():
        shifted, _ = decode(synthesize(daemon, text=text, voice=voice, speed=speed, pitch=pitch, cache=False))
        assert len(normal) / len(shifted) == pytest.approx(speed, rel=0.08), (pitch, speed)


def test_volume_scales_level(daemon):
    full, _ = decode(synthesize(daemon, text=SHORT))
    half, _ = decode(synthesize(daemon, text=SHORT, volume=0.5))
    ratio = np.sqrt(np.mean(half.astype(float) ** 2) / np.mean(full.astype(float) ** 2))
    assert 0.45 < ratio < 0.55


def test_kokoro_blend_differs_from_its_parts(daemon):
    blend = "kokoro:jm_kumo*0.7+kokoro:jf_alpha*0.3"
    mixed, rate = decode(synthesize(daemon, text=SHORT, voice=blend))
    kumo, _ = decode(synthesize(daemon, text=SHORT, voice="kokoro:jm_kumo"))
    alpha, _ = decode(synthesize(daemon, text=SHORT, voice="kokoro:jf_alpha"))
    assert rate == 24000 and len(mixed) > rate // 2
    assert not np.array_equal(mixed, kumo) and not np.array_equal(mixed, alpha)


@pytest.mark.parametrize(
    ("voice", "code"),
    [
        ("kokoro:jm_kumo*-1", "invalid_value"),
        ("kokoro:jm_kumo*nan", "invalid_value"),
        ("kokoro:jm_kumo*abc", "invalid_value"),
        ("kokoro:jm_kumo*inf+kokoro:jf_alpha", "invalid_value"),
        ("kokoro:jm_kumo*0+kokoro:jf_alpha*0", "invalid_value"),
        ("kokoro:jm_kumo*0.5+kokoro:nobody*0.5", "unknown_voice"),
    ],
)
def test_bad_kokoro_blends_say_what_is_wrong(daemon, voice, code):
    for _ in range(2):  # and the same the second time: a typo does not disable a voice
        frames = synthesize(daemon, text=SHORT, voice=voice)
        assert frames[-1]["type"] == "error" and frames[-1]["code"] == code, frames[-1]


def test_same_request_gives_same_audio(daemon):
    assert audio_of(synthesize(daemon, text=SHORT)) == audio_of(synthesize(daemon, text=SHORT))


def test_normalize_reports_text_and_phonemes(daemon):
    with daemon.connect() as conn:
        reply = conn.request({"op": "normalize", "id": 1, "text": "It costs 1,250 &amp; more."})[0]
    assert reply["type"] == "normalized"
    assert reply["text"] == "It costs one thousand two hundred fifty and more."
    assert "θˈaʊzənd" in reply["phonemes"]


def test_end_frame_reports_stats(daemon):
    frames = synthesize(daemon, text=SHORT, cache=False)
    end = frames[-1]
    assert end["cached"] is False
    assert end["synth_seconds"] > 0
    assert abs(end["duration"] - end["samples"] / frames[0]["sample_rate"]) < 1e-6


def test_empty_text_gives_empty_audio_and_end(daemon):
    frames = synthesize(daemon, text="   ")
    assert frames[0]["type"] == "start" and frames[-1]["type"] == "end"
    assert frames[-1]["samples"] == 0


@pytest.mark.parametrize(("asked", "carried"), [(96000, 48000), (30000, 32000), (22050, 22050)])
def test_mp3_reports_the_rate_the_file_really_has(daemon, asked, carried):
    import io

    import soundfile

    frames = synthesize(daemon, text=SHORT, format="mp3", sample_rate=asked)
    assert frames[0]["sample_rate"] == carried
    assert soundfile.info(io.BytesIO(audio_of(frames))).samplerate == carried
