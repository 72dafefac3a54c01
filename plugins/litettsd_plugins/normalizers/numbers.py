"""Every number left after money, dates and units: the step that leaves no digit behind.

espeak-ng reads digit strings, but not the way a listener expects: ``1,000`` becomes "one
comma zero zero zero", ``3/4`` "three slash four", ``22nd`` "twenty-two N D", and a
year is read as a quantity. The rules run from the most specific to the most general,
each on what the previous ones left: telephone numbers (digit by digit, grouped), airliners
("Boeing 747": "seven forty-seven"), codes (ISBNs, PINs, tickets), ``#1``,
ordinals, powers, fractions, percentages, ranges (``5-10`` -> "five to ten"), decades,
eras, Roman numerals where the context says so ("Chapter IV", "Henry VIII"), "2x" and
"1920x1080", ratios, dotted section numbers, signs, and finally plain numbers: four
digits that look like a year are read as one ("1999" -> "nineteen ninety-nine") unless a
plural noun follows ("1500 people"); serials (leading zero, or ten or more digits without
separators) digit by digit; everything else as a cardinal. A last pass reads any digit
still left, so the output never holds an ASCII digit.
"""

from __future__ import annotations

import re

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl
from litettsd.patterns import LazyPattern

from ._words import (
    DIGIT_NAMES,
    FRACTION_IDIOMS,
    DIGIT_RUN,
    NUMBER,
    EnglishStep,
    cardinal,
    digits,
    integer_words,
    letters,
    number_at,
    number_words,
    ordinal,
    padded,
    plural_words,
    rewrite_near,
    word_before,
    year,
)

# Every pattern begins with a literal or a character class and checks what precedes it
# only after that first character (see ``number_at``): they run on the hot path.
_PHONE = LazyPattern(
    r"[0-9(+](?<![\w+.,/-][0-9(+])(?:"
    r"(?<=\+)[0-9]{1,3}(?:[ .-]?\(?[0-9]{1,4}\)?){2,5}"
    r"|(?<=\()[0-9]{3}\)\s?[0-9]{3}[ .-][0-9]{4}"
    r"|(?<=1)[ .-](?:\([0-9]{3}\)\s?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}"
    r"|(?<=[0-9])[0-9]{2}[ .-][0-9]{3}[ .-][0-9]{4}"
    r")(?![\w/-]|\.[0-9])"
)
_LOCAL_PHONE = LazyPattern(
    r"(?:call|Call|phone|Phone|tel|Tel|fax|Fax|dial|Dial|text|Text|cell|Cell|mobile|Mobile):?\s"
    r"(?P<local>[0-9]{3}-[0-9]{4}|911|999|112|111|000|988|311|211|411)\b"
)
_DIGIT_STRING_SHAPE = LazyPattern(
    r"[0-9](?<![\w.,/-][0-9])(?:"
    r"[0-9]{2}-[0-9]{2}-[0-9]{4}"  # 123-45-6789: a US social security number
    r"|[0-9]{3}(?:[ -][0-9]{4}){3}"  # 4111 1111 1111 1111: a card
    r"|(?<=0)[0-9]{1,4} [0-9]{3,4} [0-9]{3,4}"  # 020 7946 0958: a leading zero makes it a code
    r"|(?<=0)[0-9]{2,4} [0-9]{5,8}"  # 07700 900123, 030 123456: a leading zero, two groups
    r"|(?<=0)[0-9](?: [0-9]{2}){4}"  # 06 12 34 56 78: a French number
    r")(?![\w/-]|\.[0-9])"
)
"""Digit strings whose shape says they are read digit by digit, whatever comes before them."""
_DIGIT_STRING_AFTER = LazyPattern(
    r"(?:(?P<code_word>ISBNs?(?:-1[03])?|[ep]?-?ISSNs?"
    r"|ZIP|[Zz]ip|[Pp]ostcode|[Pp]ostal code|PIN|pin|SSN|[Rr]outing|[Ss]erial|[Tt]racking"
    r"|[Ee]xtension|[Ee]xt\.?|[Pp]asscode|(?:[Mm]eeting|[Ww]ebinar|[Uu]ser) I\.?D|OTP|O\.T\.P|[Vv]erification code)"
    r"|(?P<noun>[Cc]ard|[Aa]ccount|[Aa]cct|[Oo]rder|[Cc]onfirmation|[Rr]eference|[Ii]nvoice|[Tt]icket))"
    r"(?:(?P<marker> code| number| no\.?)?:?\s| ?(?P<hash>#)\s?)"
    r"(?P<code>[0-9][0-9]*(?:[ -][0-9]+)*(?:-?X)?)(?![\w/]|[.,][0-9])"
)
"""Codes read digit by digit after the word that says what they are: "ZIP 90210", "PIN 4321".
After a word that may also count things ("order 12 copies", "card 3 of 5") only a marked
number ("order #12", "account number 12"), a long one (5+ digits) or one in 3+ groups is a code."""
_NUMBER_SIGN = LazyPattern(r"#(?<![\w&#]#)\s?(?=[0-9])")
_NUMBERED = LazyPattern(
    r"(?:#(?<![\w&#]#)|[Nn](?<!\w[Nn])umber)\s?"
    r"(?P<prefix>[A-Z]{1,3}-|[a-z]-)?(?P<code>[0-9]+(?:-[0-9]+)*)(?![\w/-]|[.,][0-9])"
)
"""A hyphenated number after "No." (by now "number") or "#": an identifier or a span, see
``_numbered``; or one with letters in front, "#A-2291", always an identifier."""
_COUNTING_WORDS = frozenset("a any each every some one the my our your his her their its total".split())
_ORDINAL = LazyPattern(r"(?P<n>[0-9](?<![\w.,][0-9])(?:[0-9]{0,2}(?:,[0-9]{3})+|[0-9]*))(?:st|nd|rd|th|ST|ND|RD|TH)\b")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SUPERSCRIPT = LazyPattern(r"[⁻⁰¹²³⁴⁵⁶⁷⁸⁹][⁰¹²³⁴⁵⁶⁷⁸⁹]*")
_CARET = LazyPattern(r"\^\s?(?P<exponent>-?[0-9]+)")
_VULGAR = {
    "½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5), "⅗": (3, 5),
    "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅐": (1, 7), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8), "⅞": (7, 8),
    "⅑": (1, 9), "⅒": (1, 10),
}
_UNICODE_FRACTION = LazyPattern(r"(?:(?<![\w.,])(?P<whole>[0-9]+)\s?)?(?P<vulgar>[" + "".join(_VULGAR) + "])")
_FRACTION = LazyPattern(
    r"(?P<first>[0-9](?<![\w./-][0-9])[0-9]*)(?:\s+(?P<num>[0-9]+))?/(?P<den>[0-9]+)(?![\w/]|\.[0-9])"
)
_DENOMINATORS = frozenset({*range(2, 11), 12, 16, 32, 64, 100, 1000})
_SCORE_DENOMINATORS = frozenset({5, 10, 100})
_DATE_CUES = frozenset("on by until till since before after due from".split())
_OPERATORS = frozenset("=<>+-*×÷≈≤≥")
_PHRASE_ENDS = frozenset(("", ".", ",", ";", ":", "!", "?", ")", '"', "'"))
_PERCENT = LazyPattern(
    rf"(?P<n>{number_at(signed=True)})(?:\s?(?:%?\s?-|to)\s?(?P<upper>-?(?:{NUMBER})))?\s?(?:%|percent\b)"
)
"""A percentage, or a span of two, "5-10%" and "5%-10%" alike: "five to ten percent"."""
_RANGE_START = number_at(r"\w.,/-")
_RANGE = LazyPattern(rf"(?P<a>{_RANGE_START})\s?-\s?(?P<b>{NUMBER})(?![\w/-]|\.[0-9]|\s*=)")
_DECADE = LazyPattern(r"(?P<n>[0-9](?<![\w.,'][0-9])[0-9]*0)'?s\b")
_SHORT_DECADE = LazyPattern(r"'(?<!\w')(?P<n>[0-9]0)s\b")
_SHORT_YEAR = LazyPattern(r"'(?<![\w']')(?P<n>[0-9]{2})(?![\w']|[.,][0-9])")
"""A year cut to its last two digits, "in '05"."""
_SCALE_WORDS = {"k": "thousand", "K": "thousand", "M": "million"}
_SCALED = LazyPattern(rf"(?P<n>{number_at()})(?P<scale>[kKM])(?![\w-])(?P<next> [A-Za-z]+)?")
"""A count with its scale as a letter, as written online: "10k followers", "1M users" (see ``_scaled``)."""
_NOT_COUNTED_AFTER_K = frozenset("run runs race races walk walks".split())
_POWER_OF_TEN = LazyPattern(r"10{2,}")
_ERA_AFTER = LazyPattern(r"(?P<y>[0-9](?<![\w.,][0-9])[0-9]{0,3})\s?(?P<era>B\.C\.E|B\.C|A\.D|C\.E)\b")
_ERA_BEFORE = LazyPattern(r"A\.D\s?(?P<y>[0-9]{1,4})(?![\w.]*[0-9])")
_ROMAN_CANDIDATE = LazyPattern(r"[IVXLCDM](?<= [IVXLCDM])[IVXLCDM]*\b")
_ROMAN = LazyPattern(r"M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_SEQUEL_LETTERS = frozenset("IVX")
_NOT_SEQUELS = frozenset({"IV", "XX", "XY"})
"""Far more often intravenous and chromosomes than Roman numerals, unless a counting word or a
ruler's name comes first ("Chapter IV", "Henry IV")."""
_FUNCTION_WORDS = frozenset(
    "the a an and or but of in on at to for with by from as both either neither each every any some no "
    "this that these those its their his her our my your".split()
)
"""Capitalised at the start of a sentence, these say nothing about a numeral after them."""
"""Numerals of these letters only (2 to 39) after a title-case word are read as numbers; with
C, D, L or M they are far more often initials ("Washington DC", "LCD")."""
_ROMAN_VALUES = {"M": 1000, "D": 500, "C": 100, "L": 50, "X": 10, "V": 5, "I": 1}
_RESOLUTION = LazyPattern(r"(?P<n>[0-9](?<![\w.,][0-9])[0-9]{2,3})p\b")
_TIMES = LazyPattern(rf"(?P<n>{number_at()})x(?=\s|$|[,;:.!?)])")
_BY = LazyPattern(r"[x×*](?:(?<=[0-9][x×*])|(?<=[0-9] [x×*]))\s?(?=[0-9])")
_RATIO = LazyPattern(r":(?<=[0-9]:)(?=[0-9])")
_MINUTES_SECONDS = LazyPattern(r"(?P<m>[0-9](?<![\w.:][0-9])[0-9]{1,2}):(?P<s>[0-5][0-9])(?![\w:]|\.[0-9])")
"""Minutes and seconds past what a clock shows, a race's "41:23" (24:00 and less are times, read earlier)."""
_AIRCRAFT = LazyPattern(
    r"(?:7(?:(?<=Boeing 7)|(?<=Boeing-7)|(?<![\w.,-]7)(?=[0-9]7[ -](?:MAX|Dreamliner)\b))[0-9]7"
    r"|A(?<![\w=:(-]A)(?P<airbus>220|300|310|31[89]|32[01]|330|340|350|380)(?!:|-[A-Za-z]))"
    r"(?P<suffix>neo|ceo|XLR|LR|ULR|ER|F|X)?(?![\w.,]?[0-9]|\w)"
)
"""Airliners by model number: "Boeing 747" is "seven forty-seven", "Airbus A320neo" "A-three
twenty neo". Only Airbus's own numbers, and not in a formula or a part number ("=SUM(A300:A320)")."""
_ABOUT = LazyPattern(r"~(?<![\w~]~)\s?(?=[0-9.])")
_DOTTED = LazyPattern(r"[0-9](?<![\w.][0-9])[0-9]*(?:\.[0-9]+){2,}(?![\w.]*[0-9])")
_DIVIDED = LazyPattern(r"/(?<=[0-9] /)(?= [0-9.]+ ?=)")
"""A slash in a sum is a division, "10 / 2 = 5" (elsewhere it is read as written, a slash)."""
_MINUS_BETWEEN = LazyPattern(r"-(?:(?<=[0-9] -)(?= [0-9])|(?<=[0-9]-)(?=[0-9.]+ ?=))")
"""A minus between spaced numbers, or in a sum before "=" ("10-5=5")."""
_DECADE_SPAN = LazyPattern(r"-(?<=0s-)(?=[0-9]+0s\b)")
"""Between two decades, "1990s-2000s": "to"."""
_SIGN = LazyPattern(r"[-+](?<![^\s(\[\"'=/,;:][-+])(?=\.?[0-9])")
_LONE_A_BY_DIGITS = LazyPattern(r"(?<![\w.\-/])A(?=[0-9]+(?!\w|[.,][0-9]))|(?<=[0-9])A(?![\w'\u2019-])")
"""A capital "A" touching a number, "A4", "Gate A12", "Seat 12A": the letter, which once split
from the number ("A four") espeak-ng would read as the article; "A-" keeps its name ("A-four",
as ``_letter_prefix`` does for "A-10")."""
_LETTER_DASH_DIGIT = LazyPattern(r"-(?<=[A-Za-z]-)(?<!(?<![\w-])A-)(?=[0-9])")
"""The hyphen of "F-16" and "COVID-19", a pause at most; but not of a lone "A-10" (see ``_letter_prefix``)."""
_VARIABLE_MINUS = LazyPattern(r"-(?<=(?<![\w.'-])[a-z]-)(?=[0-9])")
"""A lower-case letter alone before "-1" is a variable: "n-1" is "n minus one" (but "F-16" a name)."""

_PLAIN = LazyPattern(
    r"(?P<whole>[0-9](?<![0-9.,][0-9])(?:[0-9]{0,2}(?:,[0-9]{3})+(?![0-9])|[0-9]*))(?:\.(?P<frac>[0-9]+))?"
)
_VERSION = LazyPattern(r"[1-9](?<=[A-Za-z] [1-9])[0-9]*\.[0-9]{2}(?![\w%]|[.,][0-9])")
"""A decimal with two places after a word: "Python 3.11" is "three point eleven" (``_version``)."""
_VERSION_WORDS = frozenset("version release section chapter clause article appendix".split())
"""Words after which such a number is a version or a section, however they are written."""
_VERSION_NAMES = frozenset(
    """build update patch kernel figure table step rule
    python java ruby perl php node nodejs rust go golang kotlin swift dart scala julia lua qt gtk gnome kde
    linux ubuntu debian fedora rhel centos mint android ios ipados macos windows firefox chrome chromium safari
    edge thunderbird libreoffice nvda jaws orca django rails flask react angular vue electron unicode tls http
    bluetooth usb wifi opengl vulkan directx""".split()
)
"""Words that, capitalised ("Table 2.10", "Python 3.11"), make such a number a version or a section."""
_NOT_A_VERSION_AFTER = frozenset(
    """a an per percent million billion trillion thousand hundred times inch inches foot feet meter meters metre metres
    mile miles km cm mm kg pound pounds ounce ounces gram grams liter liters litre litres dollar dollars euro euros
    cent cents second seconds minute minutes hour hours day days page pages point points""".split()
)
"""Words after which a number is a measure, not a version: "a table 1.50 meters wide"."""
_POINT = LazyPattern(r"\.(?<![\w.,]\.)(?P<digits>[0-9]+)")

COUNTED_BY_ROMAN = frozenset(
    "chapter part volume book act scene section appendix article phase stage level episode season psalm canto "
    "class type grade tier round war bowl title step series mark plan".split()
)
"""Words (capitalised) after which a Roman numeral is a cardinal: "Chapter IV" -> "Chapter four"."""
REGNAL_NAMES = frozenset(
    """Alexander Alfonso Amenhotep Anne Antiochus Benedict Boniface Carlos Catherine Charles Christian Clement
    Constantine Cyrus Darius David Edmund Edward Elizabeth Ferdinand Francis Franz Frederick Friedrich George
    Gregory Gustav Harald Harold Henry Innocent Ivan James John Juan Leo Leopold Louis Ludwig Malcolm Mary
    Mehmed Napoleon Nicholas Olaf Otto Paul Pedro Peter Philip Pius Ptolemy Ramesses Richard Robert Rudolf
    Selim Sixtus Stephen Suleiman Thutmose Urban Victor Wilhelm William Xerxes""".split()
)
"""Names that take Roman numerals as ordinals: "Henry VIII" -> "Henry the eighth"."""
YEAR_CUES = frozenset(
    "in since from by until till during before after of circa around year years summer winter spring autumn fall "
    "early late mid c ca between and to".split()
)
"""Words after which a four-digit number from 1000 on is a year."""
_NOT_PLURAL = frozenset(
    "was is has his this its as us does thus plus less unless always perhaps whereas yes across towards "
    "afterwards besides".split()
)
_IRREGULAR_PLURALS = frozenset("people men women children feet teeth mice geese sheep fish deer staff".split())
_WORD_AFTER = LazyPattern(r" ([a-z]+)\b")
_LAST_WORD = LazyPattern(r"[A-Za-z]+(?= $)")
"""The word before a Roman numeral, without digits glued to its front ("0Henry V")."""


def _aircraft(match: re.Match[str]) -> str:
    """A model number as people say it: the first digit, then the rest as one number ("seven
    oh seven" when the rest is a single digit)."""
    model = match.group("airbus") or match.group()[:3]
    head, tail = DIGIT_NAMES[int(model[0])], int(model[1:])
    rest = "hundred" if not tail else cardinal(tail) if tail >= 10 else f"oh {DIGIT_NAMES[tail]}"
    spoken = f"A-{head} {rest}" if match.group("airbus") else f"{head} {rest}"
    return f"{spoken} {match.group('suffix')}" if match.group("suffix") else spoken


def phone_words(text: str) -> str:
    """Digit by digit, groups separated by a pause: "(555) 123-4567" -> "five five five, one two three, ..."."""
    groups = [digits(group) for group in DIGIT_RUN.findall(text)]
    return ("plus " if text.lstrip().startswith("+") else "") + ", ".join(groups)


def roman_value(numeral: str) -> int:
    total = 0
    for index, letter in enumerate(numeral):
        value = _ROMAN_VALUES[letter]
        following = _ROMAN_VALUES[numeral[index + 1]] if index + 1 < len(numeral) else 0
        total += -value if value < following else value
    return total


def fraction_words(numerator: int, denominator: int, mixed: bool = False) -> str | None:
    """"three quarters", "one half"; after a whole number "a half"; None if not a usual fraction."""
    if denominator not in _DENOMINATORS:
        return None
    if denominator == 2:
        name = "half" if numerator == 1 else "halves"
    elif denominator == 4:
        name = "quarter" if numerator == 1 else "quarters"
    else:
        name = ordinal(denominator) if numerator == 1 else plural_words(ordinal(denominator))
    count = "a" if mixed and numerator == 1 else cardinal(numerator)
    return f"{count} {name}"


def _is_year(text: str, match: re.Match[str], value: int) -> bool:
    """A four-digit number reads as a year from 1500 to 2099, or from 1000 after a cue word,
    unless a plural noun follows ("1500 people", "2000 cases")."""
    if not 1000 <= value <= 2099:
        return False
    if value < 1500 and word_before(text, match.start()) not in YEAR_CUES:
        return False
    after = _WORD_AFTER.match(text, match.end())
    if after:
        word = after.group(1)
        if _plural(word):
            return False
    return True


@padded
def _phone(match: re.Match[str]) -> str:
    return phone_words(match.group())


@padded
def _digit_string(match: re.Match[str]) -> str:
    """A card's four groups, unless they are four years ("1999 2000 2001 2002") that fail the
    Luhn check every real card number passes."""
    groups = DIGIT_RUN.findall(match.group())
    if len(groups) == 4 and all(1000 <= int(group) <= 2099 for group in groups) and not luhn_valid("".join(groups)):
        return ", ".join(groups)  # read as years later, with a pause between them
    return phone_words(match.group())


def luhn_valid(number: str) -> bool:
    """The check digit of payment card numbers (ISO/IEC 7812)."""
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


@padded
def _local_phone(match: re.Match[str]) -> str:
    start = match.start()
    if start and match.string[start - 1].isalpha():
        return match.group()
    return match.group()[:match.start("local") - start] + phone_words(match.group("local")) + " "


def _code_after(match: re.Match[str]) -> str:
    start = match.start()
    if start and match.string[start - 1].isalpha():  # "Discard 5": part of a longer word
        return match.group()
    code = match.group("code")
    if match.group("noun") and not (match.group("marker") or match.group("hash")):
        groups = re.split(r"[ -]", code)
        if len(groups) < 3 and not (len(groups) == 1 and len(code) >= 5):
            return match.group()  # "order 12 copies", "order 10-12 pieces": quantities
    prefix = match.group()[: match.start("code") - start].replace("#", " number ")
    check = " X" if code.endswith("X") else ""  # an ISBN's or ISSN's check digit ten
    return prefix + phone_words(code) + check + " "


def _numbered(match: re.Match[str]) -> str:
    """"No. 2019-05", "#12-345": one thing's identifier, digit by digit. Two groups counting up
    ("#1-5", "No. 1-10") are a span, unless a two-digit group is followed by a longer one
    ("12-345"); so is any two-group number after a plural ("issues #1-20") or after "a number"
    ("pick a number 1-10")."""
    prefix, groups = match.group("prefix"), match.group("code").split("-")
    marker = "number" if match.group()[0] == "#" else match.group()[:6]  # "Number" keeps its capital
    if prefix:
        code = match.group("code")
        spoken = integer_words(code) if len(code) <= 2 else phone_words(code)  # "B-12", "A-2291"
        return f"{marker} {_letter_prefix(prefix)}{spoken} "
    before = word_before(match.string, match.start())
    if len(groups) == 1 or before in _COUNTING_WORDS:
        return match.group()
    identifier = len(groups) > 2 or any(group[0] == "0" for group in groups)
    if not identifier and not _plural(before):
        first, second = groups
        identifier = int(second) <= int(first) or 2 <= len(first) < len(second)
    if not identifier:
        return match.group()
    return f"{marker} {phone_words(match.group('code'))} "


def _letter_prefix(written: str) -> str:
    """The letters before a number in a name, ready to go in front of its words: "AB-" is
    "A.B ", and a lone "A-" stays "A-", joined to the number: espeak-ng reads "A" alone as
    the article, but the letter's name in "A-two" ("A-10", "#A-2291")."""
    written = written.rstrip("-").upper()
    return "A-" if written == "A" else letters(written) + " "


def _plural(word: str) -> bool:
    return (word.endswith("s") and word not in _NOT_PLURAL) or word in _IRREGULAR_PLURALS


@padded
def _ordinal(match: re.Match[str]) -> str:
    plain = match.group("n").replace(",", "")
    return ordinal(int(plain))


def _power_words(exponent: str) -> str:
    if exponent == "2":
        return "squared"
    if exponent == "3":
        return "cubed"
    return f"to the power of {number_words(exponent)}"


@padded
def _superscript(match: re.Match[str]) -> str:
    exponent = match.group().translate(_SUPERSCRIPTS)
    return _power_words(exponent) if exponent != "-" else match.group()


@padded
def _caret(match: re.Match[str]) -> str:
    return _power_words(match.group("exponent"))


@padded
def _unicode_fraction(match: re.Match[str]) -> str:
    numerator, denominator = _VULGAR[match.group("vulgar")]
    whole = match.group("whole")
    spoken = fraction_words(numerator, denominator, mixed=whole is not None) or match.group("vulgar")
    return f"{integer_words(whole)} and {spoken}" if whole else spoken


@padded
def _fraction(match: re.Match[str]) -> str:
    whole, numerator, denominator = None, match.group("first"), match.group("den")
    if match.group("num") is not None:
        whole, numerator = numerator, match.group("num")
    if whole is None and f"{numerator}/{denominator}" in FRACTION_IDIOMS:
        return f"{integer_words(numerator)} {integer_words(denominator)}"
    if whole is None and _is_score(match, int(numerator), int(denominator)):
        return f"{integer_words(numerator)} out of {integer_words(denominator)}"
    spoken = None
    if numerator[0] != "0" and len(numerator) <= 6 and len(denominator) <= 4:
        spoken = fraction_words(int(numerator), int(denominator), mixed=whole is not None)
    if spoken is None:
        spoken = f"{integer_words(numerator)} slash {integer_words(denominator)}"
        return f"{integer_words(whole)} {spoken}" if whole else spoken
    return f"{integer_words(whole)} and {spoken}" if whole else spoken


def _is_score(match: re.Match[str], numerator: int, denominator: int) -> bool:
    """"10/10", "4/5.", "85/100!": a score, "ten out of ten", not "ten tenths". A whole out of a
    whole is always a score; otherwise a 5, 10 or 100 that ends the phrase ("rated 8/10.")
    is, and one followed by a word is a fraction ("3/10 of a second")."""
    if denominator not in _SCORE_DENOMINATORS or not 1 <= numerator <= denominator:
        return False
    if word_before(match.string, match.start()) in _DATE_CUES:
        return False  # "we meet on 5/10": a month and a day, unless the dates rule took it
    before = match.string[:match.start()].rstrip()
    if before[-1:] in _OPERATORS:
        operand = before[:-1].rstrip()
        last, previous = operand[-1:], operand[-2:-1]
        # "x = 3/5.", "2 + 3/4", "(a) > 1/2": arithmetic, "three fifths"; "Score = 7/10" and
        # "review - 8/10" are ratings
        if last.isdigit() or last == ")" or (last.isalpha() and not previous.isalpha()):
            return False
    following = match.string[match.end():].lstrip()
    return numerator == denominator or (numerator > 1 and following[:1] in _PHRASE_ENDS)


@padded
def _percent(match: re.Match[str]) -> str:
    upper = match.group("upper")
    if upper is None:
        return f"{number_words(match.group('n'))} percent"
    return f"{number_words(match.group('n'))} to {number_words(upper)} percent"


def _range_end(text: str, match: re.Match[str], written: str, partner: str) -> str:
    if len(written) == 4 and written.isdigit() and _is_year(text, match, int(written)):
        return year(int(written))
    if len(written) == 2 and len(partner) == 4 and partner.isdigit() and 1000 <= int(partner) <= 2099:
        return f"oh {DIGIT_NAMES[int(written)]}" if written[0] == "0" else cardinal(int(written))  # "2000-01"
    return number_words(written)


_DASHED_IDIOMS = frozenset({"24-7", "10-4"})
"""Hyphenated numbers said as two numbers: "open twenty-four seven", "ten four" (understood)."""


@padded
def _range(match: re.Match[str]) -> str:
    a, b = match.group("a"), match.group("b")
    if match.group() in _DASHED_IDIOMS:
        return f"{cardinal(int(a))} {cardinal(int(b))}"
    text = match.string
    joint = "and" if word_before(text, match.start()) == "between" else "to"  # "between 5 and 10"
    return f"{_range_end(text, match, a, b)} {joint} {_range_end(text, match, b, a)}"


@padded
def _decade(match: re.Match[str]) -> str:
    """"1990s" -> "nineteen nineties", "100s" -> "hundreds"."""
    written = match.group("n")
    value = int(written)
    if len(written) == 4 and 1000 <= value <= 2090:
        return plural_words(year(value))
    words = integer_words(written)
    if _POWER_OF_TEN.fullmatch(written):
        words = words.removeprefix("one ")
    return plural_words(words)


@padded
def _short_year(match: re.Match[str]) -> str:
    """"'05" -> "oh five", "'99" -> "ninety-nine"."""
    written = match.group("n")
    return f"oh {DIGIT_NAMES[int(written)]}" if written[0] == "0" else cardinal(int(written))


def _scaled(match: re.Match[str]) -> str:
    """"10k followers" -> "ten thousand followers", "2.5M" -> "two point five million". A
    capital K is a screen or a purity ("4K video", "24K gold") unless a plural count follows
    ("10K views"); neither is "a 10k run". A letter B is left alone ("221B Baker Street")."""
    scale, following = match.group("scale"), match.group("next") or ""
    word = following.strip()
    if word.lower() in _NOT_COUNTED_AFTER_K or (scale == "K" and not (word.endswith("s") and word.islower())):
        return match.group()
    return f" {number_words(match.group('n'))} {_SCALE_WORDS[scale]}{following}"


@padded
def _short_decade(match: re.Match[str]) -> str:
    """"'80s" -> "eighties", "'00s" -> "two thousands"."""
    written = match.group("n")
    return "two thousands" if written == "00" else plural_words(cardinal(int(written)))


@padded
def _era_after(match: re.Match[str]) -> str:
    return f"{year(int(match.group('y')))} {match.group('era')}"


@padded
def _era_before(match: re.Match[str]) -> str:
    return f"A.D {year(int(match.group('y')))}"


def _roman(match: re.Match[str]) -> str:
    """A Roman numeral after a capitalised counting word is a cardinal ("Chapter IV"), after a
    ruler's name an ordinal ("Henry VIII"). Lone C, D, L and M are more often letters ("Type C")."""
    numeral = match.group()
    if not _ROMAN.fullmatch(numeral) or (len(numeral) == 1 and numeral not in "IVX"):
        return numeral
    before = _LAST_WORD.search(match.string, max(0, match.start() - 30), match.start())
    word = before.group() if before else ""
    if word[:1].isupper() and word.lower() in COUNTED_BY_ROMAN:
        return cardinal(roman_value(numeral))
    if word == "Malcolm" and numeral == "X":
        return numeral  # the name, not a king: "Malcolm X"
    if word in REGNAL_NAMES:
        following = match.string[match.end():match.end() + 2]
        if numeral == "I" and following[:1] == " " and following[1:].islower():
            return numeral  # "John I think": the pronoun
        return "the " + ordinal(roman_value(numeral))
    if (
        len(numeral) > 1
        and numeral not in _NOT_SEQUELS
        and word[:1].isupper()
        and not word.isupper()
        and word.lower() not in _FUNCTION_WORDS
        and _SEQUEL_LETTERS.issuperset(numeral)
    ):
        return cardinal(roman_value(numeral))  # a sequel or a mission: "Rocky II", "Apollo XI"
    return numeral


@padded
def _minutes_seconds(match: re.Match[str]) -> str:
    """"41:23" -> "forty-one twenty-three", "41:05" -> "forty-one oh five"."""
    minutes, seconds = int(match.group("m")), match.group("s")
    if minutes < 24:
        return match.group()
    if seconds == "00":
        return f"{cardinal(minutes)} minutes"
    tail = f"oh {DIGIT_NAMES[int(seconds)]}" if seconds[0] == "0" else cardinal(int(seconds))
    return f"{cardinal(minutes)} {tail}"


@padded
def _resolution(match: re.Match[str]) -> str:
    return f"{year(int(match.group('n')))} p"


@padded
def _times(match: re.Match[str]) -> str:
    return f"{number_words(match.group('n'))} times"


@padded
def _by(match: re.Match[str]) -> str:
    return "by" if match.group()[0] == "x" else "times"


@padded
def _dotted(match: re.Match[str]) -> str:
    return " " + " point ".join(integer_words(part) for part in match.group().split(".")) + " "


def _sign(match: re.Match[str]) -> str:
    return "minus " if match.group() == "-" else "plus "


@padded
def _version(match: re.Match[str]) -> str:
    """Each part read whole after a version word or a capitalised name, unless a measure follows
    ("a table 1.50 meters wide", "Java 1.25 a cup")."""
    text, start = match.string, match.start()
    written = text[:start].split()[-1].strip(".,;:(")
    word = written.lower()
    if not (word in _VERSION_WORDS or (word in _VERSION_NAMES and written[:1].isupper())):
        return match.group()
    after = _WORD_AFTER.match(text, match.end())
    if after is not None and after.group(1) in _NOT_A_VERSION_AFTER:
        return match.group()
    return _dotted(match)


@padded
def _plain(match: re.Match[str]) -> str:
    whole, fraction = match.group("whole"), match.group("frac")
    if fraction is None and len(whole) == 4 and whole[0] != "0" and _is_year(match.string, match, int(whole)):
        return year(int(whole))
    return number_words(whole + ("." + fraction if fraction else ""))


@padded
def _point(match: re.Match[str]) -> str:
    return f"point {digits(match.group('digits'))}"


@padded
def _leftover(match: re.Match[str]) -> str:
    return integer_words(match.group())


class Numbers(EnglishStep):
    """Telephone numbers, ordinals, fractions, percentages, ranges, years, Roman numerals, plain numbers."""

    name = "numbers"
    order = 700

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        text = _ROMAN_CANDIDATE.sub(_roman, text)
        if not text.isascii():
            if any(fraction in text for fraction in _VULGAR):
                text = _UNICODE_FRACTION.sub(_unicode_fraction, text)
            text = _SUPERSCRIPT.sub(_superscript, text)
        return rewrite_near(text, DIGIT_RUN, _rewrite_region)


def _rewrite_region(text: str) -> str:
    """All digit rules, most specific first, on a few words around some digits."""
    text = _PHONE.sub(_phone, text)
    text = _LOCAL_PHONE.sub(_local_phone, text)
    if "7" in text or "A" in text:
        text = _AIRCRAFT.sub(_aircraft, text)
    if "A" in text:
        text = _LONE_A_BY_DIGITS.sub("A-", text)
    text = _DIGIT_STRING_SHAPE.sub(_digit_string, text)
    text = _DIGIT_STRING_AFTER.sub(_code_after, text)
    if "-" in text:
        text = _NUMBERED.sub(_numbered, text)
    if "#" in text:
        text = _NUMBER_SIGN.sub("number ", text)
    text = _ORDINAL.sub(_ordinal, text)
    if "^" in text:
        text = _CARET.sub(_caret, text)
    if "/" in text:
        text = _DIVIDED.sub("divided by", text)
        text = _FRACTION.sub(_fraction, text)
    if "%" in text or "percent" in text:
        text = _PERCENT.sub(_percent, text)
    if "-" in text:
        text = _DECADE_SPAN.sub(" to ", text)
        text = _RANGE.sub(_range, text)
        text = _VARIABLE_MINUS.sub(" minus ", text)
        text = _LETTER_DASH_DIGIT.sub(" ", text)
    if "s" in text:
        text = _DECADE.sub(_decade, text)
        if "'" in text:
            text = _SHORT_DECADE.sub(_short_decade, text)
    if "'" in text:
        text = _SHORT_YEAR.sub(_short_year, text)
    text = _SCALED.sub(_scaled, text)
    if "." in text:
        text = _ERA_AFTER.sub(_era_after, text)
        text = _ERA_BEFORE.sub(_era_before, text)
        text = _DOTTED.sub(_dotted, text)
    if "p" in text:
        text = _RESOLUTION.sub(_resolution, text)
    if "x" in text or "*" in text or "×" in text:
        text = _TIMES.sub(_times, text)
        text = _BY.sub(_by, text)
    if ":" in text:
        text = _MINUTES_SECONDS.sub(_minutes_seconds, text)
        text = _RATIO.sub(" to ", text)
    if "~" in text:
        text = _ABOUT.sub("about ", text)
    if "-" in text or "+" in text:
        text = _MINUS_BETWEEN.sub("minus", text)
        text = _SIGN.sub(_sign, text)
    if "." in text:
        text = _VERSION.sub(_version, text)
    text = _PLAIN.sub(_plain, text)
    if "." in text:
        text = _POINT.sub(_point, text)
    return DIGIT_RUN.sub(_leftover, text)


@hookimpl
def litettsd_register_normalizers() -> list[Numbers]:
    return [Numbers()]
