"""Screen-reader behaviour: punctuation levels, spelling, and the names of characters and keys.

A screen reader (Orca, through speech-dispatcher) asks for punctuation to be spoken at one
of four levels and sometimes for text to be spelled. The levels follow Orca's
``punctuation_settings`` and the names its ``chnames`` table, so users hear what they are
used to: ``some`` speaks marks like ``* / ^ ©``, ``most`` adds brackets, quotes, dashes,
colons and the like, ``all`` adds ``. , ! ? '``. Sentence and clause marks keep their pause
after their name ("Hello comma, world dot."). Unlike Orca, a dash, apostrophe or period
between two letters or digits is part of a word ("well-known", "don't", ``U.R.L``) and
is not named, because the normalizer's own output (number words, spelled letters) uses
them. Marks a level does not name are dropped if espeak-ng would read them aloud anyway
(``~ \\ | _`` and the like) and kept if they only shape prosody.

Spelling runs first in the chain, on the raw text (entities decoded), because every other
step would turn ``$5`` into words first; the other steps stand aside in spell mode.

``char_text`` and ``key_name_text`` are used for single characters and speech-dispatcher
``CHAR``/``KEY`` requests (``shift_a``, ``control_alt_delete``, ``F5``).
"""

from __future__ import annotations

import re
import unicodedata

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl
from litettsd.patterns import LazyPattern

from ._words import (
    DIGIT_NAMES,
    SILENT_PERIOD,
    EnglishStep,
    cardinal,
    dashes_as_commas,
    decode_entities,
    digits,
    is_english,
    tidy,
    unicode_name_words,
)

LEVELS = {"none": 0, "some": 1, "most": 2, "all": 3}

CHAR_NAMES = {
    " ": "space", "\n": "newline", "\t": "tab", "!": "exclaim", '"': "quote", "#": "number", "$": "dollar",
    "%": "percent", "&": "and", "'": "apostrophe", "(": "left paren", ")": "right paren", "*": "star",
    "+": "plus", ",": "comma", "-": "dash", ".": "dot", "/": "slash", ":": "colon", ";": "semicolon",
    "<": "less", "=": "equals", ">": "greater", "?": "question", "@": "at", "[": "left bracket",
    "\\": "backslash", "]": "right bracket", "^": "caret", "_": "underline", "`": "grave", "{": "left brace",
    "|": "vertical bar", "}": "right brace", "~": "tilde", "\u00a0": "no break space",
    "¡": "inverted exclamation point", "¢": "cents", "£": "pounds", "¥": "yen", "¦": "broken bar",
    "§": "section", "©": "copyright", "«": "left double angle bracket", "¬": "logical not", "®": "registered",
    "°": "degrees", "±": "plus or minus", "¶": "paragraph marker", "·": "middle dot",
    "»": "right double angle bracket", "¿": "inverted question mark", "×": "times", "÷": "divided by",
    "–": "en dash", "—": "em dash", "‘": "left single quote", "’": "right single quote", "“": "left double quote",
    "”": "right double quote", "†": "dagger", "‡": "double dagger", "•": "bullet", "…": "ellipsis",
    "‰": "per mille", "′": "prime", "″": "double prime", "€": "euro", "™": "trademark",
}
"""Orca's names (``chnames``) for punctuation and symbols."""

PUNCTUATION_LEVELS = {
    **dict.fromkeys("*/^©®™§¶†‡′″", 1),
    **dict.fromkeys("\"()-_:;[]\\|`~{}«»–—", 2),
    **dict.fromkeys("!',.?", 3),
}
"""The lowest level at which each mark is spoken (Orca's ``punctuation_settings``)."""
_INSERTED = frozenset("!,.?:;")
"""Marks that keep their pause after their name; the others are replaced by it."""
_PROSODY = frozenset(".,;:!?'\"()[]{}-")
"""Marks kept (unspoken) below their level: espeak-ng turns them into pauses and intonation."""
DROPPED_MARKS = "".join(
    sorted(mark for mark, level in PUNCTUATION_LEVELS.items() if level > LEVELS["some"] and mark not in _PROSODY)
)
"""Marks this step replaces with a space at the "some" and "none" levels."""
_WORD_JOINERS = frozenset("-'.")
_ELLIPSIS = "\u2026"
_ASCII_PUNCTUATION = "".join(chr(code) for code in range(33, 127) if not chr(code).isalnum())
_LEVEL_PATTERNS = {
    level: LazyPattern(
        "["
        + "".join(
            re.escape(mark)
            for mark in _ASCII_PUNCTUATION
            if mark != "_" and not (mark in _PROSODY and PUNCTUATION_LEVELS.get(mark, 4) > level)
        )
        + "]"
    )
    for level in LEVELS.values()
}
"""Per level, the ASCII marks that need a decision: all but the prosody marks the level leaves
alone. A positive class lets the engine skip plain prose quickly."""
_NON_ASCII_MARK = LazyPattern(r"[^\x00-\x7f\w\s]")
"""Non-ASCII characters that are neither letters, digits nor spaces: symbols and punctuation."""


def char_text(ch: str, capitals: str = "none") -> str:
    """How a screen reader says one character: "a", "capital A", "seven", "left paren", "e acute"."""
    if ch in CHAR_NAMES:
        return CHAR_NAMES[ch]
    if "0" <= ch <= "9":
        return DIGIT_NAMES[ord(ch) - 48]
    capital = "capital " if capitals == "spell" and ch.isupper() else ""
    if ch.isascii() and ch.isalpha():
        return capital + ch
    if ch.isspace():
        return "space"
    name = unicodedata.name(ch, "")
    if " LETTER " in name:
        letter, _, accent = name.split(" LETTER ", 1)[1].partition(" WITH ")
        letter = letter.upper() if len(letter) == 1 and ch.isupper() else letter.lower()
        return f"{capital}{letter} {accent.lower()}".strip()
    if unicodedata.category(ch)[0] in "CZ":
        return ""
    return capital + unicode_name_words(ch)


def spell(text: str, capitals: str = "none") -> str:
    """Character by character, each its own clause so every name is said in isolation."""
    text = unicodedata.normalize("NFC", decode_entities(text))
    names: list[str] = []
    for run in _SPELL_RUNS.findall(text):
        if run[0].isspace():
            if names:
                names.append("space")
            continue
        names.extend(name for name in (char_text(ch, capitals) for ch in run) if name)
    if names and names[-1] == "space":
        names.pop()
    return ", ".join(names)


_SPELL_RUNS = LazyPattern(r"\s+|\S+")

_MODIFIERS = {"shift": "shift", "control": "control", "ctrl": "control", "alt": "alt", "meta": "meta",
              "super": "super", "hyper": "hyper", "altgr": "alt graph", "cmd": "command", "win": "windows"}
_KEY_NAMES = {
    "space": "space", "underscore": "underscore", "double-quote": "double quote", "backspace": "backspace",
    "break": "break", "delete": "delete", "del": "delete", "down": "down", "end": "end", "enter": "enter",
    "escape": "escape", "esc": "escape", "home": "home", "insert": "insert", "ins": "insert", "left": "left",
    "menu": "menu", "next": "page down", "prior": "page up", "page-up": "page up", "page-down": "page down",
    "pgup": "page up", "pgdn": "page down", "num-lock": "num lock", "caps-lock": "caps lock",
    "scroll-lock": "scroll lock", "pause": "pause", "print": "print screen", "return": "return",
    "right": "right", "tab": "tab", "up": "up", "window": "window", "kp-enter": "keypad enter",
    "kp-*": "keypad star", "kp-+": "keypad plus", "kp--": "keypad minus", "kp-.": "keypad dot",
    "kp-/": "keypad slash", **_MODIFIERS,
}
"""speech-dispatcher's SSIP key names, plus common spellings of them."""
_FUNCTION_KEY = LazyPattern(r"[fF]([0-9]{1,2})")
_KEYPAD_DIGIT = LazyPattern(r"kp-([0-9])")
_KEY_WORDS = LazyPattern(r"[-_]+")
_KEY_DIGITS = LazyPattern(r"[0-9]+")


def _key(name: str) -> str:
    if len(name) == 1:
        return char_text(name, "spell")
    lowered = name.lower()
    named = _KEY_NAMES.get(lowered) or _KEY_NAMES.get(lowered.replace("_", "-"))
    if named:
        return named
    function = _FUNCTION_KEY.fullmatch(name)
    if function:
        return "F " + cardinal(int(function.group(1)))
    keypad = _KEYPAD_DIGIT.fullmatch(lowered)
    if keypad:
        return "keypad " + DIGIT_NAMES[int(keypad.group(1))]
    spoken = _KEY_DIGITS.sub(lambda found: f" {digits(found.group())} ", _KEY_WORDS.sub(" ", name))
    return " ".join(spoken.split())


def key_name_text(key: str) -> str:
    """How a screen reader says a key: "shift a", "control alt delete", "F five", "space"."""
    if len(key) <= 1:
        return char_text(key, "spell") if key else ""
    if key[-2:] in ("_L", "_R") and key[:-2].lower() in _MODIFIERS:  # X's Shift_L, Control_R
        side = "left" if key[-1] == "L" else "right"
        return f"{side} {_MODIFIERS[key[:-2].lower()]}"
    parts: list[str] = []
    rest = key
    while True:
        head, separator, tail = rest.partition("_")
        if not (separator and tail and head.lower() in _MODIFIERS):
            break
        parts.append(_MODIFIERS[head.lower()])
        rest = tail
    parts.append(_key(rest))
    return " ".join(parts)


class Spelling:
    """Spell mode: the whole text character by character (runs first, before any rewriting)."""

    name = "spelling"
    order = 50

    def normalize(self, text: str, context: NormalizeContext) -> str:
        if not context.spell or not is_english(context):
            return text
        return spell(text, context.capitals)


class Punctuation(EnglishStep):
    """Last step: speak or drop punctuation by level, then tidy spaces and marks."""

    name = "punctuation"
    order = 900

    def rewrite(self, text: str, context: NormalizeContext) -> str:
        level = LEVELS.get(context.punctuation, LEVELS["some"])
        if level == LEVELS["all"] and "..." in text:
            text = text.replace("...", _ELLIPSIS)
        if "_" in text:
            text = text.replace("_", " underline " if level >= PUNCTUATION_LEVELS["_"] else " ")
        if "\u00a7\u00a7" in text and level >= PUNCTUATION_LEVELS["\u00a7"]:
            text = text.replace("\u00a7\u00a7", " sections ")  # "§§ 14-17", as lawyers read it

        def mark(match: re.Match[str]) -> str:
            found = match.group()
            if found == _ELLIPSIS:
                return " dot dot dot... "
            mark_level = PUNCTUATION_LEVELS.get(found)
            if mark_level is None:
                return found if found in _PROSODY or unicodedata.category(found)[0] not in "PS" else " "
            written, start, end = match.string, match.start(), match.end()
            if (
                found in _WORD_JOINERS
                and 0 < start
                and end < len(written)
                and written[start - 1].isalnum()
                and written[end].isalnum()
            ):
                return found
            if mark_level <= level:
                name = CHAR_NAMES[found]
                return f" {name}{found} " if found in _INSERTED else f" {name} "
            return found if found in _PROSODY else " "

        text = _LEVEL_PATTERNS[level].sub(mark, text)
        if not text.isascii():
            text = _NON_ASCII_MARK.sub(mark, text)
            text = text.replace(SILENT_PERIOD, ".")  # after naming: a pause, not a "dot"
        text = tidy(text, mark_runs=level < LEVELS["all"])
        # A hyphen between spaces left by the number rules, or freed by a name, is a dash:
        # a pause below ``most``, named above (the marks above have done that already).
        return tidy(dashes_as_commas(text)) if " - " in text and level < LEVELS["most"] else text


@hookimpl
def litettsd_register_normalizers() -> list[Spelling | Punctuation]:
    return [Spelling(), Punctuation()]
