"""Abbreviations and acronyms: the period problem and the letters-or-word problem.

An abbreviation's period followed by a capital ("Dr. Smith") looks like a sentence end to
the chunker, which would cut the sentence there and pause; so abbreviations are expanded
and their period dropped, unless it also ends the sentence ("... and Sons Inc. They").
Some depend on context: "St." is "Saint" before a name but "Street" after one, "Dr." is
"Doctor" before a name but "Drive" after one, "No." is "number" only before a number.

All-capital acronyms are either spelled (URL, CPU, API) or said as words (NASA, NATO).
espeak-ng guesses, and guesses wrong for some (it says "VIP" as one syllable); a small
curated list makes them explicit: spelled ones become dotted letters (``U.R.L``), word
ones become ordinary capitalised words (``Nasa``) that espeak-ng cannot mistake.
"""

from __future__ import annotations

import re

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl

from ._words import EnglishStep, letters, sentence_ends_after

_PHRASES = {
    "e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "a.k.a.": "also known as",
    "vs.": "versus", "vs": "versus", "approx.": "approximately", "w/o": "without", "w/": "with",
    "cf.": "compare", "viz.": "namely", "Ph.D.": "P.H.D", "Dept.": "Department",
    "Univ.": "University", "Assn.": "Association", "Govt.": "Government",
}
"""Always expanded, wherever they appear."""
_BEFORE_NAME = {
    "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Mx": "Mix", "Prof": "Professor", "Rev": "Reverend",
    "Hon": "Honorable", "Gen": "General", "Col": "Colonel", "Capt": "Captain", "Lt": "Lieutenant",
    "Sgt": "Sergeant", "Gov": "Governor", "Sen": "Senator", "Rep": "Representative", "Pres": "President",
    "Fr": "Father", "Mt": "Mount", "Ft": "Fort", "Pt": "Point",
}
"""Titles and place prefixes: expanded before a capitalised word (with or without period)."""
_AFTER_NAME = {
    "Jr": "Junior", "Sr": "Senior", "Inc": "Incorporated", "Ltd": "Limited", "Co": "Company",
    "Corp": "Corporation", "Bros": "Brothers", "Ave": "Avenue", "Rd": "Road", "Blvd": "Boulevard",
    "Ln": "Lane", "Hwy": "Highway", "Pl": "Place", "Ct": "Court", "Sq": "Square",
}
"""Suffixes: expanded with their period, which stays when it also ends the sentence."""
_BEFORE_NUMBER = {
    "No": "number", "no": "number", "Nos": "numbers", "nos": "numbers", "Vol": "Volume", "vol": "volume",
    "Ch": "Chapter", "ch": "chapter", "Chap": "Chapter", "Fig": "Figure", "fig": "figure", "Figs": "Figures",
    "Eq": "Equation", "eq": "equation", "Sec": "Section", "Sect": "Section", "sec": "section", "Art": "Article",
    "p": "page", "pp": "pages", "Pt": "Part", "Ex": "Example", "Ref": "Reference",
}
"""Expanded only with a period and before a number: "No. 5", "p. 12"."""
_BEFORE_ROMAN = frozenset({"Vol", "vol", "Ch", "ch", "Chap", "Sec", "Sect", "Art", "Pt"})
"""Those of them that also number with Roman numerals: "Vol. II"."""

LETTER_ACRONYMS = frozenset(
    """
    URL URLS URI CPU GPU TPU NPU API SDK IDE CLI HTML CSS HTTP HTTPS SSH SSL TLS DNS TCP UDP IP VPN ISP USB SSD HDD
    PDF XML SQL PHP AWS GCP IBM HP AMD FBI CIA NSA BBC CNN NBC CBS ABC CEO CTO CFO COO HR PR QA FAQ VIP UX UI AI ML
    LLM GPT NLP OS PC TV DVD CD USA UK EU UN US DC NYC LA ID IQ PS AC LED LCD OLED HDMI RGB FTP SMS MMS GPS ATM DIY
    FYI ETA EST EDT PST PDT CST CDT MST MDT UTC GMT CET BST IST JST AEST NBA NFL MLB NHL UFC UFO SUV MIT UCLA NYU
    IRS DMV DNA RNA HIV MRI ICU BMI MBA CPA GPA EV IOT NPC RPG MMO PVP NYSE IPO GDP CPI ROI KPI B2B BC AD BCE CE
    TBD TBA ASAP RSVP PTO AKA
    """.split()
)
"""Acronyms said letter by letter. ``US`` and ``IT`` are left out: in shouted text they are
words, and espeak-ng already spells them when they stand alone."""
WORD_ACRONYMS = {
    "NASA": "Nasa", "NATO": "Nato", "UNICEF": "Unicef", "UNESCO": "Unesco", "FIFA": "Fifa", "OPEC": "Opec",
    "NAFTA": "Nafta", "FEMA": "Fema", "SCUBA": "scuba", "LASER": "laser", "RADAR": "radar", "SONAR": "sonar",
    "GIF": "gif", "JPEG": "jay peg", "JSON": "jason", "PIN": "pin", "RAM": "ram", "ROM": "rom", "SIM": "sim",
    "LAN": "lan", "WAN": "wan", "AIDS": "aids", "COVID": "Covid", "ASCII": "askee", "GUI": "gooey",
    "YAML": "yaml", "TOML": "toml", "WYSIWYG": "wizzywig", "CAPTCHA": "captcha", "IKEA": "Ikea",
    "POSIX": "posix", "SaaS": "sass", "PhD": "P.H.D", "IoT": "I.O.T", "macOS": "mac O.S",
}
"""Acronyms said as a word, written so that espeak-ng reads them as one."""
_PHRASES_BY_CASE = {phrase.lower(): words for phrase, words in _PHRASES.items()}
_PHRASE = re.compile(
    r"(?<![\w.])(?:" + "|".join(re.escape(phrase) for phrase in sorted(_PHRASES, key=len, reverse=True)) + r")(?![\w/])",
    re.IGNORECASE,
)
_ABBREVIATION = re.compile(
    r"(?<![\w.])(?P<word>" + "|".join(sorted({*_BEFORE_NAME, *_AFTER_NAME, *_BEFORE_NUMBER, "Dr", "St"}, key=len, reverse=True))
    + r")(?P<dot>\.)?(?=[\s,;:!?)]|$)"
)
_MIXED_CASE = [word for word in WORD_ACRONYMS if not word.isupper()]
_ACRONYM = re.compile(r"\b(?:[A-Z][A-Z0-9]{1,6}|" + "|".join(_MIXED_CASE) + r")\b")
_DOTTED = re.compile(r"(?<![\w.])(?P<letters>(?:[A-Za-z]\.){2,})(?!\w)")
_INITIAL = re.compile(r"(?<![\w.])(?P<initial>[A-Z])\.(?=\s+[A-Z])")
_NEXT_WORD = re.compile(r"\s+(\S+)")
_WORD_BEFORE = re.compile(r"(?:(\S+)\s+)?(\S+)\s+$")
_INITIAL_AFTER = re.compile(r"(?:^|[A-Z]\S*\s+)$")
_ROMAN = re.compile(r"[IVXLCDM]+\b")


def _next_word(text: str, end: int) -> str:
    found = _NEXT_WORD.match(text, end)
    return found.group(1) if found else ""


def _after_a_name(text: str, start: int) -> bool:
    """Whether the word before ``start`` is a capitalised word inside a sentence (a name)."""
    found = _WORD_BEFORE.search(text, max(0, start - 80), start)
    if not found:
        return False
    earlier, word = found.group(1), found.group(2)
    return word[:1].isupper() and word[-1].isalnum() and earlier is not None and earlier[-1] not in ".!?"


def _phrase(match: re.Match[str]) -> str:
    token = match.group()
    spoken = _PHRASES_BY_CASE[token.lower()]
    if token.endswith(".") and sentence_ends_after(match.string, match.end()):
        spoken += "."
    return spoken


def _abbreviation(match: re.Match[str]) -> str:
    text, word, dotted = match.string, match.group("word"), match.group("dot") is not None
    following = _next_word(text, match.end())
    before_name = following[:1].isupper()
    ends = dotted and sentence_ends_after(text, match.end())
    after_name = _after_a_name(text, match.start())
    if word == "Dr":
        if after_name:
            return "Drive." if ends else "Drive"
        return "Doctor" if dotted or before_name else match.group()
    if word == "St":
        if after_name or (dotted and not before_name):
            return "Street." if ends else "Street"
        return "Saint" if before_name else match.group()
    if word in _BEFORE_NUMBER and dotted and (
        following[:1].isdigit() or (word in _BEFORE_ROMAN and _ROMAN.match(following))
    ):
        return _BEFORE_NUMBER[word]
    if word in _BEFORE_NAME and before_name:
        return _BEFORE_NAME[word]
    if word in _AFTER_NAME and (dotted or after_name):
        return _AFTER_NAME[word] + ("." if ends else "")
    return match.group()


def _acronym(match: re.Match[str]) -> str:
    token = match.group()
    if token in LETTER_ACRONYMS:
        return letters(token)
    return WORD_ACRONYMS.get(token, token)


def _initial(match: re.Match[str]) -> str:
    """``John F. Kennedy``: an initial's period is not a sentence end (but "plan B. Then" is)."""
    if _INITIAL_AFTER.search(match.string, max(0, match.start() - 40), match.start()):
        return match.group("initial")
    return match.group()


def _dotted(match: re.Match[str]) -> str:
    spoken = letters(match.group("letters"))
    return spoken + "." if sentence_ends_after(match.string, match.end()) else spoken


class Abbreviations(EnglishStep):
    """Titles, street and company suffixes, Latin abbreviations, initials and acronyms."""

    name = "abbreviations"
    order = 600

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        if "." in text or "/" in text or "vs" in text or "VS" in text:
            text = _PHRASE.sub(_phrase, text)
        text = _ABBREVIATION.sub(_abbreviation, text)
        if "." in text:
            text = _DOTTED.sub(_dotted, text)
            text = _INITIAL.sub(_initial, text)
        return _ACRONYM.sub(_acronym, text)


@hookimpl
def litettsd_register_normalizers() -> list[Abbreviations]:
    return [Abbreviations()]
