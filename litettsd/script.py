"""From a document to the ordered steps the renderer performs: speak a chunk, pause, mark.

Consecutive text and phoneme segments with the same prosody form one run, so a word given
in IPA is inferred together with its sentence and keeps its intonation. Marks, breaks and
prosody changes end a run, so a mark's sample offset is exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .api import Voice
from .chunking import IPA_CLOSE, IPA_OPEN, IPA_PIECE, Chunk, plan_chunks, split_clauses
from .document import NORMAL, Break, Document, Mark, Phonemes, Prosody, SentenceEnd, Text

_SENTENCE_FINAL = re.compile(r"[.!?\u2026][\"')\]]*\s*$")
_IPA_PUNCTUATION = str.maketrans("", "", ".,;:!?")


@dataclass(frozen=True)
class Run:
    """Normalized text (possibly holding IPA pieces) spoken with one prosody."""

    text: str
    prosody: Prosody = NORMAL


@dataclass(frozen=True)
class Speak:
    """Infer one chunk."""

    chunk: Chunk
    prosody: Prosody


Item = Run | Break | Mark
Step = Speak | Break | Mark


def build_script(document: Document, words_for: Callable[[Text], str]) -> list[Item]:
    """Merge segments into runs; ``words_for`` turns a text segment into normalized words."""
    items: list[Item] = []
    pieces: list[str] = []
    prosody = NORMAL

    def close(sentence_end: bool = False) -> None:
        text = " ".join(pieces).strip()
        pieces.clear()
        if not text:
            return
        if sentence_end and not _SENTENCE_FINAL.search(text):
            text += "."
        items.append(Run(text, prosody))

    for segment in document.segments:
        if isinstance(segment, (Text, Phonemes)):
            if segment.prosody != prosody:
                close()
                prosody = segment.prosody
            if isinstance(segment, Text):
                pieces.append(words_for(segment))
            else:
                pieces.append(f"{IPA_OPEN}{segment.ipa.translate(_IPA_PUNCTUATION)}{IPA_CLOSE}")
        elif isinstance(segment, SentenceEnd):
            close(sentence_end=True)
        else:
            close()
            items.append(segment)
    close()
    return items


def display(text: str) -> str:
    """A run's text as people read it, IPA pieces shown between slashes."""
    return IPA_PIECE.sub(lambda match: f"/{match.group(1)}/", text)


def steps(script: list[Item], voice: Voice) -> Iterator[Step]:
    """The renderer's steps, produced lazily: phonemization happens as chunks are needed."""
    first = True
    for item in script:
        if isinstance(item, Run):
            for chunk in plan_chunks(split_clauses(item.text), voice, first_alone=first):
                first = False
                yield Speak(chunk, item.prosody)
        else:
            yield item
