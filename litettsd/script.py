"""From a document to the ordered steps the renderer performs: speak a chunk, pause, mark.

Consecutive text and phoneme segments with the same prosody form one run, so a word given
in IPA is inferred together with its sentence and keeps its intonation. Breaks and prosody
changes end a run. A mark between two words stays inside its run as a code point
(``api.MARK_FIRST`` + its number in the run), so the sentence is still spoken by one
inference and a voice that knows its phonemes' durations says where the mark fell. Orca
marks every word it sends: cutting the sentence at each one would speak it word by word. For
voices that cannot place marks, ``steps`` cuts the run at its marks instead, and a mark
before or after all of a run's words is a step of its own. The words between marks are also
normalized as one text (``normalize_across_marks``), so a mark never costs a word its context.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .alignment import piece_starts
from .api import MARK_FIRST, MARK_LAST, Voice, is_mark, places_marks
from .chunking import IPA_CLOSE, IPA_OPEN, IPA_PIECE, Chunk, plan_chunks, split_at_marks, split_clauses
from .document import NORMAL, Break, Document, Mark, Phonemes, Prosody, Segment, SentenceEnd, Text

_SENTENCE_FINAL = re.compile(r"[.!?\u2026][\"')\]]*\s*$")
_IPA_PUNCTUATION = str.maketrans("", "", ".,;:!?")


@dataclass(frozen=True)
class Run:
    """Normalized text (possibly holding IPA pieces) spoken with one prosody."""

    text: str
    prosody: Prosody = NORMAL
    marks: tuple[str, ...] = ()
    """Names of the marks inside ``text``, the n-th written as ``chr(MARK_FIRST + n)``."""


@dataclass(frozen=True)
class Speak:
    """Infer one chunk."""

    chunk: Chunk
    prosody: Prosody
    marks: tuple[str, ...] = ()
    """Names of the marks inside the chunk's phonemes, in order."""


Item = Run | Break | Mark
Step = Speak | Break | Mark


_MAX_MARKS_PER_RUN = MARK_LAST - MARK_FIRST + 1


def build_script(document: Document, words_for: Callable[[Text], str]) -> list[Item]:
    """Merge segments into runs; ``words_for`` turns a text segment into normalized words."""
    items: list[Item] = []
    pieces: list[str] = []
    marks: list[str] = []
    waiting: list[Mark] = []
    """Marks after the run's last words so far: inside the run if more words follow."""
    prosody = NORMAL

    def close(sentence_end: bool = False) -> None:
        text = " ".join(pieces).strip()
        pieces.clear()
        if text:
            if sentence_end and not _SENTENCE_FINAL.search(text):
                text += "."
            items.append(Run(text, prosody, tuple(marks)))
        marks.clear()
        items.extend(waiting)
        waiting.clear()

    def add_words(words: str) -> None:
        if not words.strip():
            return
        if waiting and pieces and len(marks) + len(waiting) <= _MAX_MARKS_PER_RUN:
            # Glued to the word they precede, so that clause and lead cuts keep them with it.
            words = "".join(chr(MARK_FIRST + len(marks) + n) for n in range(len(waiting))) + words.lstrip()
            marks.extend(mark.name for mark in waiting)
            waiting.clear()
        elif waiting:
            close()
        pieces.append(words)

    for segment in document.segments:
        if isinstance(segment, (Text, Phonemes)):
            if segment.prosody != prosody:
                close()
                prosody = segment.prosody
            if isinstance(segment, Text):
                add_words(words_for(segment))
            else:
                add_words(f"{IPA_OPEN}{segment.ipa.translate(_IPA_PUNCTUATION)}{IPA_CLOSE}")
        elif isinstance(segment, SentenceEnd):
            close(sentence_end=True)
        elif isinstance(segment, Mark):
            waiting.append(segment)
        else:
            close()
            items.append(segment)
    close()
    return items


def normalize_across_marks(segments: list[Segment], normalize: Callable[[str], str]) -> list[Segment]:
    """Plain text cut only by marks, normalized as the one text it is, then cut at the marks again.

    Orca sends a mark before every word, so each word would be normalized alone and lose what
    its neighbours say: "on <mark/>5/10" is a date, "5/10" alone a score; "Oct." alone ends
    a sentence. The whole's words are cut where ``alignment.piece_starts`` puts each mark.
    Texts with no mark between them are left as they are.
    """
    result: list[Segment] = []
    index = 0
    while index < len(segments):
        texts: list[Text] = []
        end = position = index
        while position < len(segments):
            segment = segments[position]
            if isinstance(segment, Text) and _plain_text(segment) and (not texts or segment.prosody == texts[0].prosody):
                texts.append(segment)
                end = position + 1
            elif not (isinstance(segment, Mark) and texts):
                break
            position += 1
        if len(texts) < 2 or not any(isinstance(segment, Mark) for segment in segments[index:end]):
            result.append(segments[index])
            index += 1
            continue
        # Joined with a space, as ``build_script`` joins pieces: the SSML parser drops the
        # whitespace-only text between two marks ('.<mark/> <mark/>Next').
        whole = normalize(" ".join(text.text.strip() for text in texts)).split()
        starts = piece_starts([normalize(text.text).split() for text in texts], whole)
        pieces = iter(" ".join(whole[start:stop]) for start, stop in itertools.pairwise(starts))
        for segment in segments[index:end]:
            result.append(Text(next(pieces), segment.prosody, normalized=True) if isinstance(segment, Text) else segment)
        index = end
    return result


def _plain_text(segment: Text) -> bool:
    return segment.say_as is None and not segment.normalized


def without_marks(text: str) -> str:
    return "".join(symbol for symbol in text if not is_mark(symbol))


def display(text: str) -> str:
    """A run's text as people read it, IPA pieces shown between slashes."""
    return IPA_PIECE.sub(lambda match: f"/{match.group(1)}/", text)


def steps(script: list[Item], voice: Voice) -> Iterator[Step]:
    """The renderer's steps, produced lazily: phonemization happens as chunks are needed."""
    first = True
    marks_inside = places_marks(voice)
    for item in script:
        if not isinstance(item, Run):
            yield item
            continue
        for part in [item] if marks_inside or not item.marks else _cut_at_marks(item):
            if not isinstance(part, Run):
                yield part
                continue
            placed: set[int] = set()
            for chunk in plan_chunks(split_clauses(part.text), voice, first_alone=first):
                first = False
                numbers = [ord(symbol) - MARK_FIRST for symbol in chunk.phonemes if is_mark(symbol)]
                placed.update(numbers)
                yield Speak(chunk, part.prosody, tuple(part.marks[n] for n in numbers))
            # A mark whose words had no phonemes at all still happens, at the run's end.
            yield from (Mark(name) for n, name in enumerate(part.marks) if n not in placed)


def _cut_at_marks(run: Run) -> Iterator[Run | Mark]:
    """The run as runs between its marks, for a voice that cannot place marks inside one."""
    for marks, words in split_at_marks(run.text):
        yield from (Mark(run.marks[ord(symbol) - MARK_FIRST]) for symbol in marks)
        if words.strip():
            yield Run(words.strip(), run.prosody)
