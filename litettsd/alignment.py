"""Where marks go when text cut at marks is read as a whole: normalized, or phonemized.

The words between two marks are processed alone and as part of the whole text; the whole
gives the right reading ("on 5/10" is a date, "of the" runs together as "ʌvðə"), the pieces
say where each mark falls in it.
"""

from __future__ import annotations

import itertools


def piece_starts(pieces: list[list[str]], whole: list[str]) -> list[int]:
    """The index in ``whole`` where each piece starts, and ``len(whole)`` last.

    Mostly the pieces' word counts. Where the whole reads some words differently (fewer or
    more words), the words both share at their start and end are matched first, the rest is
    aligned word by word, and a piece starting inside a changed stretch starts at its
    beginning: the mark goes before the words that replaced its word.
    """
    starts = list(itertools.accumulate((len(words) for words in pieces), initial=0))
    if starts[-1] == len(whole):
        return starts
    import difflib  # only when some reading changed: not on the common path

    flat = [word for words in pieces for word in words]
    shortest = min(len(flat), len(whole))
    head = next((n for n, (a, b) in enumerate(zip(flat, whole)) if a != b), shortest)
    tail = 0
    while tail < shortest - head and flat[-1 - tail] == whole[-1 - tail]:
        tail += 1
    position = [*range(head), *([head] * (len(flat) - head)), len(whole)]
    for index in range(len(flat) - tail, len(flat)):
        position[index] = index - len(flat) + len(whole)
    middle = difflib.SequenceMatcher(None, flat[head : len(flat) - tail], whole[head : len(whole) - tail], autojunk=False)
    for tag, a_start, a_end, b_start, _ in middle.get_opcodes():
        for offset in range(a_end - a_start):
            position[head + a_start + offset] = head + b_start + (offset if tag == "equal" else 0)
    cuts = [position[start] for start in starts]
    cuts[0] = 0
    return list(itertools.accumulate(cuts, max))  # never backwards
