"""The shared vocabulary of the English normalizer: number words, spelled letters, tidying.

Every normalizer module speaks numbers, letters and sentence punctuation the same way,
so those rules live here once: one canonical style (American, no "and" inside numbers,
no commas inside number words), one letter form, one cache. Number words are our own: the
rules are short, and num2words, which the normalizer used before, imported every language it
has (5.2 MB of resident memory added to a bare interpreter) and wrote British words that had to be undone.
Its output, made American, is still the reference they are tested against.

Spelled letters are written as capitals joined by dots without a final dot (``U.R.L``):
espeak-ng then says each letter's name, even "A", which it reads as the article "a" in
``A P I`` or ``C-A-T``; and with no final dot the chunker never sees a sentence end.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from litettsd.api import NormalizeContext
from litettsd.patterns import LazyPattern

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

MAX_GROUPED_DIGITS = 36
"""Longest integer read as a quantity (up to the undecillions); longer ones are read digit by digit."""
MAX_PLAIN_DIGITS = 9
"""Longest integer without thousands separators read as a quantity; longer ones are serials."""

NUMBER = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+"
"""A written number: digits with optional thousands commas and decimals (no sign)."""


def number_at(not_after: str = r"\w.,", signed: bool = False) -> str:
    """``NUMBER`` (optionally with a minus sign) not glued to a preceding ``not_after`` character.

    Written to begin with a character class and to look behind only after the first
    character: a pattern that begins with a look-behind, an optional part or a choice of
    groups makes the regex engine try a match at every position of the text instead of
    skipping to the candidates, which is several times slower on this hot path.
    """
    first = "-.0-9" if signed else ".0-9"
    rest = r"(?<=[0-9])(?:[0-9]{0,2}(?:,[0-9]{3})+|[0-9]*)(?:\.[0-9]+)?|(?<=\.)[0-9]+"
    if signed:
        rest += rf"|(?<=-)(?:{NUMBER})"
    return rf"(?:[{first}](?<![{not_after}][{first}])(?:{rest}))"


WORD_LETTER = "[^\\W0-9_⁰¹²³⁴⁵⁶⁷⁸⁹½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅐⅛⅜⅝⅞⅑⅒]"
"""A character that continues a word. Digits, underscores and the number signs the number
rules read are split off by later steps, so a pattern that must be recognised the same way
on the normalizer's own output may only be blocked by this (``(?!{WORD_LETTER})``)."""
SILENT_PERIOD = "\ue002"
"""A sentence end the text did not write (a paragraph or list item closed by ``entities``)
when every period is read aloud (punctuation "all"): the punctuation step makes it a period
after naming the written ones, so it pauses without being read as "dot". Private use, like
the IPA markers, so no other step takes it for anything."""
HAS_DIGIT = LazyPattern(r"[0-9]")
DIGIT_RUN = LazyPattern(r"[0-9]+")

_ENTITY_ROUNDS = 3
"""Doubly (and triply) escaped entities such as ``&amp;#x27;`` are common in scraped text."""


_SMALL = (
    *DIGIT_NAMES, "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = (
    "", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion",
    "sextillion", "septillion", "octillion", "nonillion", "decillion", "undecillion",
)
"""Short scale, as American English counts: enough for ``MAX_GROUPED_DIGITS``."""
_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{_SMALL[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        words.append(_TENS[rest // 10] + (f"-{_SMALL[rest % 10]}" if rest % 10 else ""))
    elif rest:
        words.append(_SMALL[rest])
    return " ".join(words)


def _cardinal_words(n: int) -> str:
    """Number words in the house style, for any integer below 10**39."""
    if n < 0:
        return "minus " + _cardinal_words(-n)
    if n == 0:
        return "zero"
    groups = []
    for scale in _SCALES:
        n, group = divmod(n, 1000)
        if group:
            groups.append(f"{_below_thousand(group)} {scale}".rstrip())
        if not n:
            break
    return " ".join(reversed(groups))


@lru_cache(maxsize=8192)
def cardinal(n: int) -> str:
    """``-1234`` -> "minus one thousand two hundred thirty-four"."""
    if len(str(abs(n))) > MAX_GROUPED_DIGITS:
        return ("minus " if n < 0 else "") + digits(str(abs(n)))
    return _cardinal_words(n)


@lru_cache(maxsize=4096)
def ordinal(n: int) -> str:
    """``22`` -> "twenty-second"."""
    if len(str(n)) > MAX_GROUPED_DIGITS:
        return digits(str(n))
    words = cardinal(n)
    head, _, last = words.rpartition(" ")
    stem, hyphen, unit = last.rpartition("-")
    unit = _IRREGULAR_ORDINALS.get(unit) or (unit[:-1] + "ieth" if unit.endswith("y") else unit + "th")
    return f"{head} {stem}{hyphen}{unit}".lstrip()


@lru_cache(maxsize=4096)
def year(n: int) -> str:
    """``1999`` -> "nineteen ninety-nine", ``2005`` -> "two thousand five", ``1905`` -> "nineteen oh-five".

    Read in pairs, except where pairs sound wrong: below 100 (``0042``), the first nine
    years of a round thousand or decade of centuries (``2005``, ``1000``) and from 10000;
    a year before zero is said with "BC".
    """
    if n < 0:
        return f"{year(-n)} BC"
    high, low = divmod(n, 100)
    if high == 0 or (high % 10 == 0 and low < 10) or high >= 100:
        return cardinal(n)
    if low == 0:
        return f"{cardinal(high)} hundred"
    return f"{cardinal(high)} {'oh-' if low < 10 else ''}{cardinal(low)}"


def plural_words(words: str) -> str:
    """Pluralise the last number word: "nineteen ninety" -> "nineteen nineties"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def digits(text: str) -> str:
    """Digit by digit: ``"007"`` -> "zero zero seven"; anything else in ``text`` is ignored."""
    return " ".join(DIGIT_NAMES[ord(ch) - 48] for ch in text if "0" <= ch <= "9")


def integer_words(text: str) -> str:
    """An unsigned integer as written (may hold thousands commas); serials digit by digit."""
    plain = text.replace(",", "")
    grouped = len(plain) != len(text)
    if (len(plain) > 1 and plain[0] == "0") or len(plain) > (MAX_GROUPED_DIGITS if grouped else MAX_PLAIN_DIGITS):
        return digits(plain)
    return cardinal(int(plain))


def number_words(text: str) -> str:
    """A written number (optional sign, thousands commas, decimals) in words."""
    sign = ""
    if text[:1] in ("-", "+"):
        sign = "minus " if text[0] == "-" else "plus "
        text = text[1:]
    whole, _, fraction = text.partition(".")
    words = integer_words(whole) if whole else ""
    if fraction:
        words = f"{words} point {digits(fraction)}".lstrip()
    return sign + words


def is_one(text: str) -> bool:
    """Whether a written number takes a singular noun ("1 km" but "1.0 km", "0.5 km")."""
    return text.lstrip("+-") == "1"


def letters(text: str) -> str:
    """Spell a token: letter runs as dotted capitals, digits by name: ``mp3`` -> "M.P three", ``U.S.`` -> "U.S"."""
    parts: list[str] = []
    for run in _LETTER_OR_DIGIT_RUNS.findall(_NOT_ALPHANUMERIC.sub("", text)):
        parts.append(digits(run) if run[0].isdigit() else ".".join(run.upper()))
    return " ".join(parts)


_LETTER_OR_DIGIT_RUNS = LazyPattern(r"[A-Za-z]+|[0-9]+")
_NOT_ALPHANUMERIC = LazyPattern(r"[^A-Za-z0-9]+")


def unicode_name_words(ch: str) -> str:
    """The Unicode name of a character in lower case words, minus any code-point numbers."""
    name = unicodedata.name(ch, "")
    return " ".join(word for word in name.lower().replace("-", " ").split() if not HAS_DIGIT.search(word))


def decode_entities(text: str) -> str:
    """HTML entities, including doubly escaped ones, as the characters they stand for."""
    if "&" not in text:
        return text
    import html  # here: its table of 2,000 entities would cost every start ~1 ms

    for _ in range(_ENTITY_ROUNDS):
        decoded = html.unescape(text)
        if decoded == text or "&" not in decoded:
            return decoded
        text = decoded
    return text


FRACTION_IDIOMS = frozenset({"24/7", "50/50", "9/11", "20/20", "4/20"})
"""Slashed numbers said as two numbers ("twenty-four seven"), never as fractions or dates."""
SENTENCE_STARTERS = frozenset(
    """A After Also Although An And As At Because Before But By Each Even Every Finally First For From He Her Here
    His How However I If In It Its Later Let Many Meanwhile Most My Next No Now On One Our Please She Since So Some
    Still That The Their Then There These They This Those Though To Today Tomorrow We What When Where Which While
    Who Why With Yes Yesterday Yet You Your""".split()
)
"""Capitalised words that usually start a sentence rather than continue a name."""


def word_before(text: str, start: int) -> str:
    """The word before ``start``, lower-cased, without punctuation around it ("in (" -> "in")."""
    words = text[max(0, start - 30):start].replace("(", " ").split()
    return words[-1].strip(".,;:").lower() if words else ""


def sentence_ends_after(text: str, position: int) -> bool:
    """Whether an abbreviation's period ending at ``position`` also ends the sentence.

    True at the end of the text or before a word that usually starts a sentence ("etc.
    The"); false before other capitalised words, which are more often names ("U.S. Army",
    "Dr. Smith"), because a false sentence end splits a phrase where a missed one only
    loses a pause.
    """
    found = _FOLLOWING_WORD.match(text, position)
    return found is not None and (found.group(1) is None or found.group(1) in SENTENCE_STARTERS)


def period_ends_sentence(text: str, position: int) -> bool:
    """Whether the period ending at ``position`` of an abbreviation that no name follows (a
    month's, a weekday's, "etc.") ends the sentence: at the end of the text or before a capital."""
    return _CAPITAL_OR_END.match(text, position) is not None


def sentence_ends_after_time(text: str, position: int) -> bool:
    """Whether "p.m." ending at ``position`` also ends the sentence: as after any abbreviation,
    and also before a title ("at 5 p.m. Mr. Smith will"), which does not continue a time the
    way a place, a day or a name may ("10 a.m. Sydney time", "9 p.m. Fridays", "6 p.m. Bob")."""
    if sentence_ends_after(text, position):
        return True
    following = _FOLLOWING_WORD.match(text, position)
    return following is not None and following.group(1) in _TITLES


_TITLES = frozenset("Mr Mrs Ms Mx Dr Prof Mister Missus Miz Doctor Professor".split())


def starts_name(word: str) -> bool:
    """Whether a following word looks like a name (capitalised, not a usual sentence start)."""
    word = word.lstrip("\"'([")
    return word[:1].isupper() and word.rstrip(".,;:!?\"')]") not in SENTENCE_STARTERS


_CAPITAL_OR_END = LazyPattern(r"[\"')\]]*(?:\s*$|\s+[\"'(\[]*[A-Z])")
_FOLLOWING_WORD = LazyPattern(r"[\"')\]]*(?:\s*$|\s+[\"'(\[]*([A-Z][A-Za-z]*))")

# Dashes used as punctuation (em dash, "--", a hyphen between spaces) become a comma; an en
# dash between numbers is a range. Patterns start with a literal (hot path).
_DASH = LazyPattern(
    r"\u2013[\u2013\u2014\u2015]*|\u2014[\u2013\u2014\u2015]*|\u2015[\u2013\u2014\u2015]*"
    r"|-(?<![<-]-)-+(?![>-])|-(?<=[^\s0-9] -)(?= [^\s0-9])"
)


def _beside(text: str, index: int, step: int) -> str:
    """The character next to a dash, looking past one space."""
    if 0 <= index < len(text) and text[index] == " ":
        index += step
    return text[index] if 0 <= index < len(text) else ""


def _dash(match: re.Match[str]) -> str:
    text = match.string
    if match.group() == "\u2013" and _beside(text, match.start() - 1, -1).isdigit():
        following = _beside(text, match.end(), 1)
        if following.isdigit() or following == "$":
            return "-"
    return ", "


def dashes_as_commas(text: str, keep_dashes: bool = False) -> str:
    """Dashes that separate phrases become commas (a pause); hyphens inside words stay.

    Hyphens between numbers are left to the number rules (ranges, minus); once those have
    run, the last step applies this again so that every remaining one is treated alike.
    With ``keep_dashes`` (punctuation levels that name dashes) only an en dash between
    numbers changes, to a hyphen, so that "10\u201312" is still a range.
    """
    return _DASH.sub(_dash_kept if keep_dashes else _dash, text)


def _dash_kept(match: re.Match[str]) -> str:
    return "-" if _dash(match) == "-" else match.group()


# Tidying: one space between words, none before punctuation, one mark per boundary. Every
# pattern starts with a literal or a character class so that the regex engine can skip
# ahead instead of trying a match at every position (this runs on the hot path).
_SPACE_BEFORE_MARK = LazyPattern(r" (?=[,;:.!?](?:[ ,;:.!?]|$))")
_MARK_RUN = LazyPattern(r"[,;:.!?](?: ?[,;:.!?])+")
_ABBREVIATION_THEN_MARK = frozenset({".,", ".;", ".:"})
"""Kept as written: "e.g., apples" keeps its comma once the abbreviation is expanded."""
_LEADING_MARKS = LazyPattern(r"(?:[ ,;:!?]|\.(?![0-9])|-(?= |$))+")


def _strongest(match: re.Match[str]) -> str:
    run = match.group()
    if run in _ABBREVIATION_THEN_MARK:
        return run
    for mark in "?!":
        if mark in run:
            return mark
    if run.count(".") >= 3:
        return "..."
    for mark in ".;:":
        if mark in run:
            return mark
    return ","


def _hug_quotes(text: str) -> str:
    """``" hello "`` -> ``"hello"``: double quotes pair up, so inside and outside are known."""
    parts = text.split('"')
    for index in range(1, len(parts), 2):
        parts[index] = parts[index].strip(" ")
    return '"'.join(parts)


def tidy(text: str, mark_runs: bool = True) -> str:
    """Collapse whitespace and (unless ``mark_runs`` is false) runs of sentence marks; drop
    marks that start the text. At punctuation level ``all`` every mark of "?!" is named, so
    the run must survive until then."""
    text = " ".join(text.split())
    text = _SPACE_BEFORE_MARK.sub("", text)
    if mark_runs:
        text = _MARK_RUN.sub(_strongest, text)
    for opening, closing in ("()", "[]", "{}"):
        if opening in text:
            text = text.replace(opening + " ", opening)
        if closing in text:
            text = text.replace(" " + closing, closing)
    if '"' in text:
        text = _hug_quotes(text)
    leading = _LEADING_MARKS.match(text)
    if leading:
        text = text[leading.end():]
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def _region_start(text: str, position: int, words: int) -> int:
    """Start of the word ``words`` words before the one holding ``position`` (words split on spaces)."""
    for _ in range(words + 1):
        space = text.rfind(" ", 0, position)
        if space < 0:
            return 0
        position = space
    return position + 1


def _region_end(text: str, position: int, words: int) -> int:
    """End of the word ``words`` words after the one holding ``position - 1``."""
    for _ in range(words + 1):
        space = text.find(" ", position)
        if space < 0:
            return len(text)
        position = space + 1
    return position - 1


def rewrite_near(text: str, finder: LazyPattern, rewrite: Callable[[str], str], words: int = 2) -> str:
    """Apply ``rewrite`` only around what ``finder`` finds, with ``words`` words of context each side.

    Numbers, money and units are rare in running text; scanning only the few words around
    them keeps the many rules that need them off the bulk of the text.
    """
    text = " ".join(text.split())
    regions: list[list[int]] = []
    for found in finder.finditer(text):
        if regions and found.start() < regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], _region_end(text, found.end(), words))
            continue
        start, end = _region_start(text, found.start(), words), _region_end(text, found.end(), words)
        if regions and start <= regions[-1][1]:
            regions[-1][1] = end
        else:
            regions.append([start, end])
    if not regions:
        return text
    pieces: list[str] = []
    done = 0
    for start, end in regions:
        pieces.append(text[done:start])
        pieces.append(rewrite(text[start:end]))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _joins(text: str, index: int, step: int) -> bool:
    """Whether the character at ``index`` would glue new words to its neighbour: a letter or
    digit, a symbol that will be read as words too (emoji), a period joining a letter ("0.c"
    must not become the file name "zero.c"), or any period before the words ('".°' must not
    become '".degrees', which a second pass reads as the name ".degrees")."""
    if not 0 <= index < len(text):
        return False
    character = text[index]
    if character.isalnum() or (not character.isascii() and unicodedata.category(character)[0] == "S"):
        return True
    neighbour = index + step
    return character == "." and (step < 0 or (0 <= neighbour < len(text) and text[neighbour].isalpha()))


def padded(speak: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
    """Wrap a ``re.sub`` callback so its words are spaced from letters and digits around the
    match but not from punctuation: "H2O" -> "H two O", "(5)" -> "(five)", "0-0" -> "zero-zero".
    A callback returning the match unchanged leaves it unchanged."""

    def replace(match: re.Match[str]) -> str:
        words = speak(match)
        if words == match.group():
            return words
        words = words.strip(" ")
        if not words:
            return " "
        text, (start, end) = match.string, match.span()
        before = " " if _joins(text, start - 1, -1) else ""
        after = " " if _joins(text, end, 1) else ""
        return before + words + after

    return replace


def is_english(context: NormalizeContext) -> bool:
    return context.language.lower().startswith("en")


def names_dashes(context: NormalizeContext) -> bool:
    """At punctuation ``most`` and ``all`` a screen reader names dashes; below, they are pauses."""
    return context.punctuation in ("most", "all")


class EnglishStep:
    """Base of the English normalizers: they stand aside for other languages and in spell mode.

    In spell mode the screen-reader speller has already turned the text into character
    names, which no later rule should touch.
    """

    name: str
    order: int

    def normalize(self, text: str, context: NormalizeContext) -> str:
        if context.spell or not is_english(context) or not text:
            return text
        return self.rewrite(text, context)

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        raise NotImplementedError
