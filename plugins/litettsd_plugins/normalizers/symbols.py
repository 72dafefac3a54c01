"""Symbols that carry meaning in running text: ``&`` ``@`` ``+`` ``=`` ``<`` ``>`` ``%``, math, arrows, emoji.

These are read in every punctuation mode, because they stand for words ("Tom & Jerry",
"2 + 2 = 4", "a -> b"); the punctuation marks that are only typography are the screen
reader step's business. By the time this runs, money, web addresses and numbers have
consumed the signs they own (``$5``, ``@handle``, ``#1``, ``50%``), so what is left is
read by name. Emoji and other pictographs are dropped by default (a listener gains little
from "face with tears of joy" after every message); ``emoji = "name"`` in the
``[plugins.normalize-symbols]`` table reads their Unicode names instead.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from litettsd.api import NormalizeContext
from litettsd.config import Settings, constraint
from litettsd.hookspecs import hookimpl
from litettsd.patterns import LazyPattern

from ._words import EnglishStep, letters, padded, unicode_name_words
from .screen_reader import PUNCTUATION_LEVELS

PLUGIN = "normalize-symbols"
"""The entry-point name, which names the ``[plugins.normalize-symbols]`` table."""
EMOJI_POLICIES = ("drop", "name")


@dataclass(frozen=True)
class SymbolsSettings:
    """The ``[plugins.normalize-symbols]`` table."""

    emoji: str = field(default="drop", metadata=constraint(choices=EMOJI_POLICIES))
    """What to do with emoji and other pictographs: ``"drop"`` them or read their ``"name"``."""


_OPERATORS = {
    "===": "strictly equals", "!==": "strictly not equal to", "<=": "less than or equal to", ">=": "greater than or equal to", "!=": "not equal to", "==": "equals",
    "<>": "not equal to", "->": "to", "=>": "to", "<-": "from", "+/-": "plus or minus", "&&": "and",
    "||": "or", "&": "and", "@": "at", "#": "hash", "+": "plus", "=": "equals", "<": "less than",
    ">": "greater than", "%": "percent", "$": "dollar",
}
_NAMED = {
    "€": "euro", "£": "pound", "¥": "yen", "¢": "cents", "₹": "rupee", "₩": "won", "₽": "ruble", "₿": "bitcoin",
    "°": "degrees", "±": "plus or minus", "×": "times", "÷": "divided by", "∞": "infinity",
    "≈": "approximately", "≠": "not equal to", "≤": "less than or equal to", "≥": "greater than or equal to",
    "√": "square root of", "∛": "cube root of", "‰": "per mille", "№": "number",
    "→": "to", "⇒": "implies", "⟶": "to", "←": "from", "↑": "up arrow", "↓": "down arrow", "↔": "to and from",
    "✓": "check", "✔": "check", "✗": "cross", "✘": "cross", "℃": "degrees Celsius", "℉": "degrees Fahrenheit",
    "∑": "sum", "∏": "product", "∫": "integral", "∂": "partial", "∆": "delta", "∇": "nabla", "∈": "in",
    "∉": "not in", "∩": "intersection", "∪": "union", "⊂": "subset of", "∀": "for all", "∃": "there exists",
}
"""Non-ASCII symbols read by name whatever the emoji policy."""

_LANGUAGE = LazyPattern(r"\b(?P<letter>[CF])(?P<op>\+\+|#)(?![\w+#])")
_ONE_OPERATOR = "|".join(re.escape(op) for op in sorted(_OPERATORS, key=len, reverse=True))
_OPERATOR = LazyPattern(f"(?:{_ONE_OPERATOR})+")
"""A run of operators ("<=>", "=!"), each read and spaced from the next."""
_EACH_OPERATOR = LazyPattern(_ONE_OPERATOR)
_FLAG = LazyPattern("[\U0001f1e6-\U0001f1ff]{2}")
_NON_ASCII_SYMBOL = LazyPattern(r"[^\x00-\x7f\w\s]")
_REGIONAL_A = 0x1F1E6


@padded
def _language(match: re.Match[str]) -> str:
    return f"{match.group('letter')} {'plus plus' if match.group('op') == '++' else 'sharp'}"


@padded
def _operator(match: re.Match[str]) -> str:
    return " ".join(_OPERATORS[op] for op in _EACH_OPERATOR.findall(match.group()))


class Symbols(EnglishStep):
    """ASCII operators, currency and math signs, arrows; emoji by ``emoji`` policy."""

    name = "symbols"
    order = 800

    def __init__(self, emoji: str = SymbolsSettings.emoji) -> None:
        self.emoji = emoji

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        if "+" in text or "#" in text:
            text = _LANGUAGE.sub(_language, text)
        text = _OPERATOR.sub(_operator, text)
        if text.isascii():
            return text
        if self.emoji == "name":
            text = _FLAG.sub(padded(self._flag), text)
        return _NON_ASCII_SYMBOL.sub(padded(self._symbol), text)

    @staticmethod
    def _flag(match: re.Match[str]) -> str:
        code = "".join(chr(ord("A") + ord(ch) - _REGIONAL_A) for ch in match.group())
        return f"flag of {letters(code)}"

    def _symbol(self, match: re.Match[str]) -> str:
        ch = match.group()
        named = _NAMED.get(ch)
        if named:
            return named
        if ch in PUNCTUATION_LEVELS:
            return ch  # typography such as (c) and (tm): the punctuation level decides
        category = unicodedata.category(ch)
        if category == "Sc":
            return unicode_name_words(ch).removesuffix(" sign")
        if category[0] == "S" or category == "Me":
            return unicode_name_words(ch) if self.emoji == "name" and category != "Me" else " "
        return ch


@hookimpl
def litettsd_config_schema() -> type:
    return SymbolsSettings


@hookimpl
def litettsd_register_normalizers(settings: Settings) -> list[Symbols]:
    return [Symbols(settings.plugins.table(PLUGIN, SymbolsSettings).emoji)]
