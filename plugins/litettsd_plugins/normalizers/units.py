"""Units of measure after numbers: ``5 km`` -> "five kilometers", ``72°F`` -> "seventy-two degrees Fahrenheit".

A unit symbol is read by its name, in the singular only after exactly "1"; espeak-ng
would spell ``km`` or read ``GB`` as a word. Symbols that are also common words or
letters (``in``, ``s``, ``A``, ``t``, ``K``) are left out or need context, because a
wrong unit is worse than none: ``in`` only when glued to the number (``27in``), and
decades such as ``1990s`` are never seconds. Feet and inches written with primes
(``5'10"``) and "per" after a slash (``$5/hr``, already "five dollars/hr") are here too.
"""

from __future__ import annotations

import re

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl
from litettsd.patterns import LazyPattern

from ._words import (
    HAS_DIGIT,
    NUMBER,
    EnglishStep,
    cardinal,
    is_one,
    number_at,
    number_words,
    padded,
    sentence_ends_after,
)

_TABLE: tuple[tuple[str, str, str | None], ...] = (
    ("mm", "millimeter", None), ("cm", "centimeter", None), ("m", "meter", None), ("km", "kilometer", None),
    ("nm", "nanometer", None), ("µm|μm", "micrometer", None), ("ft", "foot", "feet"), ("yd|yds", "yard", None),
    ("mi", "mile", None), ("mg", "milligram", None), ("g", "gram", None), ("kg|kgs", "kilogram", None),
    ("lb|lbs", "pound", None), ("oz", "ounce", None), ("ml|mL", "milliliter", None), ("l|L", "liter", None),
    ("gal", "gallon", None), ("fl oz", "fluid ounce", None), ("ns", "nanosecond", None),
    ("µs|μs", "microsecond", None), ("ms", "millisecond", None), ("sec|secs", "second", None),
    ("min|mins", "minute", None), ("h|hr|hrs", "hour", None), ("yr|yrs", "year", None),
    ("KB|kB", "kilobyte", None), ("MB", "megabyte", None), ("GB", "gigabyte", None), ("TB", "terabyte", None),
    ("PB", "petabyte", None), ("KiB", "kibibyte", None), ("MiB", "mebibyte", None), ("GiB", "gibibyte", None),
    ("TiB", "tebibyte", None), ("Kb|kb", "kilobit", None), ("Mb", "megabit", None), ("Gb", "gigabit", None),
    ("kbps|Kbps", "kilobit per second", "kilobits per second"),
    ("Mbps", "megabit per second", "megabits per second"), ("Gbps", "gigabit per second", "gigabits per second"),
    ("KB/s|kB/s", "kilobyte per second", "kilobytes per second"),
    ("MB/s", "megabyte per second", "megabytes per second"), ("GB/s", "gigabyte per second", "gigabytes per second"),
    ("Hz", "hertz", "hertz"), ("kHz", "kilohertz", "kilohertz"), ("MHz", "megahertz", "megahertz"),
    ("GHz", "gigahertz", "gigahertz"), ("W", "watt", None), ("kW", "kilowatt", None), ("MW", "megawatt", None),
    ("GW", "gigawatt", None), ("Wh", "watt hour", None), ("kWh", "kilowatt hour", None),
    ("mAh", "milliamp hour", None), ("V", "volt", None), ("mV", "millivolt", None), ("kV", "kilovolt", None),
    ("mA", "milliamp", None), ("kJ", "kilojoule", None), ("cal", "calorie", None), ("kcal", "kilocalorie", None),
    ("mph", "mile per hour", "miles per hour"), ("km/h|kph", "kilometer per hour", "kilometers per hour"),
    ("m/s", "meter per second", "meters per second"), ("fps", "frame per second", "frames per second"),
    ("rpm", "revolution per minute", "revolutions per minute"), ("dB", "decibel", None), ("px", "pixel", None),
    ("pt", "point", None), ("tsp|tsps", "teaspoon", None), ("tbsp|tbsps|Tbsp", "tablespoon", None),
    (" s", "second", None),  # spaced only: "9.79 s", never "the 1990s"
    ("psi", "pound per square inch", "pounds per square inch"), ("Pa", "pascal", None),
    ("kPa", "kilopascal", None), ("hPa", "hectopascal", None), ("mmHg", "millimeter of mercury", "millimeters of mercury"),
    ("sq ft", "square foot", "square feet"), ("sq m", "square meter", None), ("sq mi", "square mile", None),
    ("m²|m^2", "square meter", None), ("km²|km^2", "square kilometer", None), ("cm²|cm^2", "square centimeter", None),
    ("ft²|ft^2", "square foot", "square feet"), ("m³|m^3", "cubic meter", None), ("cm³|cm^3", "cubic centimeter", None),
)
"""Symbols (``|`` separated), singular name, plural name when not just "+s"."""
_UNITS = {symbol: (one, many or one + "s") for symbols, one, many in _TABLE for symbol in symbols.split("|")}

_GLUED_ONLY = {"in": ("inch", "inches")}
"""Units that are also words: only a unit when written against the number."""

_SYMBOLS = sorted((re.escape(symbol).replace(r"\ ", r"\.?\s") for symbol in _UNITS), key=len, reverse=True)
_NUMBER_OR_RANGE = rf"(?P<number>{number_at(signed=True)})(?:\s?-\s?(?P<upper>-?(?:{NUMBER})))?"
_UNIT = LazyPattern(rf"{_NUMBER_OR_RANGE}(?:\s?(?P<unit>{'|'.join(_SYMBOLS)})|(?P<glued>in))(?P<dot>\.)?(?![\w/²³^])")
_ADJECTIVE_SYMBOLS = sorted(
    (re.escape(symbol) for symbol in _UNITS if " " not in symbol and symbol != "g"), key=len, reverse=True
)
"""Units a hyphen may join to a number: not the spaced ones, nor "g" ("5-g" is more often 5G than grams)."""
_ADJECTIVE_UNIT = LazyPattern(
    rf"(?P<number>{number_at()})(?:-(?P<upper>{NUMBER}))?"
    rf"-(?P<unit>{'|'.join(_ADJECTIVE_SYMBOLS)}|in)"
    r"(?![\w/²³^])(?= [A-Za-z0-9]|-[A-Za-z])"
)
"""A measure joined to the noun it describes: "a 5-km run" is "a five-kilometer run", singular;
"a 3-4-km walk", "a 6-ft 2-in man", "a 5-km-long tunnel" too (not "2-in-1")."""
_FRACTION_UNIT = LazyPattern(
    rf"(?:(?P<whole>[0-9]+) )?(?P<num>[0-9])(?<![\w./][0-9])/(?P<den>[2348])\s?"
    rf"(?P<unit>{'|'.join(_SYMBOLS)})(?P<dot>\.)?(?![\w/²³^])"
)
"""A measure that is a fraction, as recipes write them: "3/4 tsp", "1 1/2 km"."""
_PARTS = {2: ("half", "halves"), 3: ("third", "thirds"), 4: ("quarter", "quarters"), 8: ("eighth", "eighths")}
_DEGREES = LazyPattern(rf"{_NUMBER_OR_RANGE}\s?°\s?(?P<scale>[CFK](?!\w))?")
_SCALES = {"C": "Celsius", "F": "Fahrenheit", "K": "Kelvin"}
_FEET_INCHES = LazyPattern(r"(?P<feet>[0-9](?<![\w.][0-9])[0-9]*)'\s?(?P<inches>[0-9]{1,2}(?:\.[0-9]+)?)(?:\"|'')")
_PER = LazyPattern(
    r"/(?:(?<=[a-z]/)|(?<=[a-z] /))"
    r"(?P<per>hr|h|hour|day|wk|week|mo|month|yr|year|min|minute|sec|second|kg|lb|pound|oz|ounce|km|mi|mile|night"
    r"|person|page|gallon|gal|liter|litre|unit|item|user|seat|ticket|share|head|serving|dozen|visit|kWh|GB|TB)\b"
)
_PER_WORDS = {"hr": "hour", "h": "hour", "wk": "week", "mo": "month", "yr": "year", "min": "minute", "sec": "second",
              "kg": "kilogram", "lb": "pound", "oz": "ounce", "km": "kilometer", "mi": "mile", "gal": "gallon",
              "kWh": "kilowatt hour", "GB": "gigabyte", "TB": "terabyte"}
_SPACES = LazyPattern(r"\s+")


def unit_words(number: str, one: str, many: str, upper: str | None = None) -> str:
    """"five kilometers", "one foot"; with ``upper`` a range, "five to ten kilograms"."""
    if upper is not None:
        return f"{number_words(number)} to {number_words(upper)} {many}"
    return f"{number_words(number)} {one if is_one(number) else many}"


@padded
def _unit(match: re.Match[str]) -> str:
    if match.group("unit"):
        one, many = _UNITS[_SPACES.sub(" ", match.group("unit").replace(".", ""))]
    else:
        one, many = _GLUED_ONLY[match.group("glued")]
    spoken = unit_words(match.group("number"), one, many, match.group("upper"))
    if match.group("dot") and sentence_ends_after(match.string, match.end()):
        spoken += "."
    return spoken


@padded
def _adjective_unit(match: re.Match[str]) -> str:
    unit, upper = match.group("unit"), match.group("upper")
    number = number_words(match.group("number")) + (f"-to-{number_words(upper)}" if upper else "")
    return f"{number}-{(_UNITS.get(unit) or _GLUED_ONLY[unit])[0]}"


@padded
def _fraction_unit(match: re.Match[str]) -> str:
    """"three quarters of a teaspoon", "half a kilometer", "one and a half teaspoons"."""
    one, many = _UNITS[_SPACES.sub(" ", match.group("unit").replace(".", ""))]
    numerator, denominator = int(match.group("num")), int(match.group("den"))
    if numerator >= denominator:
        return match.group()
    part, parts = _PARTS[denominator]
    whole = match.group("whole")
    if whole is not None:
        count = "a" if numerator == 1 else cardinal(numerator)
        return f"{number_words(whole)} and {count} {part if numerator == 1 else parts} {many}"
    a_unit = f"an {one}" if one[0] in "aeiou" or one.startswith("hour") else f"a {one}"  # "half an hour"
    if numerator == 1:
        spoken = f"half {a_unit}" if denominator == 2 else f"a {part} of {a_unit}"
    else:
        spoken = f"{cardinal(numerator)} {parts} of {a_unit}"
    return spoken + "." if match.group("dot") and sentence_ends_after(match.string, match.end()) else spoken


@padded
def _degrees(match: re.Match[str]) -> str:
    spoken = unit_words(match.group("number"), "degree", "degrees", match.group("upper"))
    scale = match.group("scale")
    return f"{spoken} {_SCALES[scale]}" if scale else spoken


@padded
def _feet_inches(match: re.Match[str]) -> str:
    return f"{unit_words(match.group('feet'), 'foot', 'feet')} {unit_words(match.group('inches'), 'inch', 'inches')}"


def _per(match: re.Match[str]) -> str:
    unit = match.group("per")
    return f" per {_PER_WORDS.get(unit, unit)}"


_EXPONENT = LazyPattern(r"[eE](?<=[0-9][eE])(?P<sign>[-+])(?=[0-9])")
"""Scientific notation, "1.5e-3": "e minus three", not a dash before a number."""


def _exponent(match: re.Match[str]) -> str:
    return " e minus " if match.group("sign") == "-" else " e plus "


class Units(EnglishStep):
    """Measurements, temperatures and angles, feet and inches, "per" after a slash."""

    name = "units"
    order = 500

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        if "/" in text:
            text = _PER.sub(_per, text)
        if not HAS_DIGIT.search(text):
            return text
        if "e-" in text or "e+" in text or "E-" in text or "E+" in text:
            text = _EXPONENT.sub(_exponent, text)  # before "3 m" is read: "1.5e-3 m"
        if "°" in text:
            text = _DEGREES.sub(_degrees, text)
        if "'" in text:
            text = _FEET_INCHES.sub(_feet_inches, text)
        if "/" in text:
            text = _FRACTION_UNIT.sub(_fraction_unit, text)
        if "-" in text:
            text = _ADJECTIVE_UNIT.sub(_adjective_unit, text)
        return _UNIT.sub(_unit, text)


@hookimpl
def litettsd_register_normalizers() -> list[Units]:
    return [Units()]
