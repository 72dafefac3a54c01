"""Dates and clock times: ``05/15/2018`` -> "May fifteenth, twenty eighteen", ``3:30pm`` -> "three thirty P.M".

Numeric dates are the worst case for a synthesizer: LiteTTS read ``05/15/2018`` as
"five slash fifteen slash two thousand eighteen" and ``2023-05-12`` with "dash"es. They
must be recognised before the number rules would read their parts as fractions, ranges
or decimals. Month names with a day take an ordinal ("May 15" -> "May fifteenth"), years
are read as years, and ``a.m.``/``p.m.`` become letters without the periods that would
otherwise end the sentence. Ambiguous numeric dates follow the voice's locale: month
first for ``en-US`` (and most others), day first for British-style locales; a first
number above 12 settles it either way, and dotted dates (``12.05.2023``) are day first.
"""

from __future__ import annotations

import re

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl

from ._words import DIGIT_NAMES, DIGIT_RUN, EnglishStep, cardinal, letters, ordinal, rewrite_near, sentence_ends_after, year

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
_MONTH_ABBREVIATIONS = {name[:3]: index for index, name in enumerate(MONTHS, 1)} | {"Sept": 9}
_MONTH_NUMBERS = {name: index for index, name in enumerate(MONTHS, 1)} | _MONTH_ABBREVIATIONS
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_WEEKDAYS = {
    "Mon": "Monday", "Tue": "Tuesday", "Tues": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday",
    "Thur": "Thursday", "Thurs": "Thursday", "Fri": "Friday", "Sat": "Saturday", "Sun": "Sunday",
}
_DAY_FIRST_LOCALES = ("en-gb", "en-au", "en-nz", "en-ie", "en-in", "en-za", "en-sg", "en-hk")
TWO_DIGIT_YEAR_PIVOT = 50
"""``'49`` -> 2049, ``'50`` -> 1950."""

_MONTH = (
    r"(?P<{0}>January|February|March|April|May|June|July|August|September|October|November|December|"
    r"(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)"
)
_DAY = r"(?P<{0}>[0-9]{{1,2}})(?:st|nd|rd|th)?"
_PATTERNS = {
    "iso": r"(?<![\w.-])(?P<iso_y>[0-9]{4})(?P<iso_sep>[-/])(?P<iso_m>[0-9]{1,2})(?P=iso_sep)(?P<iso_d>[0-9]{1,2})(?![\w-]|\.[0-9])",
    "numeric": r"(?<![\w./-])(?P<num_a>[0-9]{1,2})(?P<num_sep>[/-])(?P<num_b>[0-9]{1,2})(?P=num_sep)"
    r"(?P<num_y>[0-9]{4}|(?:(?<=/[0-9]/)|(?<=/[0-9][0-9]/))[0-9]{2})(?![\w/-]|\.[0-9])",
    "dotted": r"(?<![\w.])(?P<dot_d>[0-9]{1,2})\.(?P<dot_m>[0-9]{1,2})\.(?P<dot_y>[0-9]{4})(?![\w]|\.[0-9])",
    "month_day": r"\b" + _MONTH.format("md_m") + r"\s+" + _DAY.format("md_d")
    + r"(?:\s?-\s?" + _DAY.format("md_d2") + r")?(?:,?\s+(?P<md_y>[0-9]{4}))?(?![\w:])",
    "day_month": r"(?<![\w.,])" + _DAY.format("dm_d") + r"\s+(?P<dm_of>of\s+)?" + _MONTH.format("dm_m")
    + r"(?:,?\s+(?P<dm_y>[0-9]{4}))?(?!\w)",
    "month_year": r"\b" + _MONTH.format("my_m") + r",?\s+(?P<my_y>[0-9]{4})(?![\w:])",
    "weekday": r"\b(?P<wd>Mon|Tues?|Wed|Thu(?:rs?)?|Fri|Sat|Sun)\.(?=,?\s+(?:[0-9]|[JFMASOND][a-z]{2}))",
    "clock": r"(?<![\w:.])(?P<c_h>1[0-2]|0?[0-9])(?::(?P<c_m>[0-5][0-9]))?(?::(?P<c_s>[0-5][0-9]))?"
    r"\s?(?P<c_ap>[AaPp])\.?[Mm](?P<c_dot>\.)?(?!\w)",
    "time": r"(?<![\w:.])(?P<t_h>[01]?[0-9]|2[0-3]):(?P<t_m>[0-5][0-9])(?::(?P<t_s>[0-5][0-9]))?(?![\w:]|\.[0-9])",
}
_DATES = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS.items()))
_MONTH_ABBREVIATION = re.compile(r"(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.(?= |$)")
_THE_BEFORE = re.compile(r"\bthe\s+$", re.IGNORECASE)


def day_first(context: NormalizeContext) -> bool:
    """Whether ambiguous numeric dates put the day first and are said "the fifth of May"."""
    return context.language.lower().replace("_", "-").startswith(_DAY_FIRST_LOCALES)


def full_year(digits: str) -> int:
    """A written year; two digits are expanded around ``TWO_DIGIT_YEAR_PIVOT``."""
    value = int(digits)
    if len(digits) == 2:
        value += 2000 if value < TWO_DIGIT_YEAR_PIVOT else 1900
    return value


def valid_date(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]


def date_words(year_value: int | None, month: int | None, day: int | None, day_first_style: bool = False) -> str:
    """"May fifteenth, twenty eighteen" (or "the fifteenth of May, twenty eighteen")."""
    parts = []
    if month and day:
        parts.append(f"the {ordinal(day)} of {MONTHS[month - 1]}" if day_first_style else f"{MONTHS[month - 1]} {ordinal(day)}")
    elif month:
        parts.append(MONTHS[month - 1])
    elif day:
        parts.append(f"the {ordinal(day)}")
    if year_value is not None:
        spoken = year(year_value)
        parts.append(f", {spoken}" if month and day else f" {spoken}")
    return "".join(parts).lstrip(", ")


def time_words(hour: int, minute: int | None = None, second: int | None = None, suffix: str | None = None) -> str:
    """"three thirty P.M", "three oh five", "three o'clock", "fifteen hundred"."""
    words = cardinal(hour)
    if minute:
        words += f" oh {DIGIT_NAMES[minute]}" if minute < 10 else f" {cardinal(minute)}"
    elif suffix is None:
        words += " o'clock" if 1 <= hour <= 12 else " hundred"
    if second:
        words += f" and {cardinal(second)} {'second' if second == 1 else 'seconds'}"
    if suffix:
        words += " " + letters(suffix + "m")
    return words


def _month(name: str) -> int:
    return _MONTH_NUMBERS[name.rstrip(".")]


class DatesTimes(EnglishStep):
    """Numeric and written dates, weekday and month abbreviations, 12- and 24-hour times."""

    name = "dates-times"
    order = 400

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        british = day_first(context)

        def speak(match: re.Match[str]) -> str:
            spoken = _speak(match, british)
            return match.group() if spoken is None else f" {spoken} "

        text = rewrite_near(text, DIGIT_RUN, lambda region: _DATES.sub(speak, region))
        if "." in text:
            text = _MONTH_ABBREVIATION.sub(_month_abbreviation, text)
        return text


def _month_abbreviation(match: re.Match[str]) -> str:
    """"in Jan. we" -> "in January we": the period would otherwise end the sentence."""
    start = match.start()
    if start and (match.string[start - 1].isalnum() or match.string[start - 1] == "."):
        return match.group()
    name = MONTHS[_month(match.group()) - 1]
    return name + "." if sentence_ends_after(match.string, match.end()) else name


def _speak(match: re.Match[str], british: bool) -> str | None:
    """The words for one match, or None to leave it to later rules (an impossible date)."""
    kind = match.lastgroup
    group = match.group
    if kind == "iso":
        month, day = int(group("iso_m")), int(group("iso_d"))
        return date_words(int(group("iso_y")), month, day, british) if valid_date(month, day) else None
    if kind == "numeric":
        a, b = int(group("num_a")), int(group("num_b"))
        month, day = (b, a) if (british and b <= 12) or a > 12 else (a, b)
        return date_words(full_year(group("num_y")), month, day, british) if valid_date(month, day) else None
    if kind == "dotted":
        month, day = int(group("dot_m")), int(group("dot_d"))
        return date_words(int(group("dot_y")), month, day, british) if valid_date(month, day) else None
    if kind == "month_day":
        month, day = _month(group("md_m")), int(group("md_d"))
        if not valid_date(month, day):
            return None
        spoken = date_words(int(group("md_y")) if group("md_y") else None, month, day)
        if group("md_d2"):
            spoken = f"{MONTHS[month - 1]} {ordinal(day)} to {ordinal(int(group('md_d2')))}" + (
                f", {year(int(group('md_y')))}" if group("md_y") else ""
            )
        return spoken
    if kind == "day_month":
        month, day = _month(group("dm_m")), int(group("dm_d"))
        if not valid_date(month, day):
            return None
        spoken = date_words(int(group("dm_y")) if group("dm_y") else None, month, day, True)
        if _THE_BEFORE.search(match.string, 0, match.start()):
            spoken = spoken.removeprefix("the ")
        return spoken
    if kind == "month_year":
        return date_words(int(group("my_y")), _month(group("my_m")), None)
    if kind == "weekday":
        return _WEEKDAYS[group("wd")]
    if kind == "clock":
        spoken = time_words(
            int(group("c_h")),
            int(group("c_m")) if group("c_m") else None,
            int(group("c_s")) if group("c_s") else None,
            group("c_ap").upper(),
        )
        if group("c_dot") and sentence_ends_after(match.string, match.end()):
            spoken += "."
        return spoken
    return time_words(int(group("t_h")), int(group("t_m")), int(group("t_s")) if group("t_s") else None)


@hookimpl
def litettsd_register_normalizers() -> list[DatesTimes]:
    return [DatesTimes()]
