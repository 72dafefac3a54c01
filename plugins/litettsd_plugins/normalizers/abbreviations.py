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
from collections.abc import Iterable

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl
from litettsd.patterns import LazyPattern

from ._words import (
    WORD_LETTER,
    EnglishStep,
    letters,
    period_ends_sentence,
    sentence_ends_after,
    sentence_ends_after_time,
    starts_name,
)
from .screen_reader import DROPPED_MARKS

_PHRASES = {
    "e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "a.k.a.": "also known as",
    "vs.": "versus", "vs": "versus", "approx.": "approximately", "w/o": "without", "w/": "with",
    "cf.": "compare", "viz.": "namely", "Ph.D.": "P.H.D", "Dept.": "Department",
    "Univ.": "University", "Assn.": "Association", "Govt.": "Government",
    "and/or": "and or", "his/her": "his or her", "he/she": "he or she", "him/her": "him or her",
    "s/he": "she or he", "b/c": "because", "c/o": "care of", "n/a": "not applicable", "AT&T": "A.T and T",
    "incl.": "including", "excl.": "excluding", "max.": "maximum",
    "thx": "thanks", "idk": "I don't know", "imo": "in my opinion", "imho": "in my humble opinion",
    "btw": "by the way", "tbh": "to be honest", "afaik": "as far as I know", "brb": "be right back",
    "pls": "please", "plz": "please",
}
"""Always expanded, wherever they appear."""
_BEFORE_NAME = {
    "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Mx": "Mix", "Prof": "Professor", "Rev": "Reverend",
    "Hon": "Honorable", "Gen": "General", "Col": "Colonel", "Capt": "Captain", "Lt": "Lieutenant",
    "Sgt": "Sergeant", "Gov": "Governor", "Sen": "Senator", "Rep": "Representative", "Pres": "President",
    "Fr": "Father", "Mt": "Mount", "Ft": "Fort", "Pt": "Point",
}
"""Titles and place prefixes: expanded before a capitalised word (with or without period)."""
_ALWAYS_TITLES = frozenset({"Mr", "Mrs", "Ms", "Mx", "Prof", "Capt", "Lt", "Sgt", "Mt"})
"""Those of them that mean nothing else, expanded whenever they have their period."""
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
    "est": "estimated", "Est": "Estimated", "Apt": "Apartment", "Ste": "Suite", "Rm": "Room",
}
"""Expanded before a number, with a period ("No. 5", "p. 12"; see ``_UNDOTTED_BEFORE_NUMBER``)."""
_BEFORE_ROMAN = frozenset({"Vol", "vol", "Ch", "ch", "Chap", "Sec", "Sect", "Art", "Pt"})
"""Those of them that also number with Roman numerals: "Vol. II"."""
_UNDOTTED_BEFORE_NUMBER = frozenset({"Apt", "Ste", "Rm"})
"""Those of them written without their period as often as with it: "Apt 4B", "Ste 200"."""

LETTER_ACRONYMS = frozenset(
    """
    URL URLS URI CPU GPU TPU NPU API SDK IDE CLI HTML CSS HTTP HTTPS SSH SSL TLS DNS TCP UDP IP VPN ISP USB SSD HDD
    PDF XML SQL PHP AWS GCP IBM HP AMD FBI CIA NSA BBC CNN NBC CBS ABC CEO CTO CFO COO HR PR QA FAQ VIP UX UI AI ML
    LLM GPT NLP OS PC TV DVD CD USA UK EU UN US DC NYC LA ID IQ PS AC LED LCD OLED HDMI RGB FTP SMS MMS GPS ATM DIY
    FYI ETA EST EDT PST PDT CST CDT MST MDT UTC GMT CET BST IST JST AEST NBA NFL MLB NHL UFC UFO SUV MIT UCLA NYU
    IRS DMV DNA RNA HIV MRI ICU BMI MBA CPA GPA EV IOT NPC RPG MMO PVP NYSE IPO GDP CPI ROI KPI BC AD BCE CE
    DUI DWI AP UPS
    TBD TBA ASAP RSVP PTO AKA
    """.split()
)
"""Acronyms said letter by letter."""
SHOUTED_WORDS = frozenset({"US", "IT", "UPS", "AP"})
"""Words that the list above (US, UPS, AP) or espeak-ng (IT) would spell, read as words in text written
all in capitals: "CALL US TODAY", "IT IS DONE" (but "the US economy", "IT department").
espeak-ng reads the other short words in capitals (IS, AM, AS...) as words already."""
WORD_ACRONYMS = {
    "NASA": "Nasa", "NATO": "Nato", "UNICEF": "Unicef", "UNESCO": "Unesco", "FIFA": "Fifa", "OPEC": "Opec",
    "NAFTA": "Nafta", "FEMA": "Fema", "SCUBA": "scuba", "LASER": "laser", "RADAR": "radar", "SONAR": "sonar",
    "GIF": "gif", "JPEG": "jay peg", "JSON": "jason", "PIN": "pin", "RAM": "ram", "ROM": "rom", "SIM": "sim",
    "LAN": "lan", "WAN": "wan", "AIDS": "aids", "COVID": "Covid", "ASCII": "askee", "GUI": "gooey",
    "YAML": "yaml", "TOML": "toml", "WYSIWYG": "wizzywig", "CAPTCHA": "captcha", "IKEA": "Ikea",
    "POSIX": "posix", "SaaS": "sass", "PhD": "P.H.D", "IoT": "I.O.T", "macOS": "mac O.S",
    "IPv4": "I.P.V four", "IPv6": "I.P.V six", "WWI": "World War one", "WWII": "World War two",
}
"""Acronyms said as a word, written so that espeak-ng reads them as one."""
_PHRASES_BY_CASE = {phrase.lower(): words for phrase, words in _PHRASES.items()}
_PHRASE_HINTS = tuple({phrase.lower().rstrip(".") for phrase in _PHRASES})
"""Each phrase without its last period, looked for in the lower-cased text before the (slower) pattern runs."""


def _literals(words: Iterable[str]) -> str:
    """A choice of literal words, longest first; a pattern starting with literals lets the
    regex engine skip to their first letters instead of trying every position."""
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_PHRASE = LazyPattern(
    "(?:" + _literals({variant for phrase in _PHRASES for variant in (phrase, phrase.capitalize(), phrase.upper())})
    + rf")(?!{WORD_LETTER})"
)
_CAPITALISED = LazyPattern(
    "(?P<word>"
    + _literals(word for word in {*_BEFORE_NAME, *_AFTER_NAME, *_BEFORE_NUMBER, "Dr", "St"} if word[0].isupper())
    + rf")(?P<dot>\.)?(?!{WORD_LETTER}|[.'])"
)
_LOWER_BEFORE_NUMBER = LazyPattern(
    "(?P<word>" + _literals(word for word in _BEFORE_NUMBER if word.islower()) + r")(?P<dot>\.)(?= ?[0-9])"
)
_ONLY_LETTERS_AFTER = ("vitamin", "hepatitis", "exhibit", "appendix", "annex", "an", "the")
"""Words the article "a" cannot follow, whatever comes next."""
_LABELS = (
    "class", "section", "category", "terminal", "platform", "gate", "building", "wing", "zone",
    "tier", "division", "series", "unit", "variant", "version", "scenario", "player", "option",
    "item", "blood type", "plan", "type", "grade", "table", "seat", "room", "side", "step",
    "line", "form", "group", "list", "schedule", "model", "sample", "point", "track", "block",
    "box", "size", "figure", "floor", "level", "stage", "phase", "route", "team", "question",
    "part", "row", "press", "hit", "tap", "key", "button", "letter", "answer", "choice", "select",
    "choose", "pick", "rated", "scored", "is", "was", "are", "were", "be",
)
"""Words that name things by letter ("Class A shares", "Press A twice", "The answer is A
because") but may also come before the article ("Making every class a success", "Plan a trip",
"This Is A Test")."""
_LETTER_A = LazyPattern(
    r"(?<![\w-])(?P<always>(?i:" + "|".join(_ONLY_LETTERS_AFTER) + r")(?:e?s)?\s+)A(?=\s+[\w(])"
    r"|(?<![\w-])(?P<label>(?i:" + "|".join(_LABELS) + r")(?:e?s)?\s+)A(?=\s+[a-z]+\b(?![-'\u2019]?\w))"
    r"|(?<![\w.-])A(?=\s+(?:is|was|and|or|to|through|of)\b(?!-))"
    r"|(?<=\b(?:in|of) )A(?=\s+(?:minor|major|flat|sharp)\b)"
    r"|(?<=[\"'\u2018\u201c])A(?=[\"'\u2019\u201d])"
    r"|(?<![\w.-])A(?=\s+[B-Z]\s+[B-Z](?:\s|$|[.,;:!?](?!\w)))"
    r"|(?<![\w.-])A(?=[+/*]|\s[+=<>*/]\s)"
    r"|(?<=[+=<>*/])(?<![-=]>)A(?![\w'-])"
    r"|(?<=[+=<>*/] )(?<![-=]> )A(?=\s*(?:$|[.,;:!?)\]+=<>*/]))"
)
"""A capital "A" that is the letter, which espeak-ng reads as the article ("Plan A is",
"Vitamin A helps", "an A on", "the A team", "A is for", "from A to Z", 'type "A"', "A B C"):
after a word that names things by letter, or "an" or "the", before a word the article never
comes before, a key's name ("in A minor"), in quotes, first of three lone capitals (one may be
"a C compiler"), or beside
an operator ("A+", "A/B testing", "Let A = B", "Shift+A", "A*"; after a spaced operator only at
the end of a phrase: "= A new formula", "-> A new approach" mean the article). After a label,
only before a word all in lower case: title-case headings and capitals ("Building A Better
Future", "Schedule A 30-Minute Demo", "WE ARE BUILDING A HOUSE", "Building A macOS App",
"Building A to-do App") mean the article. Followed by a period or a comma it is the letter to
espeak-ng already, and left alone."""
_LABEL_WORD = LazyPattern(r"(?i:" + "|".join(_ONLY_LETTERS_AFTER + _LABELS) + r")(?:e?s)?\W*")
"""One of those words, with its punctuation: the capital and period after it are a label that
ends a sentence ("Plan B. Then"), not an initial."""
# Digits may touch a word here: the number rules split them off later, and the result must
# be read the same way on a second pass ("URL2" -> "U.R.L two").
_ACRONYM = LazyPattern(rf"[A-Z](?<![A-Za-z.][A-Z])[A-Z]{{1,6}}(?!{WORD_LETTER})(?:\.(?=[0-9]|[^\w\s.]))?")
"""With a period glued to a digit or a mark ("URL.0", "URL.:"), which its dotted letters keep only
where a sentence ends, as ``_dotted`` decides on a second pass ("U.R.L.:" would become
"U.R.L:"). A period before a space or the end stays as it is: "I work at IBM. Apple hired me"
is two sentences."""
_MIXED_CASE = tuple(word for word in WORD_ACRONYMS if not word.isupper())
_MIXED_CASE_ACRONYM = LazyPattern("(?:" + _literals(_MIXED_CASE) + rf")(?!{WORD_LETTER})")
_DOTTED_LETTERS = LazyPattern(r"\.[A-Za-z]\.")
_PERIOD_BEFORE_NUMBER = LazyPattern(r"\. ?[0-9]")
_DOTTED = LazyPattern(rf"[A-Za-z](?<![A-Za-z.][A-Za-z])\.(?:[A-Za-z]\.)+(?!{WORD_LETTER}|\.)")
_INITIAL_PERIOD = LazyPattern(rf"\.(?<=[A-Z]\.)(?<!{WORD_LETTER}[A-Z]\.)(?<!\.[A-Z]\.)(?= [A-Z])")
"""The period after a single capital ("John F. Kennedy"); the match is the period alone. A
capital ending a longer word is no initial, whatever letters come before it ("ÉµX. Next")."""
_ROMAN = LazyPattern(r"[IVXLCDM]+\b")
_YEAR_ALONE = LazyPattern(r"\s?(?:1[0-9]|20)[0-9]{2}(?=[.,;!?)]|\s*$)")
"""A year that ends its phrase: "est. 1999," but not "est. 2000 protesters" or "est. 2010: 5 million"."""


def _glued(match: re.Match[str]) -> bool:
    """Whether the match continues a word or a dotted abbreviation ("Mr" in "HMr", "e.g." in "ee.g.").

    Digits and underscores do not count: later steps turn them into separate words."""
    start = match.start()
    return start > 0 and (match.string[start - 1].isalpha() or match.string[start - 1] == ".")


def _words_before(text: str, start: int) -> list[str]:
    return text[max(0, start - 60):start].replace("_", " ").split()[-2:]


def _after_a_name(text: str, start: int) -> bool:
    """Whether the word before ``start`` is a capitalised word inside a sentence (a name)."""
    words = _words_before(text, start)
    if len(words) < 2:
        return False
    earlier, word = words
    return word[:1].isupper() and word[-1].isalnum() and earlier[-1] not in ".!?"


def _founding(text: str, start: int, end: int) -> bool:
    """"est." on a sign is "established": first in its phrase ("Smith & Sons, est. 1887",
    "(est. 1999)", "Est. 1887") and before a year alone. Anywhere else it estimates
    ("Completion is est. 2027.", "Burns est. 1800 calories")."""
    before = text[:start].rstrip()
    return (not before or before[-1] in ",(-\u2013\u2014|") and _YEAR_ALONE.match(text, end) is not None


def _next_word(text: str, end: int) -> str:
    following = text[end:end + 40].replace("_", " ").split(None, 1)
    return following[0] if following else ""


def _phrase(match: re.Match[str]) -> str:
    if _glued(match):
        return match.group()
    token = match.group()
    spoken = _PHRASES_BY_CASE[token.lower()]
    # "etc." ends a list, and no name comes after it: "etc. Done." is two sentences.
    ends = (period_ends_sentence if token.lower() == "etc." else sentence_ends_after)(match.string, match.end())
    if token.endswith(".") and ends:
        spoken += "."
    return spoken


def _abbreviation(match: re.Match[str]) -> str:
    if _glued(match):
        return match.group()
    text, word, dotted = match.string, match.group("word"), match.group("dot") is not None
    following = _next_word(text, match.end())
    before_name = starts_name(following)
    ends = dotted and sentence_ends_after(text, match.end())
    after_name = _after_a_name(text, match.start())
    if word in ("Dr", "St"):
        previous = _words_before(text, match.start())
        after_capital = bool(previous) and previous[-1][:1].isupper() and previous[-1][-1].isalnum()
        if after_name or (after_capital and not before_name):
            place = "Drive" if word == "Dr" else "Street"
            return place + "." if ends else place
        if before_name:
            return "Doctor" if word == "Dr" else "Saint"
        if dotted:  # "on 5th St. It is": the period may end the sentence too
            spoken = "Doctor" if word == "Dr" else "Street"
            return spoken + "." if ends and word == "St" else spoken
        return match.group()
    if word in _BEFORE_NUMBER and (dotted or word in _UNDOTTED_BEFORE_NUMBER) and (
        following[:1].isdigit() or (word in _BEFORE_ROMAN and _ROMAN.match(following))
    ):
        if word in ("est", "Est") and _founding(text, match.start(), match.end()):
            return "established" if word == "est" else "Established"
        return _BEFORE_NUMBER[word]
    if word in _BEFORE_NAME and (before_name or (dotted and word in _ALWAYS_TITLES)):
        return _BEFORE_NAME[word]
    if word in _AFTER_NAME and (dotted or after_name):
        return _AFTER_NAME[word] + ("." if ends else "")
    return match.group()


def _shouted(match: re.Match[str]) -> bool:
    """Whether the capitals are a word of text written all in capitals ("CALL US TODAY"):
    a word of two capitals or more right before or after it is capitals too."""
    text = match.string
    before = text[max(0, match.start() - 30):match.start()].split()
    after = text[match.end():match.end() + 30].split()
    neighbours = [word.strip(".,;:!?\"'()") for word in (before[-1:] + after[:1])]
    return any(len(word) > 1 and word.isalpha() and word.isupper() for word in neighbours)


def _acronym(match: re.Match[str]) -> str:
    token = match.group()
    if not token.endswith("."):
        return _spoken_acronym(match, token)
    spoken = _spoken_acronym(match, token[:-1])
    if "." not in spoken:  # a word ("Nasa.") or lower case keeps its period
        return spoken + "."
    return _with_period(spoken, match)


def _with_period(spoken: str, match: re.Match[str]) -> str:
    """Dotted letters with their last period where a sentence ends after them, without it where not."""
    ends = sentence_ends_after_time if spoken in ("A.M", "P.M") else sentence_ends_after
    return spoken + "." if ends(match.string, match.end()) else spoken


def _spoken_acronym(match: re.Match[str], token: str) -> str:
    if token in SHOUTED_WORDS and _shouted(match):
        the_country = token == "US" and _words_before(match.string, match.start())[-1:] == ["THE"]
        if not the_country:  # "IN THE US"
            return token.lower()
    if token in LETTER_ACRONYMS or (len(token) == 2 and match.string[match.end():match.end() + 1].isdigit()):
        return letters(token)  # two capitals before a digit are letters too: "CO2", "MP3", "NO2"
    return WORD_ACRONYMS.get(token, token)


def _initial(match: re.Match[str]) -> str:
    """``John F. Kennedy``: an initial's period is not a sentence end (but "Plan B. Then" is);
    "Chester A. Arthur" keeps the letter's name as "A-" (see ``_letter_a``)."""
    # Marks the punctuation step drops ("|X. N") are no word before it: a second pass must
    # find what this one did. Marks it reads ("Q & A. Then") are words.
    words = [word for word in _words_before(match.string, match.start() - 1) if word.strip(DROPPED_MARKS)]
    if words and (not words[-1][:1].isupper() or _LABEL_WORD.fullmatch(words[-1])):
        return "."  # "Plan B. Then", "Grade: A. Comments follow."
    return "-" if match.string[match.start() - 1] == "A" else ""  # "A" alone is the article to espeak-ng


def _letter_a(match: re.Match[str]) -> str:
    """"A-": espeak-ng says the letter's name for it (as in "A-10", see ``numbers``)."""
    return (match.group("always") or match.group("label") or "") + "A-"


def _dotted(match: re.Match[str]) -> str:
    return _with_period(letters(match.group()), match)


class Abbreviations(EnglishStep):
    """Titles, street and company suffixes, Latin abbreviations, initials and acronyms."""

    name = "abbreviations"
    order = 600

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        lowered = text.lower()
        if any(hint in lowered for hint in _PHRASE_HINTS):
            text = _PHRASE.sub(_phrase, text)
        if "." in text and _DOTTED_LETTERS.search(text):
            text = _DOTTED.sub(_dotted, text)
        text = _CAPITALISED.sub(_abbreviation, text)
        if "." in text:
            if _PERIOD_BEFORE_NUMBER.search(text):
                text = _LOWER_BEFORE_NUMBER.sub(_abbreviation, text)
            text = _INITIAL_PERIOD.sub(_initial, text)
        text = _ACRONYM.sub(_acronym, text)
        if "A" in text:
            text = _LETTER_A.sub(_letter_a, text)
        if any(word in text for word in _MIXED_CASE):
            text = _MIXED_CASE_ACRONYM.sub(_acronym, text)
        return text


@hookimpl
def litettsd_register_normalizers() -> list[Abbreviations]:
    return [Abbreviations()]
