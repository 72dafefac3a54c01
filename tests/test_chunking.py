"""How text is cut into inferences: a short lead first, then sentences, packed where that pays.

These run the chunk planner on the real Piper voice (its espeak-ng phonemizer and phoneme
table); packing is checked on the same voice with ``pack_tokens`` raised, as Kokoro sets it.
"""

from __future__ import annotations

import dataclasses

import onnxruntime
import pytest

from litettsd.api import EngineContext, Voice
from litettsd.chunking import _NO_CUT_AFTER, _PHRASE_OPENERS, Chunk, plan_chunks, split_clauses
from litettsd.config import load_settings
from litettsd.plugins import build_plugin_manager
from litettsd.voices import VoiceRegistry

PARAGRAPH = (
    "When the committee met on Tuesday morning, the first item on the agenda was the budget. "
    "Several members argued that the library needed more funding. Others wanted to repair the roof. "
    "After a long discussion they agreed. The money was split between both projects. "
    "They will revisit the question in the spring. Everyone went home early that day."
)
LONG_FIRST_CLAUSES = [
    "The train to the city leaves at half past seven.",
    "Please remember to water the plants while I am away.",
    "She opened the window and let the cool air into the room.",
    "The weather will be sunny with a light breeze this afternoon.",
    "A small dog was sleeping under the table near the fire.",
    "Nobody expected the quiet student to win the prize.",
]


@pytest.fixture(scope="module")
def piper(tmp_path_factory: pytest.TempPathFactory) -> Voice:
    settings = load_settings().settings
    plugins = build_plugin_manager()
    context = EngineContext(
        settings=settings,
        cache_dir=tmp_path_factory.mktemp("models"),
        create_session=lambda model, engine: onnxruntime.InferenceSession(str(model)),
    )
    registry = VoiceRegistry([engine for _, engine in plugins.collect("litettsd_register_engines", settings=settings)], context)
    engine, name = registry.canonical("piper:en_US-joe-medium")
    return engine.load(name, context)


def plan(text: str, voice: Voice) -> list[Chunk]:
    return list(plan_chunks(split_clauses(text), voice))


def test_long_first_clause_is_cut_before_a_phrase_opener_without_a_pause(piper: Voice) -> None:
    lead, rest, *_ = plan(PARAGRAPH, piper)
    assert lead.text == "When the committee met"
    assert not lead.pause and not lead.ends_sentence
    assert rest.text.startswith("on Tuesday morning") and rest.pause and rest.ends_sentence


@pytest.mark.parametrize("sentence", LONG_FIRST_CLAUSES)
def test_lead_is_a_few_words_that_can_end_a_phrase(piper: Voice, sentence: str) -> None:
    lead, rest = plan(sentence, piper)
    words, rest_words = lead.text.lower().split(), rest.text.lower().split()
    assert 2 <= len(words) <= 5 and len(rest_words) >= 2
    assert words[-1] not in _NO_CUT_AFTER
    assert " ".join(words + rest_words) == sentence.lower().rstrip(".")
    if rest_words[0] not in _PHRASE_OPENERS:
        assert len(words) > 2, "a cut not before a phrase opener keeps at least three words"


def test_a_first_clause_of_leaning_words_is_still_cut_a_little_later(piper: Voice) -> None:
    lead, rest = plan("They would have been in the house for a long time that night.", piper)
    assert lead.text == "They would have been in the house" and not lead.pause
    assert rest.text == "for a long time that night"


@pytest.mark.parametrize("text", ["Heading level two, Settings.", "Close.", "Checkbox, not checked, Remember me."])
def test_short_first_clauses_are_not_cut(piper: Voice, text: str) -> None:
    chunks = plan(text, piper)
    assert all(chunk.pause for chunk in chunks)
    assert chunks[0].text == text.split(",")[0].rstrip(".")


def test_chunk_token_counts_are_what_the_voice_counts(piper: Voice) -> None:
    packing = dataclasses.replace(piper, pack_tokens=piper.max_tokens)
    for voice in (piper, packing):
        for chunk in plan(" ".join([PARAGRAPH] * 3), voice):
            assert chunk.tokens == len(voice.tokens(chunk.phonemes)), chunk.text


def test_piper_infers_one_sentence_at_a_time_after_the_lead(piper: Voice) -> None:
    chunks = plan(PARAGRAPH, piper)
    assert piper.pack_tokens == 0
    assert len(chunks) == 1 + PARAGRAPH.count(".")
    assert all(chunk.ends_sentence for chunk in chunks[1:])


def test_packing_gathers_whole_sentences_each_chunk_at_most_as_long_as_all_before(piper: Voice) -> None:
    packing = dataclasses.replace(piper, pack_tokens=piper.max_tokens)
    single, packed = plan(PARAGRAPH, piper), plan(PARAGRAPH, packing)
    assert any(chunk.phonemes.count(".") > 1 for chunk in packed)  # some sentences were gathered
    # Packing regroups, it never changes what is said.
    assert " ".join(c.phonemes for c in packed) == " ".join(c.phonemes for c in single)
    assert packed[0] == single[0]  # the same lead
    spoken = 0
    for chunk in packed:
        tokens = len(packing.tokens(chunk.phonemes))
        sentences = chunk.phonemes.count(".")
        assert tokens <= packing.max_tokens
        if sentences > 1:
            assert chunk.ends_sentence and tokens <= spoken, (chunk.text, tokens, spoken)
        spoken += tokens


def test_a_packing_voice_never_makes_the_listener_wait(piper: Voice) -> None:
    """Kokoro's long inferences take seconds: after the lead, no chunk outgrows what was spoken."""
    packing = dataclasses.replace(piper, pack_tokens=piper.max_tokens)
    long_sentence = (
        "When the old lighthouse keeper finally climbed the spiral stairs on that cold and windy evening, "
        "carrying his lantern, his notebook, his small brass telescope, and a thermos of tea that his "
        "daughter had made for him before she left for the city, he paused at every landing. He sat down."
    )
    no_punctuation = " ".join(["the quick brown fox jumps over the lazy dog"] * 14)
    for text in (long_sentence, no_punctuation, PARAGRAPH):
        chunks = plan(text, packing)
        spoken = chunks[0].tokens
        for chunk in chunks[1:]:
            assert chunk.tokens <= max(spoken, 24) + 1, (text[:30], chunk.tokens, spoken)
            spoken += chunk.tokens
        assert " ".join(c.phonemes for c in chunks) == " ".join(c.phonemes for c in plan(text, piper))


def test_packing_respects_the_voices_limit(piper: Voice) -> None:
    small = dataclasses.replace(piper, pack_tokens=120)
    long_text = " ".join([PARAGRAPH] * 6)
    chunks = plan(long_text, small)
    assert max(len(small.tokens(chunk.phonemes)) for chunk in chunks if chunk.phonemes.count(".") > 1) <= 120
    assert " ".join(c.phonemes for c in chunks) == " ".join(c.phonemes for c in plan(long_text, piper))


@pytest.mark.parametrize("length", [150, 501, 8000])
def test_a_word_longer_than_the_voice_takes_is_cut_into_pieces_it_takes(piper: Voice, length: int) -> None:
    # One SSML <phoneme> of 8,000 symbols was once cut in halves, the first unchecked: a single
    # inference of 4,000 phonemes took the daemon to 4.4 GB.
    chunks = plan(f"\ue000{'ɐ' * length}\ue001.", piper)
    counts = [len(piper.tokens(chunk.phonemes)) for chunk in chunks]
    assert max(counts) <= piper.max_tokens, counts
    assert "".join(chunk.phonemes for chunk in chunks).count("ɐ") == length
    assert len(chunks) <= 2 * length // piper.max_tokens + 2  # pieces as long as fit, not crumbs


def test_plan_without_lead_starts_with_a_whole_sentence(piper: Voice) -> None:
    first = next(plan_chunks(split_clauses(PARAGRAPH), piper, first_alone=False))
    assert first.ends_sentence and first.text.startswith("When the committee met on Tuesday morning")


def test_ipa_pieces_are_never_cut_into_a_lead(piper: Voice) -> None:
    text = "\ue000həˈloʊ\ue001 there my good old friend from the north."
    assert all(chunk.pause for chunk in plan(text, piper))


def test_a_voice_that_cannot_place_marks_gets_its_sentences_cut_at_them(piper: Voice) -> None:
    """Marks stay inside a sentence for a voice with durations (one inference); for one
    without, the sentence is cut at each mark. Either way every mark comes, in order."""
    import copy

    from litettsd import ssml
    from litettsd.document import Mark
    from litettsd.script import Speak, build_script, steps

    names = [f"w{n}" for n in range(7)]
    words = "Good morning, how are you? - Fine.".split()
    markup = "<speak>" + " ".join(f'<mark name="{name}"/>{word}' for name, word in zip(names, words)) + "</speak>"
    script = build_script(ssml.parse(markup, False), lambda segment: segment.text)
    untimed = copy.copy(piper)
    untimed.marks_inside = False  # type: ignore[attr-defined]

    def marks_and_inferences(voice: Voice) -> tuple[list[str], int]:
        found, inferences = [], 0
        for step in steps(script, voice):
            if isinstance(step, Speak):
                inferences += 1
                found += step.marks
            elif isinstance(step, Mark):
                found.append(step.name)
        return found, inferences

    timed_marks, timed_inferences = marks_and_inferences(piper)
    cut_marks, cut_inferences = marks_and_inferences(untimed)
    assert timed_marks == cut_marks == names
    assert timed_inferences == 3 and cut_inferences == 6  # lead, rest of sentence, "Fine" / a word each
