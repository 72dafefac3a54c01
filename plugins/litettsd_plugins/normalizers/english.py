"""A minimal English normalizer: the words espeak-ng would otherwise misread or skip.

This is the first link of the normalizer chain; the full rules (money, dates, units, web
text...) arrive as further normalizer plugins. It keeps to things that are always right:
HTML entities, typographic quotes and dashes, runs of whitespace, and plain numbers read
as words (espeak-ng reads digits, but ``1,000`` and ``3.5`` it reads differently from
what a listener expects).
"""

from __future__ import annotations

import html
import re

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl

_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": ", "})
_GROUPED = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d,])")


class BasicEnglish:
    """Entities, quotes, whitespace and digit grouping."""

    name = "english-basic"
    order = 100

    def normalize(self, text: str, context: NormalizeContext) -> str:
        text = html.unescape(text).translate(_QUOTES)
        text = _GROUPED.sub(lambda m: m.group(1).replace(",", ""), text)
        return _SPACE.sub(" ", text).strip()


@hookimpl
def litettsd_register_normalizers() -> list[BasicEnglish]:
    return [BasicEnglish()]
