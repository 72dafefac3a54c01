"""Splitting normalized text into the pieces the model is run on.

Streaming starts with the first clause alone, so the first audio leaves after one short
inference; after that whole sentences (split at clauses only when they exceed the model's
token limit) keep prosody natural and inference efficient. Chunks never span sentences.
The plan depends only on the text and the voice, never on whether the client streams, so
streamed and one-shot requests produce the same samples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .api import Voice

# A sentence ends at . ! ? or an ellipsis followed by space (not before a lower-case word,
# which is an abbreviation the normalizer left alone) or the end of the text.
_SENTENCE = re.compile(r"[.!?\u2026]+[\"')\]]*(?=\s+(?![a-z])|\s*$)")
_CLAUSE = re.compile(r"[,;:]+[\"')\]]*(?=\s)")
IPA_OPEN, IPA_CLOSE = "\ue000", "\ue001"
IPA_PIECE = re.compile(f"{IPA_OPEN}([^{IPA_CLOSE}]*){IPA_CLOSE}")
"""IPA travels inside normalized text between two private-use characters, which no
normalizer produces and the clause splitter never breaks inside."""
_PUNCTUATION = {".": ".", "!": "!", "?": "?", "\u2026": ".", ",": ",", ";": ";", ":": ":"}


@dataclass(frozen=True)
class Clause:
    """A run of text up to a clause or sentence boundary."""

    text: str
    punctuation: str
    """The boundary mark the model should hear (``.``, ``,``, ``?``...), or empty."""
    ends_sentence: bool


@dataclass(frozen=True)
class Chunk:
    """One inference: phonemes plus the silence to put after its audio."""

    text: str
    phonemes: str
    ends_sentence: bool


def _boundary_mark(mark: str) -> str:
    for char in mark:
        if char in _PUNCTUATION:
            return _PUNCTUATION[char]
    return ""


def split_clauses(text: str) -> Iterator[Clause]:
    """Clauses in reading order; the last one always ends a sentence."""
    position = 0
    for sentence_end in _SENTENCE.finditer(text):
        sentence = text[position:sentence_end.end()]
        position = sentence_end.end()
        yield from _clauses_of(sentence, _boundary_mark(sentence_end.group()))
    rest = text[position:]
    if rest.strip():
        yield from _clauses_of(rest, ".")


def _clauses_of(sentence: str, final_mark: str) -> Iterator[Clause]:
    pieces: list[tuple[str, str]] = []
    position = 0
    for match in _CLAUSE.finditer(sentence):
        pieces.append((sentence[position:match.start()], _boundary_mark(match.group())))
        position = match.end()
    pieces.append((sentence[position:], final_mark))
    spoken = [(body.strip(), mark) for body, mark in pieces]
    spoken = [(body, mark) for body, mark in spoken if body.strip(".!?\u2026\"')] ")]
    for index, (body, mark) in enumerate(spoken):
        last = index == len(spoken) - 1
        yield Clause(text=_strip_final(body) if last else body, punctuation=final_mark if last else mark, ends_sentence=last)


def _strip_final(body: str) -> str:
    return body.rstrip(".!?\u2026\"')] ")


def plan_chunks(clauses: Iterable[Clause], voice: Voice, first_alone: bool = True) -> Iterator[Chunk]:
    """Group clauses into chunks within ``voice.max_tokens``; the first clause may stand alone."""
    pending: list[tuple[str, str]] = []
    pending_tokens = 0
    first = first_alone
    for clause in clauses:
        phonemes = phonemize_mixed(voice, clause.text)
        if not phonemes.strip():
            if clause.ends_sentence and pending:
                yield _join(pending, True)
                pending, pending_tokens = [], 0
            continue
        phonemes += clause.punctuation
        count = len(voice.tokens(phonemes))
        if pending and pending_tokens + count + 1 > voice.max_tokens:
            yield _join(pending, False)
            pending, pending_tokens = [], 0
        for piece, piece_tokens in _fit(phonemes, count, voice):
            if pending and pending_tokens + piece_tokens + 1 > voice.max_tokens:
                yield _join(pending, False)
                pending, pending_tokens = [], 0
            pending.append((clause.text, piece))
            pending_tokens += piece_tokens + 1
        if first or clause.ends_sentence:
            first = False
            yield _join(pending, clause.ends_sentence)
            pending, pending_tokens = [], 0


def _fit(phonemes: str, count: int, voice: Voice) -> Iterator[tuple[str, int]]:
    """Split an over-long clause at word boundaries (or anywhere, for a single huge word)."""
    if count <= voice.max_tokens:
        yield phonemes, count
        return
    piece = ""
    for word in phonemes.split(" "):
        candidate = f"{piece} {word}" if piece else word
        if piece and len(voice.tokens(candidate)) > voice.max_tokens:
            yield piece, len(voice.tokens(piece))
            candidate = word
        while len(voice.tokens(candidate)) > voice.max_tokens:
            cut = len(candidate) // 2
            yield candidate[:cut], len(voice.tokens(candidate[:cut]))
            candidate = candidate[cut:]
        piece = candidate
    if piece:
        yield piece, len(voice.tokens(piece))


def _join(pending: list[tuple[str, str]], ends_sentence: bool) -> Chunk:
    return Chunk(
        text=" ".join(dict.fromkeys(text for text, _ in pending)),
        phonemes=" ".join(phonemes for _, phonemes in pending),
        ends_sentence=ends_sentence,
    )


def phonemize_mixed(voice: Voice, text: str) -> str:
    """Phonemes for a clause that may hold IPA pieces among its words."""
    parts: list[str] = []
    position = 0
    for match in IPA_PIECE.finditer(text):
        if match.start() > position:
            parts.append(voice.phonemize(text[position : match.start()]))
        parts.append(voice.from_ipa(match.group(1)))
        position = match.end()
    if position < len(text):
        parts.append(voice.phonemize(text[position:]))
    return " ".join(part for part in parts if part.strip())
