"""Splitting normalized text into the pieces the model is run on.

Streaming starts with the first clause alone, so the first audio leaves after one short
inference; a long first clause is cut before a phrase-opening word after a few words, with
no pause at the cut. After that whole sentences (split at clauses only when they exceed the
model's token limit) keep prosody natural. Voices whose every inference costs a lot on top
of its length (Kokoro) set ``pack_tokens``: later chunks then gather whole sentences, each
chunk at most as long as everything before it, so the stream ahead of the listener keeps
growing while throughput approaches that of long batches.
The plan depends only on the text and the voice, never on whether the client streams, so
streamed and one-shot requests produce the same samples.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .alignment import piece_starts
from .api import Voice, is_mark

# A sentence ends at . ! ? or an ellipsis followed by space (not before a lower-case word,
# which is an abbreviation the normalizer left alone, marks glued to it or not) or the end
# of the text.
_SENTENCE = re.compile(r"[.!?\u2026]+[\"')\]]*(?=\s+(?![\U000f0000-\U000ffffd]*[a-z])|\s*$)")
_CLAUSE = re.compile(r"[,;:]+[\"')\]]*(?=\s)")
IPA_OPEN, IPA_CLOSE = "\ue000", "\ue001"
IPA_PIECE = re.compile(f"{IPA_OPEN}([^{IPA_CLOSE}]*){IPA_CLOSE}")
"""IPA travels inside normalized text between two private-use characters, which no
normalizer produces and the clause splitter never breaks inside."""
_PUNCTUATION = {".": ".", "!": "!", "?": "?", "\u2026": ".", ",": ",", ";": ";", ":": ":"}
_TRAILING_PUNCTUATION = "".join(_PUNCTUATION)
"""What espeak-ng may leave at the end of a phoneme word: not part of how the word sounds."""


@dataclass(frozen=True)
class Clause:
    """A run of text up to a clause or sentence boundary."""

    text: str
    punctuation: str
    """The boundary mark the model should hear (``.``, ``,``, ``?``...), or empty."""
    ends_sentence: bool
    pause: bool = True
    """False for the lead of a long first clause: the rest of the clause follows without a pause."""


@dataclass(frozen=True)
class Chunk:
    """One inference: phonemes plus the silence to put after its audio."""

    text: str
    phonemes: str
    ends_sentence: bool
    tokens: int
    """``len(voice.tokens(phonemes))``, counted once while planning."""
    pause: bool = True
    """Whether a clause or sentence pause follows (False when the chunk ends mid-clause)."""
    letters: float = 0.0
    """How much of the text it speaks, in ``spoken_length``: a clause cut into several chunks
    shares its own among them by tokens. Over a text's chunks they add up to the text's."""


def spoken_length(text: str) -> int:
    """The letters and digits of ``text``: the measure of how much of a text is spoken, which
    punctuation, spaces and marks (moved or dropped by chunking) do not change."""
    return sum(symbol.isalnum() for symbol in text)


_MIN_GROWN_CHUNK = 24
"""Tokens a chunk after the lead may always have, however short the lead was."""
LEAD_MIN_WORDS = 6
"""A first clause this long or longer is cut so that the first inference stays short."""
_LEAD_CUTS = (4, 3, 5, 2)
"""Where the cut may fall (after this many words), best first; the rest keeps two words or more."""
_LEAD_CUTS_LATER = (6, 7, 8)
"""Later cuts, tried only when none of ``_LEAD_CUTS`` suits."""
_PHRASE_OPENERS = frozenset(
    "about above after against along among and around as at because before behind below beside "
    "between but by during except for from if in inside into like near of off on onto or over "
    "since so than that through till to toward towards under until unlike upon when where "
    "whether which while who whom whose with within without yet".split()
)
"""Words a phrase usually starts with: cutting before one keeps each piece's prosody natural."""
_NO_CUT_AFTER = _PHRASE_OPENERS | frozenset(
    "a an the my your his her its our their this these those some any no every each not "
    "is are was were be been am will would can could shall should must may might do does did "
    "has have had very".split()
)
"""Words that lean on the next one; a lead ending in one sounds cut off."""


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


def _lead_cut(words: list[str]) -> int | None:
    """Words to put in the lead: before a phrase opener, else after a word that can end a phrase.

    When words 2-5 all lean on the next one ("They would have been in the house..."), the
    lead may run to ``_LEAD_CUTS_LATER`` words rather than not being cut at all: a slower
    voice would otherwise wait for the whole clause before it says anything.
    """
    for candidates in (_LEAD_CUTS, _LEAD_CUTS_LATER):
        cuts = [n for n in candidates if n <= len(words) - 2]
        before_opener = [n for n in cuts if words[n] in _PHRASE_OPENERS and words[n - 1] not in _NO_CUT_AFTER]
        if before_opener:
            return before_opener[0]
        after_word = next((n for n in cuts if n > 2 and words[n - 1] not in _NO_CUT_AFTER), None)
        if after_word is not None:
            return after_word
    return None


def _bare(word: str) -> str:
    """A word without the marks glued to it (see ``script``)."""
    return "".join(symbol for symbol in word if not is_mark(symbol)) if not word.isascii() else word


def split_lead(clauses: Iterable[Clause]) -> Iterator[Clause]:
    """Cut a long first clause in two; the lead has no punctuation and no pause after it."""
    iterator = iter(clauses)
    first = next(iterator, None)
    if first is None:
        return
    words = first.text.split()
    cut = None
    if len(words) >= LEAD_MIN_WORDS and IPA_OPEN not in first.text:
        cut = _lead_cut([_bare(word).lower().strip("\"'([") for word in words])
    if cut is None:
        yield first
    else:
        yield Clause(" ".join(words[:cut]), "", ends_sentence=False, pause=False)
        yield Clause(" ".join(words[cut:]), first.punctuation, first.ends_sentence)
    yield from iterator


def plan_chunks(clauses: Iterable[Clause], voice: Voice, first_alone: bool = True) -> Iterator[Chunk]:
    """Chunks within ``voice.max_tokens``: a short lead when ``first_alone``, then sentences (packed
    up to ``voice.pack_tokens``)."""
    chunks = _sentence_chunks(split_lead(clauses) if first_alone else clauses, voice, first_alone)
    if not voice.pack_tokens:
        return chunks
    if not first_alone:
        return _packed(chunks, voice, 0)
    lead = next(chunks, None)
    if lead is None:
        return iter(())
    return itertools.chain((lead,), _packed(chunks, voice, lead.tokens))


def _packed(chunks: Iterator[Chunk], voice: Voice, spoken_tokens: int) -> Iterator[Chunk]:
    """Gather consecutive whole sentences into one chunk, each at most as long as all before it."""
    limit = min(voice.pack_tokens, voice.max_tokens)
    pack: list[Chunk] = []
    pack_tokens = 0
    for chunk in chunks:
        budget = min(limit, max(spoken_tokens, 1))
        if pack and (not chunk.ends_sentence or pack_tokens + 1 + chunk.tokens > budget):
            yield _merge(pack)
            spoken_tokens += pack_tokens
            pack, pack_tokens = [], 0
        if not chunk.ends_sentence or chunk.tokens >= budget:
            yield chunk
            spoken_tokens += chunk.tokens
            continue
        pack.append(chunk)
        pack_tokens += chunk.tokens + (1 if len(pack) > 1 else 0)
    if pack:
        yield _merge(pack)


def _merge(pack: list[Chunk]) -> Chunk:
    if len(pack) == 1:
        return pack[0]
    return Chunk(
        " ".join(c.text for c in pack),
        " ".join(c.phonemes for c in pack),
        ends_sentence=True,
        tokens=sum(c.tokens for c in pack) + len(pack) - 1,
        letters=sum(c.letters for c in pack),
    )


def _sentence_chunks(clauses: Iterable[Clause], voice: Voice, first_alone: bool) -> Iterator[Chunk]:
    """Group clauses into sentence chunks within ``voice.max_tokens``; the first clause may stand alone.

    A streamed request to a voice that packs sentences (Kokoro, whose long inferences take
    seconds) also keeps every chunk within the tokens already spoken, cutting a long
    sentence at its clauses (else between words): the audio already sent then lasts
    longer than the next inference takes, so the listener hears no gap.
    """
    pending: list[tuple[str, str, int, float]] = []
    pending_tokens = 0
    first = first_alone
    grow = first_alone and bool(voice.pack_tokens)
    spoken = 0
    carried = ""
    """Marks of a clause with nothing to say ("-"), put before the next clause's phonemes."""
    carried_letters = 0
    """Its letters (a word espeak-ng has no phonemes for), counted with the next clause's."""
    for clause in clauses:
        phonemes = carried + phonemize_mixed(voice, clause.text)
        count = len(voice.tokens(phonemes + clause.punctuation)) if phonemes.strip() else 0
        letters = carried_letters + spoken_length(clause.text)
        if not count:
            carried = "".join(symbol for symbol in phonemes if is_mark(symbol))
            carried_letters = letters
            if clause.ends_sentence and pending:
                yield _join(pending, True)
                pending, pending_tokens = [], 0
            continue
        carried, carried_letters = "", 0
        phonemes += clause.punctuation
        limit = voice.max_tokens if first or not grow else min(voice.max_tokens, max(spoken, _MIN_GROWN_CHUNK))
        if pending and pending_tokens + count + 1 > limit:
            chunk = _join(pending, False)
            spoken += chunk.tokens
            yield chunk
            pending, pending_tokens = [], 0
        pieces = list(_fit(phonemes, count, voice, limit))
        # A clause cut at its words loses the tokens of the spaces between them: share its
        # letters by the pieces' own tokens, so that they add up to the clause's.
        shared = sum(piece_tokens for _, piece_tokens in pieces)
        for piece, piece_tokens in pieces:
            if pending and pending_tokens + piece_tokens + 1 > limit:
                chunk = _join(pending, False, pause=False)  # cut between words: no pause there
                spoken += chunk.tokens
                yield chunk
                pending, pending_tokens = [], 0
                limit = min(voice.max_tokens, max(spoken, _MIN_GROWN_CHUNK)) if grow else limit
            pending.append((clause.text, piece, piece_tokens, letters * piece_tokens / shared))
            pending_tokens += piece_tokens + 1
        if first or clause.ends_sentence:
            first = False
            chunk = _join(pending, clause.ends_sentence, clause.pause)
            spoken += chunk.tokens
            yield chunk
            pending, pending_tokens = [], 0


def _fit(phonemes: str, count: int, voice: Voice, limit: int) -> Iterator[tuple[str, int]]:
    """Split a clause over ``limit`` tokens at word boundaries (or anywhere, for a single huge word)."""
    if count <= limit:
        yield phonemes, count
        return
    piece = ""
    for word in phonemes.split(" "):
        candidate = f"{piece} {word}" if piece else word
        if piece and len(voice.tokens(candidate)) > limit:
            yield piece, len(voice.tokens(piece))
            candidate = word
        while len(voice.tokens(candidate)) > limit:
            cut = _longest_fitting(candidate, voice, limit)
            yield candidate[:cut], len(voice.tokens(candidate[:cut]))
            candidate = candidate[cut:]
        piece = candidate
    if piece:
        yield piece, len(voice.tokens(piece))


def _longest_fitting(word: str, voice: Voice, limit: int) -> int:
    """Length of the longest start of ``word`` within ``limit`` tokens (at least one character).

    Tokens only grow with the text, so a bisection finds it; a phoneme is a token or two,
    so it is among the first ``4 * limit`` characters.
    """
    low, high = 1, min(len(word), 4 * limit)
    while low < high:
        middle = (low + high + 1) // 2
        if len(voice.tokens(word[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _join(pending: list[tuple[str, str, int, float]], ends_sentence: bool, pause: bool = True) -> Chunk:
    """One chunk of clause pieces, joined by spaces (one token each, as in ``voice.tokens``).
    Its text names each clause once, though a long one may be cut over several pieces."""
    return Chunk(
        text=" ".join(dict.fromkeys(text for text, _, _, _ in pending)),
        phonemes=" ".join(phonemes for _, phonemes, _, _ in pending),
        ends_sentence=ends_sentence,
        tokens=sum(tokens for _, _, tokens, _ in pending) + len(pending) - 1,
        pause=pause,
        letters=sum(letters for _, _, _, letters in pending),
    )


def phonemize_mixed(voice: Voice, text: str) -> str:
    """Phonemes for a clause that may hold IPA pieces and marks (see ``script``) among its words."""
    if not text.isascii() and any(is_mark(symbol) for symbol in text):
        return _phonemize_marked(voice, text)
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


def split_at_marks(text: str) -> list[tuple[str, str]]:
    """``text`` as (marks, the words after them) pieces, the first with no marks, one mark each after."""
    pieces: list[tuple[str, str]] = []
    marks, start = "", 0
    for index, symbol in enumerate(text):
        if is_mark(symbol):
            pieces.append((marks, text[start:index]))
            marks, start = symbol, index + 1
    pieces.append((marks, text[start:]))
    return pieces


def _phonemize_marked(voice: Voice, text: str) -> str:
    """The clause phonemized whole, each mark glued to the front of the phonemes of the word it
    precedes.

    Phonemized whole, because words alone are said differently ("a" alone is "eɪ", in a
    sentence "ɐ"; "for the" is "fɚðə"). The words between two marks, phonemized alone, say
    where each mark falls (``alignment.piece_starts``). A mark before a word that espeak-ng
    runs into the one before it ("for the": "fɚðə") goes inside the joined word where the
    second word's own phonemes show ("fɚ|ðə"), or else before both.
    """
    pieces = split_at_marks(text)
    whole = phonemize_mixed(voice, "".join(symbol for symbol in text if not is_mark(symbol))).split()
    piece_words = [phonemize_mixed(voice, words).split() if words.strip() else [] for _, words in pieces]
    starts = piece_starts(piece_words, whole)
    inside: list[dict[int, str]] = [{} for _ in range(len(whole) + 1)]  # the last: marks after every word
    for index, ((marks, _), position) in enumerate(zip(pieces, starts[:-1], strict=True)):
        offset = 0
        if index and position < len(whole):
            offset = _second_word_offset(whole[position], piece_words[index - 1], piece_words[index])
        inside[position][offset] = inside[position].get(offset, "") + marks
    spoken = " ".join(_with_marks(word, marks) for word, marks in zip(whole, inside))
    after = inside[-1].get(0, "")
    return f"{spoken} {after}" if after and spoken else spoken or after


def _second_word_offset(joined: str, before: list[str], after: list[str]) -> int:
    """Where, in a phoneme word that may be two words run together, the second one starts:
    the end that matches the second word alone ("ðə" of "fɚðə"), else the start that matches
    the first alone; 0 when neither shows, or when the word is not a joined one."""
    if not before or not after or joined == after[0]:
        return 0
    core = joined.rstrip(_TRAILING_PUNCTUATION)
    second = after[0].rstrip(_TRAILING_PUNCTUATION)
    if second and len(core) > len(second) and core.endswith(second):
        return len(core) - len(second)
    first = before[-1]
    if first and len(core) > len(first) and core.startswith(first):
        return len(first)
    return 0


def _with_marks(word: str, marks: dict[int, str]) -> str:
    """``word`` with each group of marks inserted before the symbol at its offset."""
    for offset in sorted(marks, reverse=True):
        word = word[:offset] + marks[offset] + word[offset:]
    return word
