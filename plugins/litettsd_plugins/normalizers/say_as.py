"""SSML ``<say-as interpret-as="...">``: read a piece of text the way the markup says.

The normalizer chain guesses from context ("05/15/2018" is probably a date, "1999" after
"in" a year); say-as removes the guess. These functions reuse the chain's own readers
(number words, dates, times, telephone numbers, character names) so a marked-up date
sounds exactly like a recognised one. Text that does not fit the requested reading (a
"cardinal" that is not a number) is returned unchanged, to be normalized as usual; an
unknown ``interpret-as`` is an error for the SSML layer to report.

The ``litettsd_say_as`` hook serves the same readings to the pipeline, plus ``key`` for
speech-dispatcher ``KEY`` requests; it answers None (not mine) for other languages and
for unknown interpretations, so the pipeline can warn and fall back to plain text.
"""

from __future__ import annotations

import re

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl
from litettsd.patterns import LazyPattern

from ._words import DIGIT_NAMES, NUMBER, is_english, number_words, ordinal, tidy
from .dates_times import MONTHS, date_words, full_year, time_words, valid_date
from .numbers import phone_words
from .screen_reader import char_text, key_name_text, spell

INTERPRETATIONS = ("characters", "spell-out", "cardinal", "ordinal", "digits", "date", "time", "telephone")

_CARDINAL = LazyPattern(rf"[-+]?(?:{NUMBER})")
_ORDINAL = LazyPattern(r"([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:st|nd|rd|th)?", re.IGNORECASE)
_DATE_FIELD = LazyPattern(r"[0-9]+|[A-Za-z]+")
_TIME = LazyPattern(
    r"(?P<hour>[0-9]{1,2})(?:[:.h](?P<minute>[0-5][0-9]))?(?::(?P<second>[0-5][0-9]))?"
    r"\s*(?:(?P<ap>[AaPp])\.?\s*[Mm]\.?)?"
)
_DIGIT = LazyPattern(r"[0-9]")
_DECIMAL_POINT = LazyPattern(r"(?<=[0-9])\.(?=[0-9])")
_GROUP_MARK = LazyPattern(r"(?<=[0-9])\s*[-/.]\s*(?=[0-9])")
_MONTH_PREFIXES = {name[:3].lower(): index for index, name in enumerate(MONTHS, 1)}


def say_as(text: str, interpret_as: str, format: str | None = None, *, capitals: str = "none") -> str:
    """The words for ``text`` read as ``interpret_as`` (SSML 1.1 names; ``format`` for dates and times).

    ``capitals`` is the screen reader's capitals mode for spelled characters.
    """
    kind = interpret_as.strip().lower()
    stripped = text.strip()
    if kind in ("characters", "spell-out"):
        return char_text(text, capitals) if len(text) == 1 else spell(stripped, capitals)
    if kind == "cardinal":
        return number_words(stripped) if _CARDINAL.fullmatch(stripped) else text
    if kind == "ordinal":
        found = _ORDINAL.fullmatch(stripped)
        return ordinal(int(found.group(1).replace(",", ""))) if found else text
    if kind == "digits":
        return _digit_words(stripped)
    if kind == "date":
        return _date(stripped, (format or "").lower()) or text
    if kind == "time":
        return _time(stripped) or text
    if kind == "telephone":
        return phone_words(stripped) if _DIGIT.search(stripped) else text
    raise ValueError(f"unknown say-as interpret-as {interpret_as!r}; expected one of {', '.join(INTERPRETATIONS)}")


def _digit_words(text: str) -> str:
    """"-12.5" -> "minus one two point five", "555-1234" -> "five five five, one two three
    four": a leading sign and a lone decimal point are read; dashes, slashes and the dots of
    "192.168.0.1" between groups are pauses."""
    sign = ""
    if text[:1] in "+-" and text[1:2].isdigit():
        sign, text = ("plus " if text[0] == "+" else "minus "), text[1:]
    if text.count(".") == 1:
        text = _DECIMAL_POINT.sub(" point ", text)
    text = _GROUP_MARK.sub(", ", text)
    return tidy(sign + _DIGIT.sub(lambda match: f" {DIGIT_NAMES[int(match.group())]} ", text))


def _date(text: str, order: str) -> str | None:
    """Fields in the order the SSML ``format`` gives (``mdy``, ``dmy``, ``ymd``, ``md``, ``my``, ``y``...)."""
    fields = _DATE_FIELD.findall(text)
    if not order:
        order = ("ymd" if fields and len(fields[0]) == 4 else "mdy")[: len(fields)]
    if len(fields) != len(order) or not set(order) <= set("dmy"):
        return None
    values: dict[str, int] = {}
    for letter, field in zip(order, fields):
        if field.isdigit():
            values[letter] = full_year(field) if letter == "y" else int(field)
        elif letter == "m" and field[:3].lower() in _MONTH_PREFIXES:
            values[letter] = _MONTH_PREFIXES[field[:3].lower()]
        else:
            return None
    month, day = values.get("m"), values.get("d")
    if month is not None and not 1 <= month <= 12 or (day is not None and not valid_date(month or 1, day)):
        return None
    return date_words(values.get("y"), month, day, day_first_style=order.startswith("d"))


def _time(text: str) -> str | None:
    """"3:30pm", "15:45", "12:30:45"; the SSML ``format`` (``hms12``, ``hms24``) is not needed."""
    found = _TIME.fullmatch(text)
    if not found:
        return None
    hour = int(found.group("hour"))
    minute = int(found.group("minute")) if found.group("minute") else None
    second = int(found.group("second")) if found.group("second") else None
    suffix = found.group("ap").upper() if found.group("ap") else None
    if hour > (12 if suffix else 23):
        return None
    if minute is None and suffix is None:
        minute = 0
    return time_words(hour, minute, second, suffix)


@hookimpl
def litettsd_say_as(text: str, interpret_as: str, format: str | None, context: NormalizeContext) -> str | None:
    """English readings for say-as and for ``char``/``key`` requests; None when not handled here."""
    if not is_english(context):
        return None
    if interpret_as.strip().lower() == "key":
        return key_name_text(text)
    try:
        return say_as(text, interpret_as, format, capitals=context.capitals)
    except ValueError:
        return None
