"""SSML through the real daemon: every supported element, marks, breaks, and hostile documents."""

from __future__ import annotations

import re

import numpy as np
import pytest

from .conftest import audio_of
from .speechd_harness import dominant_pitch


def synth(daemon, text, **fields):
    with daemon.connect() as conn:
        return conn.request({"op": "synthesize", "id": 1, "text": text, "ssml": True, **fields})


def normalized(daemon, text, **fields):
    with daemon.connect() as conn:
        reply = conn.request({"op": "normalize", "id": 1, "text": text, "ssml": True, **fields})[0]
    assert reply["type"] == "normalized", reply
    return reply


def pcm(frames):
    assert frames[-1]["type"] == "end", frames[-1]
    return np.frombuffer(audio_of(frames), dtype="<i2"), frames[0]["sample_rate"]


def longest_silence(samples, rate, threshold=0.01):
    """Seconds of the longest stretch whose 10 ms windows all stay below ``threshold``."""
    window = rate // 100
    frames = samples[: len(samples) // window * window].astype(float).reshape(-1, window) / 32768
    quiet = np.abs(frames).max(axis=1) < threshold
    best = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        best = max(best, run)
    return best * window / rate


def daemon_rss_kb(daemon):
    for line in open(f"/proc/{daemon.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_speak_p_and_s_end_sentences(daemon):
    reply = normalized(daemon, "<speak><p><s>First part</s><s>second part</s></p>third part</speak>")
    assert reply["text"] == "First part. second part. third part"


def test_escaped_markup_in_ssml_is_spoken_not_dropped(daemon):
    # speech-dispatcher escapes the "<" of what the user is reading (an HTML file, a chat):
    # once the SSML is parsed it is text, not a tag to remove.
    reply = normalized(daemon, "<speak>Wrap it in &lt;b&gt; tags and call _private_.</speak>", punctuation="all")
    assert "less than b greater than tags" in reply["text"] and "underline private underline" in reply["text"], reply


def test_break_adds_at_least_the_requested_silence(daemon):
    plain, rate = pcm(synth(daemon, "<speak>Hello there my friend</speak>"))
    paused, _ = pcm(synth(daemon, '<speak>Hello there <break time="900ms"/> my friend</speak>'))
    assert longest_silence(paused, rate) >= 0.9
    assert longest_silence(plain, rate) < 0.5
    strong, _ = pcm(synth(daemon, '<speak>Hello there <break strength="x-strong"/> my friend</speak>'))
    assert longest_silence(strong, rate) >= 1.0


def test_leading_break_is_silence_before_speech(daemon):
    samples, rate = pcm(synth(daemon, '<speak><break time="500ms"/>Hello.</speak>'))
    head = samples[: int(0.45 * rate)]
    assert np.abs(head).max() < 0.01 * 32768


def test_prosody_rate_and_volume(daemon):
    base, _ = pcm(synth(daemon, "<speak>The quick brown fox jumps over the lazy dog.</speak>"))
    slow, _ = pcm(synth(daemon, '<speak><prosody rate="50%">The quick brown fox jumps over the lazy dog.</prosody></speak>'))
    quiet, _ = pcm(synth(daemon, '<speak><prosody volume="-6dB">The quick brown fox jumps over the lazy dog.</prosody></speak>'))
    assert len(slow) > 1.6 * len(base)
    ratio = np.sqrt(np.mean(quiet.astype(float) ** 2) / np.mean(base.astype(float) ** 2))
    assert 0.45 < ratio < 0.56  # -6 dB is a factor of 0.501


def test_prosody_volume_cannot_pass_the_requests_limit_or_be_nonsense(daemon):
    sentence = "The quick brown fox jumps over the lazy dog."
    base, _ = pcm(synth(daemon, f"<speak>{sentence}</speak>"))
    loudest, _ = pcm(synth(daemon, f"<speak>{sentence}</speak>", volume=4.0))
    for volume in ("+100dB", "1000"):
        loud, _ = pcm(synth(daemon, f'<speak><prosody volume="{volume}">{sentence}</prosody></speak>'))
        assert np.array_equal(loud, loudest), volume  # bounded at the request's own maximum, 4
    for volume in ("nan", "-5", "inf", "1e999dB"):
        frames = synth(daemon, f'<speak><prosody volume="{volume}">{sentence}</prosody></speak>')
        assert "out of range" in frames[-1]["warnings"][0] or "not understood" in frames[-1]["warnings"][0]
        assert np.array_equal(pcm(frames)[0], base), volume  # ignored, with a warning
        strict = synth(daemon, f'<speak><prosody volume="{volume}">{sentence}</prosody></speak>', ssml_strict=True)
        assert strict[-1]["code"] == "ssml_error", volume


def test_overlong_break_is_cut_to_the_limit(daemon):
    frames = synth(daemon, '<speak>Hi <break time="1800s"/> there</speak>')
    samples, rate = pcm(frames)
    assert 10.0 <= longest_silence(samples, rate) < 11.0
    assert "over the 10 s limit" in frames[-1]["warnings"][0]
    assert synth(daemon, '<speak>Hi <break time="1800s"/> there</speak>', ssml_strict=True)[-1]["code"] == "ssml_error"


def test_prosody_pitch_raises_pitch_and_keeps_duration(daemon):
    sentence = "The quick brown fox jumps over the lazy dog."
    base, rate = pcm(synth(daemon, f"<speak>{sentence}</speak>"))
    high, _ = pcm(synth(daemon, f'<speak><prosody pitch="+25%">{sentence}</prosody></speak>', ssml_strict=True))
    assert abs(len(high) - len(base)) / len(base) < 0.15  # VITS rounds each phoneme duration
    assert 1.12 < dominant_pitch(high, rate) / dominant_pitch(base, rate) < 1.4


def test_sub_speaks_the_alias(daemon):
    reply = normalized(daemon, '<speak>Read <sub alias="World Wide Web Consortium">W3C</sub> now</speak>')
    assert "World Wide Web Consortium" in reply["text"] and "W3C" not in reply["text"]


def test_phoneme_is_spoken_as_given(daemon):
    reply = normalized(daemon, '<speak>I say <phoneme alphabet="ipa" ph="təmˈɑːtoʊ">tomato</phoneme> here.</speak>')
    assert "təmˈɑːtoʊ" in reply["phonemes"]
    assert "/təmˈɑːtoʊ/" in reply["text"]
    frames = synth(daemon, '<speak>I say <phoneme alphabet="ipa" ph="təmˈɑːtoʊ">tomato</phoneme> here.</speak>')
    assert frames[-1]["type"] == "end"


def test_phoneme_for_kokoro_maps_to_its_symbols(daemon):
    reply = normalized(
        daemon, '<speak><phoneme alphabet="ipa" ph="həlˈoʊ">hello</phoneme></speak>', voice="kokoro:jm_kumo"
    )
    assert "O" in reply["phonemes"]  # Kokoro writes the diphthong oʊ as O


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ('<say-as interpret-as="cardinal">42</say-as>', "forty-two"),
        ('<say-as interpret-as="ordinal">3</say-as>', "third"),
        ('<say-as interpret-as="digits">123</say-as>', "one two three"),
        ('<say-as interpret-as="characters">abc</say-as>', "a, b, c"),
        # Text that does not fit the reading asked for is read as it would be without say-as.
        ('<say-as interpret-as="cardinal">$1,000</say-as>', "one thousand dollars"),
        ('<say-as interpret-as="date">March 5th, 2020</say-as>', "march fifth, twenty twenty"),
    ],
)
def test_say_as(daemon, markup, expected):
    reply = normalized(daemon, f"<speak>{markup}</speak>")
    assert expected in reply["text"].lower(), reply["text"]


def test_unknown_say_as_is_read_as_text_with_a_warning(daemon):
    frames = synth(daemon, '<speak><say-as interpret-as="chemistry">H2O</say-as></speak>')
    assert frames[-1]["type"] == "end"
    assert any("chemistry" in warning for warning in frames[-1]["warnings"])


def test_unknown_say_as_fails_a_strict_request(daemon):
    frames = synth(daemon, '<speak><say-as interpret-as="chemistry">H2O</say-as></speak>', ssml_strict=True)
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "ssml_error"
    assert "chemistry" in frames[-1]["message"]


def test_marks_arrive_in_order_with_offsets_inside_the_audio(daemon):
    text = '<speak><mark name="start"/>First sentence here.<mark name="one"/> Second one follows.<mark name="two"/> And a third.<mark name="end"/></speak>'
    frames = synth(daemon, text)
    received = 0
    marks = []
    for frame in frames:
        if frame["type"] == "audio":
            received += len(frame["data"]) // 2
        elif frame["type"] == "mark":
            # A mark is sent only after the audio before it.
            assert frame["offset"] <= received
            marks.append(frame)
    samples = frames[-1]["samples"]
    assert [m["name"] for m in marks] == ["start", "one", "two", "end"]
    offsets = [m["offset"] for m in marks]
    assert offsets == sorted(offsets) and offsets[0] == 0 and offsets[-1] == samples
    assert 0 < offsets[1] < offsets[2] < samples


def test_mark_offset_matches_the_speech_before_it(daemon):
    alone, rate = pcm(synth(daemon, "<speak>First sentence here.</speak>"))
    frames = synth(daemon, '<speak>First sentence here.<mark name="m"/> Then more words follow.</speak>')
    mark = next(f for f in frames if f["type"] == "mark")
    assert mark["offset"] == len(alone)


def orca_ssml(text: str) -> str:
    """SSML as Orca sends every message: a mark before each word, named "start:end" in the text."""
    marked, position = "<speak>", 0
    for word in text.split(" "):
        marked += f'<mark name="{position}:{position + len(word)}"/>{word} '
        position += len(word) + 1
    return marked.rstrip() + "</speak>"


ORCA_TEXT = "The quick brown fox jumps over the lazy dog near the river bank. Then it runs home, a little tired."


def marks_of(frames):
    """(name, offset) of each mark, checking each comes right after the audio before it."""
    received, marks = 0, []
    for frame in frames:
        if frame["type"] == "audio":
            received += len(frame["data"]) // 2
        elif frame["type"] == "mark":
            assert frame["offset"] == received
            marks.append((frame["name"], frame["offset"]))
    return marks


def test_a_mark_before_every_word_leaves_the_speech_as_it_was(daemon):
    """Orca marks every word. The sentence is still spoken by one inference, so the audio is
    exactly the unmarked text's (cutting at each mark spoke it word by word)."""
    plain, _ = pcm(synth(daemon, f"<speak>{ORCA_TEXT}</speak>"))
    frames = synth(daemon, orca_ssml(ORCA_TEXT))
    marked, _ = pcm(frames)
    assert np.array_equal(marked, plain)
    marks = marks_of(frames)
    words = ORCA_TEXT.split(" ")
    assert [name for name, _ in marks] == [name for name in re.findall(r'name="([^"]+)"', orca_ssml(ORCA_TEXT))]
    offsets = [offset for _, offset in marks]
    assert offsets[0] == 0 and offsets == sorted(offsets) and offsets[-1] < len(marked)
    # "of the"-style runs aside, each word starts later than the one before it
    assert len(set(offsets)) >= len(words) - 3


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for the help, it was kind of a surprise.",  # espeak-ng runs "for the" together as "fɚðə"
        "Wait for a minute on the bus.",
        "Wait... what happened?",  # no sentence end before a lower-case word, marked or not
        "I said hi! twice.",
    ],
)
def test_marked_words_espeak_runs_together_still_sound_the_same(daemon, text):
    plain, _ = pcm(synth(daemon, f"<speak>{text}</speak>"))
    frames = synth(daemon, orca_ssml(text))
    assert np.array_equal(pcm(frames)[0], plain)
    assert len(marks_of(frames)) == len(text.split())


@pytest.mark.parametrize("text", ["Thanks for the help.", "Most of the time we wait for the bus."])
def test_a_mark_between_words_espeak_runs_together_falls_between_them(daemon, text):
    """espeak-ng says "for the" as one word, "fɚðə"; the mark before "the" goes inside it,
    before "ðə", so it fires as "the" begins rather than with "for" (~0.2 s early)."""
    phonemes = normalized(daemon, orca_ssml(text))["phonemes"]
    assert "fɚðə" in normalized(daemon, f"<speak>{text}</speak>")["phonemes"]
    frames = synth(daemon, orca_ssml(text))
    assert np.array_equal(pcm(frames)[0], pcm(synth(daemon, f"<speak>{text}</speak>"))[0])
    offsets = [offset for _, offset in marks_of(frames)]
    assert len(offsets) == len(text.split()) and offsets == sorted(offsets)
    assert len(set(offsets)) == len(offsets), (phonemes, offsets)  # no two words start together


def test_a_sentence_mark_next_to_a_word_mark_keeps_the_space_between_them(daemon):
    """What speech-dispatcher makes of an Orca message: its sentence mark, a space, Orca's mark."""
    reply = normalized(daemon, '<speak>Hello world.<mark name="__spd_0"/> <mark name="12:15"/>Next one.</speak>')
    assert reply["text"] == "Hello world. Next one."
    assert "d." in reply["phonemes"] and "dˈɑːt" not in reply["phonemes"]


@pytest.mark.parametrize("rate", [16000, 48000])
def test_marks_in_resampled_audio_fall_at_the_same_time(daemon, rate):
    native = marks_of(synth(daemon, orca_ssml(ORCA_TEXT)))
    frames = synth(daemon, orca_ssml(ORCA_TEXT), sample_rate=rate)
    resampled = marks_of(frames)  # each still after the audio before it
    assert [offset for _, offset in resampled] == [round(offset * rate / 22050) for _, offset in native]
    assert resampled[-1][1] <= frames[-1]["samples"]


@pytest.mark.parametrize("pitch", [0.8, 1.3])
def test_marks_in_pitch_shifted_audio_keep_their_place_in_it(daemon, pitch):
    plain = synth(daemon, orca_ssml(ORCA_TEXT))
    shifted = synth(daemon, orca_ssml(ORCA_TEXT), pitch=pitch)
    for (_, a), (_, b) in zip(marks_of(plain), marks_of(shifted), strict=True):
        # the same fraction of the audio, whose length the shift changes a little
        assert abs(a / plain[-1]["samples"] - b / shifted[-1]["samples"]) < 0.01


def test_marks_inside_a_sentence_fall_where_whisper_hears_their_words(daemon):
    from .stt import word_starts

    frames = synth(daemon, orca_ssml(ORCA_TEXT))
    samples, rate = pcm(frames)
    marks = {ORCA_TEXT[int(name.split(":")[0]) : int(name.split(":")[1])]: offset / rate for name, offset in marks_of(frames)}
    heard = word_starts(samples, rate)
    errors = []
    for word, start in heard:
        written = next((w for w in marks if re.sub(r"[^\w']", "", w).lower() == word), None)
        if written is not None and written not in ("The", "Then"):  # sentence starts: marked before the pause
            errors.append(abs(marks.pop(written) - start))
    assert len(errors) >= 12, heard
    assert float(np.median(errors)) < 0.15 and max(errors) < 0.4, errors


def test_kokoro_places_marks_inside_sentences_too(daemon):
    text = "Good morning, how are you? Fine, thanks."
    plain, _ = pcm(synth(daemon, f"<speak>{text}</speak>", voice="kokoro:jm_kumo"))
    frames = synth(daemon, orca_ssml(text), voice="kokoro:jm_kumo")
    marked, _ = pcm(frames)
    assert np.array_equal(marked, plain)
    marks = marks_of(frames)
    assert [name for name, _ in marks] == re.findall(r'name="([^"]+)"', orca_ssml(text))
    offsets = [offset for _, offset in marks]
    assert offsets[0] == 0 and len(set(offsets)) == len(offsets) and offsets == sorted(offsets)


def test_a_mark_before_a_word_with_nothing_to_say_is_kept_in_order(daemon):
    frames = synth(daemon, '<speak>One <mark name="a"/>- <mark name="b"/>two three.<mark name="c"/></speak>')
    samples, _ = pcm(frames)
    marks = marks_of(frames)
    assert [name for name, _ in marks] == ["a", "b", "c"]
    assert 0 < marks[0][1] <= marks[1][1] < marks[2][1] == len(samples)


@pytest.mark.parametrize(
    "text",
    [
        "We meet on 5/10 at 3 pm.",
        "Python 3.11 was released in Oct. 2022.",
        "The meeting is May 5, 2020 at 10:30 a.m.",
        "Temperatures reach 30 °C in the U.S. in July.",
        "Chapter IV begins here, from 9 am to 5 pm.",
    ],
)
def test_marks_between_words_do_not_change_how_the_text_is_read(daemon, text):
    """Words between Orca's marks are normalized as one text: "on 5/10" stays a date."""
    assert normalized(daemon, orca_ssml(text))["text"] == normalized(daemon, f"<speak>{text}</speak>")["text"]


def test_a_mark_inside_words_read_differently_together_goes_to_their_start():
    from litettsd.document import Mark, Text
    from litettsd.script import normalize_across_marks

    from .test_normalizer_cases import normalize

    segments = [Text("We meet on "), Mark("a"), Text("5/10 "), Mark("b"), Text("at noon.")]
    spoken = [getattr(s, "text", None) or s.name for s in normalize_across_marks(segments, normalize)]
    assert spoken == ["We meet on", "a", "May tenth", "b", "at noon."]
    # the same reading twice: the words both share at the end anchor the second mark
    segments = [Text("on "), Mark("a"), Text("5/10 "), Mark("b"), Text("5/10")]
    spoken = [getattr(s, "text", None) or s.name for s in normalize_across_marks(segments, normalize)]
    assert spoken == ["on", "a", "May tenth", "b", "five out of ten"]


def test_marks_with_stream_false_follow_the_audio(daemon):
    frames = synth(daemon, '<speak>One.<mark name="a"/> Two.</speak>', stream=False)
    kinds = [f["type"] for f in frames]
    assert kinds == ["start", "audio", "mark", "end"]


def test_emphasis_is_accepted(daemon):
    frames = synth(daemon, "<speak>This is <emphasis>very</emphasis> good.</speak>", ssml_strict=True)
    assert frames[-1]["type"] == "end"


@pytest.mark.parametrize(
    "markup",
    ["<speak>unclosed <s>tag</speak>", "<speak>a < b</speak>", "<speak><break time='soon'/>x</speak>", "<speak><blink>x</blink></speak>"],
)
def test_malformed_ssml_strict_is_an_error_naming_the_place(daemon, markup):
    frames = synth(daemon, markup, ssml_strict=True)
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "ssml_error"
    if "<blink>" not in markup and "soon" not in markup:
        assert frames[-1]["message"].count("line 1, column") == 1, frames[-1]["message"]


def test_malformed_ssml_lenient_speaks_the_text_with_a_warning(daemon):
    frames = synth(daemon, "<speak>Hello <s>unclosed world</speak>")
    assert frames[-1]["type"] == "end" and frames[-1]["samples"] > 10000
    assert "malformed SSML at line 1" in frames[-1]["warnings"][0]
    reply = normalized(daemon, "<speak>Hello <s>unclosed world</speak>")
    assert "Hello" in reply["text"] and "<" not in reply["text"]


def test_malformed_ssml_lenient_keeps_its_marks(daemon):
    frames = synth(daemon, '<speak>Hello&nbsp;world.<mark name="a"/> Next one.<mark name=\'__spd_0\'/> Last.</speak>')
    assert frames[-1]["type"] == "end" and "markup ignored" in frames[-1]["warnings"][0]
    marks = [f for f in frames if f["type"] == "mark"]
    assert [m["name"] for m in marks] == ["a", "__spd_0"]
    assert 0 < marks[0]["offset"] < marks[1]["offset"] < frames[-1]["samples"]


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]><speak>&lol9;</speak>"
)
EXTERNAL = '<?xml version="1.0"?><!DOCTYPE speak [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><speak>&xxe;</speak>'


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
@pytest.mark.parametrize("strict", [True, False])
def test_entity_attacks_are_refused(daemon, document, strict):
    before = daemon_rss_kb(daemon)
    frames = synth(daemon, document, ssml_strict=strict)
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "ssml_error"
    assert "root" not in frames[-1]["message"]  # nothing of /etc/passwd leaks
    assert daemon_rss_kb(daemon) - before < 50_000


def test_deep_nesting_is_refused(daemon):
    document = "<speak>" + "<s>" * 500 + "deep" + "</s>" * 500 + "</speak>"
    frames = synth(daemon, document)
    assert frames[-1]["code"] == "ssml_error" and "nested" in frames[-1]["message"]


def test_plain_text_with_angle_brackets_is_not_ssml(daemon):
    with daemon.connect() as conn:
        reply = conn.request({"op": "normalize", "id": 1, "text": "if a < b then"})[0]
    assert reply["type"] == "normalized"
