"""Properties of the whole English normalizer chain on arbitrary text.

Whatever arrives (control characters, lone surrogates, right-to-left text, combining
marks, half-written numbers and URLs), the chain must not raise, must leave no digit or
symbol for espeak-ng to read its own way, and must be a fixed point: normalizing its
output again changes nothing.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.test_normalizer_cases import normalize

ANY_CHARACTER = st.one_of(
    st.characters(codec=None, exclude_categories=()),
    st.characters(categories=["Cs", "Cc", "Cf", "Mn", "Me", "Zl", "Zp"]),
)
RIGHT_TO_LEFT = st.characters(min_codepoint=0x0590, max_codepoint=0x06FF)
TOKENS = st.sampled_from(
    [
        "$", "€", "£", "¥", "%", "&", "@", "#", "+", "=", "<", ">", "&amp;", "&#x27;", "&quot;", "&lt;", "&gt;",
        "&amp;amp;", "-", "--", "—", "–", "/", ".", ",", ":", ";", "!", "?", "...", "'", '"', "(", ")", "*", "_",
        "Dr.", "St.", "Mr", "e.g.", "etc.", "U.S.", "a.m.", "p.m.", "No.", "vs", "URL", "NASA", "IV", "Henry",
        "Chapter", "in", "May", "Jan.", "km", "kg", "°F", "°", "ft", "GB", "pm", "th", "st", "x", "v", "s", "'s",
        "http://", "https://www.", "example.com", "a@b.co", "~/", "C:\\", ".txt", "v1.2.3", "😀", "🇺🇸",
        "½", "²", "\u200d", "\u0301", "\ufe0f", "\u202e", "\n", "\n\n", "\t", " ", "  ", "- ", "# ", "**",
    ]
)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.integers(min_value=0, max_value=3000).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.from_regex(r"[0-9]{1,3}(,[0-9]{3}){0,4}(\.[0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"\(?[0-9]{3}\)?[ .-][0-9]{3}-[0-9]{4}", fullmatch=True),
    st.from_regex(r"[0-9]{1,4}[/.:-][0-9]{1,2}([/.:-][0-9]{2,4})?", fullmatch=True),
)
PIECES = st.one_of(TOKENS, NUMBERS, st.text(ANY_CHARACTER, max_size=6), st.text(RIGHT_TO_LEFT, max_size=4))
TEXTS = st.one_of(
    st.text(ANY_CHARACTER),
    st.lists(PIECES, max_size=12).map(" ".join),
    st.lists(PIECES, max_size=12).map("".join),
)
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
"""The same 300 texts on every run: a CI run fails for the change it tests, not for a rare
text a random draw happened on. Deeper searches run by hand (``max_examples=20000``) find
those; what they found and was fixed stays below as ``@example``."""

DIGIT = re.compile(r"[0-9]")
HANDLED_SYMBOLS = re.compile(r"[$€£¥%&@#+=<>]")
ENTITY = re.compile(r"&(?:[A-Za-z]+|#[0-9]+|#[xX][0-9A-Fa-f]+);")


@SETTINGS
@given(TEXTS)
def test_never_raises(text: str) -> None:
    assert isinstance(normalize(text), str)


@SETTINGS
@given(TEXTS)
def test_leaves_no_digits_symbols_or_entities(text: str) -> None:
    spoken = normalize(text)
    assert not DIGIT.search(spoken), spoken
    assert not HANDLED_SYMBOLS.search(spoken), spoken
    assert not ENTITY.search(spoken), spoken


@SETTINGS
@given(TEXTS)
@example('".°')  # once read '".degrees', which a second pass read as the file name ".degrees"
@example("0\x1b:O")  # the face stood alone, and was dropped, only once the control character was a space
@example("URL.0")  # "U.R.L. zero", whose period a second pass took for the letters' own and dropped
@example("URL.:")
@example("URL...0")  # an ellipsis after dotted letters is not their period
@example("U.S.... then")
@example("0.aA")  # "zero .aA": the name after the dot was seen only once the digit was a word
@example(",./;'[]")  # "slash ;'[]": the face stood alone only once the "/" was read as a word
@example("…ü|ÉµX\x81\rN±")  # "ÉµX. N": a second pass took the X ending the word for an initial
@example("|X. N")  # "X. N": the "|" was taken for the word before the initial, then dropped
@example("a |:) b")  # "a :) b": the face stood alone only once the "|" was dropped
def test_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
