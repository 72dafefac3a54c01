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
from collections.abc import Callable

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl
from litettsd.patterns import LazyPattern

from ._words import (
    DIGIT_NAMES,
    FRACTION_IDIOMS,
    HAS_DIGIT,
    WORD_LETTER,
    EnglishStep,
    cardinal,
    letters,
    ordinal,
    padded,
    period_ends_sentence,
    sentence_ends_after,
    sentence_ends_after_time,
    word_before,
    year,
)

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

_MONTH_NAMES = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
_ORDINAL_SUFFIX = "(?:st|nd|rd|th)?"
# Dates and times that start with a digit share that first digit (and the check that it
# is not glued to a word), so the engine can skip straight to digits.
_NUMERIC = LazyPattern(
    r"[0-9](?<![\w.,:/-][0-9])(?:"
    r"(?P<iso>[0-9]{3}(?P<iso_sep>[-/])[0-9]{1,2}(?P=iso_sep)[0-9]{1,2}(?![\w-]|\.[0-9]))"
    r"|(?P<numeric>[0-9]?(?P<sep>[/-])[0-9]{1,2}(?P=sep)"
    r"(?:[0-9]{4}|(?<=/[0-9]/)[0-9]{2}|(?<=/[0-9][0-9]/)[0-9]{2})(?![\w/-]|\.[0-9]))"
    r"|(?P<year_month>[0-9]{3}-[0-9]{2}(?![\w-]|\.[0-9]))"
    r"|(?P<month_day>[0-9]?/[0-9]{1,2}(?![\w/-]|[.,][0-9]))"
    r"|(?P<dotted>[0-9]?\.[0-9]{1,2}\.[0-9]{4}(?!\w|\.[0-9]))"
    rf"|(?P<day_month>[0-9]?{_ORDINAL_SUFFIX}\s+(?:of\s+)?(?:{_MONTH_NAMES})\.?(?:,?\s+[0-9]{{4}})?(?!\w))"
    r"|(?P<clock>[0-9]?(?::[0-5][0-9]){0,2}\s?[AaPp]\.?[Mm]\.?(?!\w))"
    r"|(?P<time>[0-9]?:[0-5][0-9](?::[0-5][0-9])?(?![\w:]|\.[0-9]))"
    r")"
)
_CLOCK_RANGE = LazyPattern(
    r"[0-9](?<![\w.,:/-][0-9])(?P<a>[0-9]?(?::[0-5][0-9])?)\s?(?P<a_suffix>[AaPp]\.?[Mm]\.?)?\s?[-\u2013]\s?"
    r"(?P<b>[0-9]{1,2}(?::[0-5][0-9])?)(?:\s?(?P<b_suffix>[AaPp]\.?[Mm]\.?))?(?![\w:])"
)
"""A span of clock times, "9am-5pm" or "10-11 a.m.": each end a time, "to" between."""
_DURATION = LazyPattern(
    r"[0-9](?<![\w.,:/-][0-9])(?:"
    r"(?P<h_only>[0-9]*)\s?h(?:ours?|rs?)?\s?(?P<hm>[0-5]?[0-9])\s?m(?:in(?:utes?|s)?)?"
    r"(?:\s?(?P<hs>[0-5]?[0-9])\s?s(?:ec(?:onds?|s)?)?)?"
    r"|(?P<m_only>[0-9]*)\s?m(?:in(?:utes?|s)?)?\s?(?P<ms>[0-5]?[0-9])\s?s(?:ec(?:onds?|s)?)?"
    r")(?!\w)"
)
"""Hours and minutes (and seconds) written together, "1h 30m", "2h30m", "1m 30s": never metres."""
_NAMED_MONTH = LazyPattern(
    rf"(?P<month>{_MONTH_NAMES})\.?(?:"
    rf"(?P<day>\s+[0-9]{{1,2}}{_ORDINAL_SUFFIX}(?:\s?-\s?[0-9]{{1,2}}{_ORDINAL_SUFFIX})?(?:,?\s+[0-9]{{4}})?(?![\w:]))"
    r"|,?\s+[0-9]{4}(?![\w:]))"
)
_MONTH_YEAR_SPAN = LazyPattern(
    rf"(?P<a>(?:{_MONTH_NAMES})\.?,?\s+[0-9]{{4}})\s?[-\u2013]\s?(?=(?:{_MONTH_NAMES})\.?,?\s+[0-9]{{4}}(?!\w))"
)
"""Two months of years as a span, "Jan 2020 - Mar 2021": the dash is "to", not a pause."""
_MONTH_ABBREVIATION = LazyPattern(rf"(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.(?!{WORD_LETTER}|[.'])")
_WEEKDAY_ABBREVIATIONS = "Mon|Tues|Tue|Wed|Thurs|Thur|Thu|Fri|Sat|Sun"
_WEEKDAY = LazyPattern(
    rf"(?:{_WEEKDAY_ABBREVIATIONS})(?:\.(?=,?\s+(?:[0-9]|(?:{_MONTH_NAMES})\b|the\s))"
    rf"|(?=,?\s+(?:(?:{_MONTH_NAMES})\b|the [a-z-]+ of (?:{_MONTH_NAMES})\b)))"
)
"""An abbreviated weekday before a date: "Fri. 5 May", "Fri 5/10" (dates are words by now:
"Fri May tenth", "Sun the fifth of March")."""
_WEEKDAY_ALONE = LazyPattern(rf"(?:{_WEEKDAY_ABBREVIATIONS})(?P<dot>\.)?(?![\w'-]|\.\w)")
"""An abbreviated weekday with no date after it: "by Fri.", "Mon. or Tue." (see ``_weekday_alone``)."""
_WEEKDAY_CUES = frozenset("by on until till next this every from before after since due starting".split())
_WEEKDAY_WORD = f"{_WEEKDAY_ABBREVIATIONS}|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_WEEKDAY_SPAN = LazyPattern(
    rf"(?P<a>{_WEEKDAY_WORD})\.?\s?[-\u2013]\s?(?P<b>{_WEEKDAY_WORD})(?P<dot>\.)?(?![\w-])"
)
"""Opening days, "Mon-Fri" or "Monday–Friday": "Monday to Friday"."""
_UTC_OFFSET = LazyPattern(
    r"(?:UTC|GMT)(?<![\w.]UTC)(?<![\w.]GMT)\s?(?P<sign>[-+\u2212])(?P<hours>[0-9]{1,2})(?::?(?P<minutes>[0-5][0-9]))?"
    r"(?![\w:]|\.[0-9])"
)
"""A time zone as an offset, "UTC−05:00", "GMT+1": its sign is a minus or a plus, not a dash."""
_ISO_TIMESTAMP = LazyPattern(
    r"[0-9](?<![\w.,:/-][0-9])[0-9]{3}-[0-9]{2}-[0-9]{2}T(?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2})?)(?:\.[0-9]+)?"
    r"(?P<zone>Z|[-+][0-9]{2}(?::?[0-9]{2})?)?(?![\w:])"
)
"""An ISO 8601 date and time, "2025-03-14T15:30:00Z": the date, "at", the time, the zone."""
_MONTH_IN = LazyPattern(_MONTH_NAMES)
_NUMBERS_IN = LazyPattern(r"[0-9]+")
_THE_BEFORE = LazyPattern(r"\bthe\s+$", re.IGNORECASE)
_AM_PM = LazyPattern(r"[AaPp]")
_YEAR_MONTH_CUES = frozenset(
    "in since from by until till during before after of on at for to through and or between filed released "
    "published updated dated issued expires expired expiry due born started ended opened closed".split()
)
"""Words after which "1999-05" is a month of a year; elsewhere it is a span or a reference number."""
_MONTH_DAY_CUES = frozenset(
    "on until till since due by from before after through thru starting effective expires dated valid ends begins "
    "closed meeting meetings deadline appointment interview monday tuesday wednesday thursday friday saturday "
    "sunday mon tue tues wed thu thur thurs fri sat sun".split()
)
"""Words after which a year-less "5/10" may be a month and a day; elsewhere it is a fraction or a score."""
_AMOUNT_CUES = frozenset("by from before after".split())
"""Of those, the ones that also come before amounts and scores ("cut by 2/5", "from 3/10 to 7/10")."""
_AMOUNT_DENOMINATORS = frozenset({2, 3, 4, 5, 8, 10, 16, 32, 100})
_SMALL_DENOMINATORS = frozenset({2, 3, 4, 8})
_DATE_FOLLOWERS = frozenset(
    "at in and or to for through thru until till from on by before after this next last monday tuesday wednesday "
    "thursday friday saturday sunday i we you he she they it there our my his her their everyone please will would "
    "was is were are can could should must may might when so but then with".split()
)
"""Words that may follow a date; any other word makes "5/10" an amount ("on 1/2 speed", "5/1 odds")."""
_NEXT = LazyPattern(r"\s*(?:$|(?P<word>[A-Za-z]+)\b|(?P<digit>[0-9])|[^\w\s])")
_SPAN_AHEAD = LazyPattern(r"\s*(?:-|\u2013|to|through|thru|until|till)\s*[0-9]{1,2}/(?P<b>[0-9]{1,2})(?![\w/])")
_SECOND_OF_SPAN = LazyPattern(r"\s*(?:-|\u2013|,|to|and|or|through|thru|until|till)\s*$")
"""What joins two dates of a span or a list, "5/10 to 5/20": the second is a date because the first was."""
_CLOCK_BEFORE = LazyPattern(r"(?<![0-9])(?P<hour>[0-9]{1,2}):[0-5][0-9]\s*(?:-|\u2013|to|until|till)\s*$")


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
        name = MONTHS[month - 1]
        parts.append(f"the {ordinal(day)} of {name}" if day_first_style else f"{name} {ordinal(day)}")
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
    elif suffix is None and hour:  # a timer's "0:00" is just "zero"
        words += " o'clock" if hour <= 12 else " hundred"
    if second:
        words += f" and {cardinal(second)} {'second' if second == 1 else 'seconds'}"
    if suffix:
        words += " " + letters(suffix + "m")
    return words


def _month(name: str) -> int:
    return _MONTH_NUMBERS[name.rstrip(".")]


def _glued(match: re.Match[str]) -> bool:
    """Whether the match continues a word ("XMay 5"), for patterns that begin with a word."""
    start = match.start()
    return start > 0 and match.string[start - 1].isalpha()


def _numeric(match: re.Match[str], british: bool, date_ended_at: int | None) -> str | None:
    """The words for a date or time starting with a digit, or None to leave it to later rules.

    ``date_ended_at`` is where the previous match read as a month and a day ended, if any."""
    text = match.group()
    written = _NUMBERS_IN.findall(text)
    numbers = [int(number) for number in written]
    if match.group("month_day"):
        return _month_day(match, numbers, british, date_ended_at)
    if match.group("year_month"):
        # "filed 1999-05" is May 1999; "2019-20" (a later number) is a span and "No. 2019-05" a
        # reference: both are left to the number rules
        year_value, month = numbers
        if word_before(match.string, match.start()) not in _YEAR_MONTH_CUES:
            return None
        if 1900 <= year_value <= 2099 and 1 <= month <= min(12, year_value % 100):
            return date_words(year_value, month, None)
        return None
    if match.group("iso") or match.group("dotted"):
        year_value, month, day = numbers if match.group("iso") else numbers[::-1]
        return date_words(year_value, month, day, british) if valid_date(month, day) else None
    if match.group("numeric"):
        a, b = numbers[:2]
        month, day = (b, a) if (british and b <= 12) or a > 12 else (a, b)
        return date_words(full_year(written[2]), month, day, british) if valid_date(month, day) else None
    if match.group("day_month"):
        month_name = _MONTH_IN.search(text)
        if month_name is None or not valid_date(_month(month_name.group()), numbers[0]):
            return None
        spoken = date_words(numbers[1] if len(numbers) > 1 else None, _month(month_name.group()), numbers[0], True)
        return spoken.removeprefix("the ") if _THE_BEFORE.search(match.string, 0, match.start()) else spoken
    hour = numbers[0]
    minute = numbers[1] if len(numbers) > 1 else None
    second = numbers[2] if len(numbers) > 2 else None
    if match.group("clock"):
        if not 0 < hour <= 12:
            return None
        spoken = time_words(hour, minute, second, _AM_PM.findall(text)[-1].upper())
        if text.endswith(".") and sentence_ends_after_time(match.string, match.end()):
            spoken += "."
        return spoken
    if text == "0:00" and _ends_a_day(match):
        return "midnight"
    return clock_words(text, hour, minute, second)


def _ends_a_day(match: re.Match[str]) -> bool:
    """Whether a "0:00" ends a span of 24-hour times ("18:00 to 0:00": midnight). Elsewhere it
    is a timer's or a recording's zero ("starts at 0:00", "from 5:00 to 0:00"); a written
    midnight is "00:00"."""
    start = match.start()
    before = _CLOCK_BEFORE.search(match.string, max(0, start - 30), start)
    return before is not None and 13 <= int(before.group("hour")) <= 23


def _followed_as_a_date(text: str, end: int) -> bool:
    """Whether what follows ``end`` may follow a date: the end, punctuation, a time or a word like "at"."""
    after = _NEXT.match(text, end)
    if after is None:
        return False
    word = after.group("word")
    return word is None or word.lower() in _DATE_FOLLOWERS


def _month_day(match: re.Match[str], numbers: list[int], british: bool, date_ended_at: int | None) -> str | None:
    """"due 5/10" -> "due May tenth": a year-less date after a word that introduces one, or the
    second of a span or list ("from 5/10 to 5/20", "on 5/10 or 5/11"), in the locale's order.

    It stays a fraction or a score (later rules) when a noun follows ("on 1/2 speed", "5/1
    odds"), when it is an idiom ("24/7"), and after a word that also comes before amounts
    ("by", "from") when it looks like one ("cut by 2/5", "from 3/10 to 7/10"), unless it
    starts a span of dates ("from 5/10 to 5/20") whose ends differ in the second number (odds
    and scores share it: "from 7/2 to 5/2").
    """
    text, start, end = match.string, match.start(), match.end()
    a, b = numbers
    if f"{a}/{b}" in FRACTION_IDIOMS:
        return None
    second_of_span = date_ended_at is not None and _SECOND_OF_SPAN.match(text[date_ended_at:start]) is not None
    if not second_of_span:
        cue = word_before(text, start)
        if cue not in _MONTH_DAY_CUES or not _followed_as_a_date(text, end):
            return None
        if cue in _AMOUNT_CUES and b in _AMOUNT_DENOMINATORS:
            ahead = _SPAN_AHEAD.match(text, end)
            if (
                ahead is None
                or b in _SMALL_DENOMINATORS
                or int(ahead.group("b")) == b
                or not _followed_as_a_date(text, ahead.end())
            ):
                return None
    month, day = (b, a) if british else (a, b)
    if not valid_date(month, day) and valid_date(day, month):  # "Fri 17/10" in the US: no 17th month
        month, day, british = day, month, not british
    return date_words(None, month, day, british) if valid_date(month, day) else None


def clock_words(written: str, hour: int, minute: int | None, second: int | None = None) -> str | None:
    """A 24-hour clock time; "00:00" and "24:00" are midnight (a timer's "0:00" is not)."""
    if written[:2] in ("00", "24") and not minute and not second:
        return "midnight"
    return time_words(hour, minute, second) if hour <= 23 else None


@padded
def _clock_range(match: re.Match[str]) -> str:
    twelve_hour = match.group("b_suffix") is not None
    ends = []
    for clock, suffix in ((match.group()[0] + match.group("a"), match.group("a_suffix")), (match.group("b"), match.group("b_suffix"))):
        hour_text, _, minute_text = clock.partition(":")
        hour, minute = int(hour_text), int(minute_text) if minute_text else None
        if not (0 < hour <= 12 if twelve_hour else minute is not None and hour <= 24):
            return match.group()  # "9-5", "25:00-26:00": not clock times; later rules read them
        if suffix:
            ends.append(time_words(hour, minute, None, suffix.strip()[0].upper()))
        elif minute is None:  # "10-11am": the first end shares the second's A.M
            ends.append(cardinal(hour))
        elif clock == "0:00" and ends and 13 <= int(match.group()[0] + match.group("a").partition(":")[0]) <= 23:
            ends.append("midnight")  # "18:00-0:00": a span of 24-hour times ends at midnight
        else:
            ends.append(clock_words(clock, hour, minute) or clock)
    spoken = f"{ends[0]} to {ends[1]}"
    if match.group().endswith(".") and sentence_ends_after(match.string, match.end()):
        spoken += "."
    return spoken


def _duration_part(amount: str | None, unit: str) -> str:
    count = int(amount) if amount else 0
    return f"{cardinal(count)} {unit}{'' if count == 1 else 's'}" if count else ""


@padded
def _duration(match: re.Match[str]) -> str:
    first = match.group()[0]
    if match.group("hm") is not None:
        parts = [(first + match.group("h_only"), "hour"), (match.group("hm"), "minute"), (match.group("hs"), "second")]
    else:
        parts = [(first + match.group("m_only"), "minute"), (match.group("ms"), "second")]
    spoken = [words for words in (_duration_part(amount, unit) for amount, unit in parts) if words]
    return " and ".join(spoken) if len(spoken) <= 2 else f"{spoken[0]}, {spoken[1]} and {spoken[2]}"


def _named_month(match: re.Match[str]) -> str | None:
    if _glued(match):
        return None
    month = _month(match.group("month"))
    numbers = [int(number) for number in _NUMBERS_IN.findall(match.group())]
    if not match.group("day"):
        return date_words(numbers[0], month, None)
    day = numbers[0]
    if not valid_date(month, day):
        return None
    year_value = numbers[-1] if numbers[-1] >= 1000 else None
    if len(numbers) - (year_value is not None) == 2:
        spoken = f"{MONTHS[month - 1]} {ordinal(day)} to {ordinal(numbers[1])}"
        return spoken + (f", {year(year_value)}" if year_value is not None else "")
    return date_words(year_value, month, day)


class DatesTimes(EnglishStep):
    """Numeric and written dates, weekday and month abbreviations, 12- and 24-hour times."""

    name = "dates-times"
    order = 400

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        if HAS_DIGIT.search(text):
            british = day_first(context)
            if "T" in text:
                text = _ISO_TIMESTAMP.sub(_iso_timestamp, text)
            if "UTC" in text or "GMT" in text:
                text = _UTC_OFFSET.sub(_utc_offset, text)

            date_ended_at: list[int | None] = [None]

            @padded
            def numeric(match: re.Match[str]) -> str:
                spoken = _numeric(match, british, date_ended_at[0])
                if match.group("month_day"):
                    date_ended_at[0] = None if spoken is None else match.end()
                return match.group() if spoken is None else spoken

            if "-" in text or "\u2013" in text:
                text = _CLOCK_RANGE.sub(_clock_range, text)
            text = _DURATION.sub(_duration, text)
            text = _NUMERIC.sub(numeric, text)
            if "-" in text or "\u2013" in text:
                text = _MONTH_YEAR_SPAN.sub(r"\g<a> to ", text)
            text = _NAMED_MONTH.sub(_spoken_or_kept(_named_month), text)
        if "-" in text or "\u2013" in text:
            text = _WEEKDAY_SPAN.sub(_weekday_span, text)
        text = _WEEKDAY.sub(_weekday, text)
        text = _WEEKDAY_ALONE.sub(_weekday_alone, text)
        if "." in text:
            text = _MONTH_ABBREVIATION.sub(_month_abbreviation, text)
        return text


def _spoken_or_kept(speak: Callable[[re.Match[str]], str | None]) -> Callable[[re.Match[str]], str]:
    @padded
    def replace(match: re.Match[str]) -> str:
        spoken = speak(match)
        return match.group() if spoken is None else spoken

    return replace


def _weekday(match: re.Match[str]) -> str:
    return match.group() if _glued(match) else _WEEKDAYS[match.group().rstrip(".")]


def _weekday_alone(match: re.Match[str]) -> str:
    """"by Fri." -> "by Friday.": with its period a weekday whatever comes before it (but
    "Sun." after "the" is a newspaper), without it only after a word that introduces a day
    ("by Fri", not "Wed" or "Sat" as verbs); its period ends the sentence before a capital."""
    written = match.group().rstrip(".")
    if _glued(match):
        return match.group()
    cue = word_before(match.string, match.start())
    if match.group("dot") is None:
        if cue not in _WEEKDAY_CUES or written in ("Wed", "Sat", "Sun"):
            return match.group()
        return _WEEKDAYS[written]
    if written == "Sun" and cue == "the":
        return match.group()
    ends = period_ends_sentence(match.string, match.end())
    return _WEEKDAYS[written] + ("." if ends else "")


def _weekday_name(written: str) -> str:
    return _WEEKDAYS.get(written, written)


def _weekday_span(match: re.Match[str]) -> str:
    if _glued(match):
        return match.group()
    spoken = f"{_weekday_name(match.group('a'))} to {_weekday_name(match.group('b'))}"
    return spoken + "." if match.group("dot") and sentence_ends_after(match.string, match.end()) else spoken


@padded
def _utc_offset(match: re.Match[str]) -> str:
    if _glued(match):
        return match.group()
    sign = "plus" if match.group("sign") == "+" else "minus"
    minutes = match.group("minutes")
    spoken = f"{match.group()[:3]} {sign} {cardinal(int(match.group('hours')))}"
    return spoken if not minutes or minutes == "00" else f"{spoken} {cardinal(int(minutes))}"


def _iso_timestamp(match: re.Match[str]) -> str:
    """Cut into what the date, time and zone rules read: "2025-03-14 at 15:30:00 UTC"."""
    zone = match.group("zone")
    date = match.group()[: match.start("time") - match.start() - 1]
    spoken = f"{date} at {match.group('time')}"
    if zone == "Z":
        return spoken + " UTC"
    return spoken + (f" UTC{zone}" if zone else "")


def _month_abbreviation(match: re.Match[str]) -> str:
    """"in Jan. we" -> "in January we": the period would otherwise end the sentence. Before a
    capitalised word it does end one ("in Jan. Sales fell"): no name follows a month."""
    if _glued(match):
        return match.group()
    name = MONTHS[_month(match.group()) - 1]
    ends = period_ends_sentence(match.string, match.end())
    return name + "." if ends else name


@hookimpl
def litettsd_register_normalizers() -> list[DatesTimes]:
    return [DatesTimes()]
