"""First link of the chain: turn marked-up, typographic text into plain, speakable text.

Text reaches a TTS daemon copied from web pages, chat apps and language models, so it
carries HTML entities (LiteTTS spoke ``&#x27;`` as "hash x27"), stray tags, Markdown
emphasis and headings, invisible control and format characters, typographic quotes and
dashes, and decorative runs of punctuation. Every later rule is simpler if it can assume
plain ASCII punctuation, one space between words and paragraphs closed by a period, so
this step runs first. It is language independent: nothing here is English-specific.
"""

from __future__ import annotations

import re
import unicodedata

from litettsd.api import NormalizeContext
from litettsd.hookspecs import hookimpl
from litettsd.patterns import LazyPattern

from ._words import SILENT_PERIOD, dashes_as_commas, decode_entities, names_dashes, tidy

_BLOCK_TAGS = "blockquote|br|dd|div|dl|dt|h[1-6]|hr|li|ol|p|pre|table|title|tr|ul"
_INLINE_TAGS = (
    "a|abbr|b|big|body|cite|code|del|em|font|head|html|i|img|ins|kbd|mark|q|s|samp|small|span|"
    "strike|strong|sub|sup|tbody|td|tfoot|th|thead|tt|u|var"
)
_ATTRIBUTES = r"""(?:\s+[\w:-]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'<>]+))*\s*/?>"""
_BLOCK_TAG = LazyPattern(rf"</?(?:{_BLOCK_TAGS}){_ATTRIBUTES}", re.IGNORECASE)
_INLINE_TAG = LazyPattern(rf"</?(?:{_INLINE_TAGS}){_ATTRIBUTES}|<!--.*?-->", re.IGNORECASE | re.DOTALL)

# Control characters become spaces; format characters (zero-width joiners, direction
# marks, soft hyphens, BOM, variation selectors), lone surrogates and private-use
# characters are dropped: espeak-ng cannot read them and some break its UTF-8 input.
_CONTROL = LazyPattern(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_INVISIBLE = LazyPattern(
    "[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff\ue000-\uf8ff\U000e0000-\U000e0fff\U000f0000-\U0010ffff]"
)

_TYPOGRAPHY = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2212": "-", "\ufe63": "-", "\uff0d": "-",
    "\u2026": "...", "\u00a0": " ", "\u2022": ",", "\u00b7": ",", "\u25e6": ",", "\u2043": ",",
}
"""Typographic quotes, hyphens, ellipsis, no-break space and bullets as plain ASCII."""
_TYPOGRAPHIC = LazyPattern("[" + "".join(_TYPOGRAPHY) + "]")
_DECORATION = LazyPattern(r"([#$%&*+<=>@^`|~/\\\[\]{}_])(?: ?\1){2,}")
_STRICT_EQUALITY = LazyPattern(r"(?<=[a-z0-9_)\]'\"]) ?=== ?(?=[a-z0-9_(\['\"])")
"""``a === b`` between two code operands is JavaScript's operator; beside a capital it is a
decoration, as in a heading ``Early life === Childhood ===`` or a log's ``=== RUN``."""

# Markdown as written by chat apps and language models.
_MD_LINK = LazyPattern(r"!?\[([^\]\n]*)\]\([^)\s]*\)")
_MD_STRONG = LazyPattern(
    r"\*(?<![\w*]\*)(?P<more>\*{0,2})(?=[^\W_]|[\"'(])(?P<body>[^*\n]+?)(?<=[^\W_]|[\"').!?])\*(?P=more)(?![\w*])"
)
"""Emphasis: the text inside starts and ends as words do, so a wildcard is no emphasis ("*.txt or *.log")."""
_MD_UNDERSCORE = LazyPattern(r"_(?<![\w_]_)(?=[^\s_])(?P<body>[^_\n]+?)(?<=\S)_(?![\w_])")
_MD_CODE = LazyPattern(r"`+([^`\n]*)`+")
_HEADING = LazyPattern(r"#{1,6}\s+")
_BULLET = LazyPattern(r"[-*+,]\s+")
_QUOTE = LazyPattern(r"(?:>[ \t]*)+(?![\s0-9=>])")
"""E-mail and Markdown quoting, "> text" and ">> text" (but "> 5" at a line's start compares)."""
_AUTOLINK = LazyPattern(r"<((?:https?|ftp)://[^\s<>]+|mailto:[^\s<>]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>")
"""An address in angle brackets, as e-mail headers and Markdown write them: the brackets are silent."""
_EMOTICON = LazyPattern(
    r"[:;<](?:(?<=^[:;<])|(?<=[\s(][:;<])|(?<=[/*^|~`\\_©®™§¶†‡][:;]))"
    r"(?:(?<=[:;])['-]?[)(\]\[DPpOo|/\\*]+|(?<=<)3+)(?=$|[\s.,!?)])"
)
"""A text emoticon standing alone, ":)", ";-)", ":D", "<3" (not "10:30", "x:y" or "a <3 b"... see ``_emoticon``).

A face right after a mark the punctuation step reads as a word ("/" is "slash") or drops
("|", "~") stands alone too: a second pass would find it alone then and drop it. Not after
other marks: "f();o.x", "i++;p++" and '{"a":[]}' are code, not faces."""
_NUMBERED_ITEM = LazyPattern(r"[0-9]{1,3}[.)]\s")
_WRAPPED_LINE = 40
"""Lines at least this long followed by a single break are taken for wrapped prose (e-mail
wraps at 72, terminals at 80); shorter ones end a unit."""
_LINE_MARKER = LazyPattern(f"{_HEADING.pattern}|{_BULLET.pattern}|>")
"""A heading, bullet or quote marker opening a text of one line."""
_RULE = LazyPattern(r"(?:```.*|[-*_=]{3,})$")
_CLOSING = "\"')]"
_MARKS = (".", "!", "?", ":", ";", ",")


def _emoticon(match: re.Match[str]) -> str:
    """"<3" stands for a word ("I <3 NY"); the faces are dropped, as emoji are by default."""
    return " heart " if match.group().startswith("<") else " "


def _without_markdown(text: str) -> str:
    """Links as their text; emphasis and code without their asterisks, underscores and backticks."""
    if "[" in text:
        text = _MD_LINK.sub(r"\1", text)
    if "*" in text:
        text = _MD_STRONG.sub(r"\g<body>", text)
    if "_" in text:
        text = _MD_UNDERSCORE.sub(r"\g<body>", text)
    if "`" in text:
        text = _MD_CODE.sub(r"\1", text)
    return text


def _close_lines(text: str, markup: bool, closer: str = ".") -> str:
    """Join lines, ending headings, list items, short lines and paragraphs with a period.

    A single break after a long line is hard wrapping inside a sentence, so it becomes a
    space. A line shorter than wrapped text, before one that does not go on in lower case,
    is a unit (a signature's "Sarah Miller", a chat turn, "When: Monday"), and so are a
    blank line, a heading and a list item (bulleted or numbered): each must not run into
    the next one when spoken. Heading and bullet markers are dropped only from ``markup``
    text; an item's number is read.
    """
    units: list[tuple[str, bool, bool]] = []  # (text, stands alone, paragraph break before it)
    gap = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or (markup and _RULE.match(line)):
            gap = True
            continue
        alone = _NUMBERED_ITEM.match(line) is not None
        for marker in (_HEADING, _BULLET) if markup else ():
            found = marker.match(line)
            if found:
                line, alone = line[found.end():], True
                break
        else:
            found = _QUOTE.match(line) if markup else None
            if found:
                line = line[found.end():]
        if line:
            units.append((line, alone, gap))
            gap = False
    spoken: list[str] = []
    for index, (line, alone, _) in enumerate(units):
        if index + 1 < len(units):
            following, next_alone, next_gap = units[index + 1]
            short = len(line) < _WRAPPED_LINE and not following[:1].islower()  # "Line one\nstill..." runs on
            if (alone or short or next_alone or next_gap) and line.rstrip(_CLOSING)[-1:] not in _MARKS:
                line += closer
        spoken.append(line)
    return " ".join(spoken)



def _decoration(match: re.Match[str]) -> str:
    """A run of one symbol ("*****", "~~~") drawn as a line or a frame becomes a space."""
    start = match.start()
    widened = _STRICT_EQUALITY.match(match.string, start - (start > 0 and match.string[start - 1] == " "))
    return match.group() if match.group() == "===" and widened is not None else " "

class Entities:
    """Entities, tags, Markdown, invisible characters, typography, repeated marks, whitespace."""

    name = "entities"
    order = 100

    def normalize(self, text: str, context: NormalizeContext) -> str:
        if context.spell or not text:
            return text
        if context.markup:
            text = decode_entities(text)
            if "<" in text:
                text = _BLOCK_TAG.sub("\n\n", text)
                text = _INLINE_TAG.sub("", text)
                text = _AUTOLINK.sub(r"\1", text)
        text = _CONTROL.sub(" ", text)
        if not text.isascii():
            text = _INVISIBLE.sub("", text)
            if not unicodedata.is_normalized("NFC", text):
                text = unicodedata.normalize("NFC", text)
            text = _TYPOGRAPHIC.sub(lambda match: _TYPOGRAPHY[match.group()], text)
        # Emoticons after the control and invisible characters are gone (a face behind one
        # would otherwise stand alone only on a second pass), before the marks they are made
        # of are tidied.
        if context.punctuation in ("none", "some") and (":" in text or ";" in text or "<3" in text):
            text = _EMOTICON.sub(_emoticon, text)
        if context.markup:
            text = _without_markdown(text)
        if "\n" in text or "\r" in text or (context.markup and _LINE_MARKER.match(text)):
            closer = SILENT_PERIOD if context.punctuation == "all" else "."  # "all" would read it
            text = _close_lines(text.replace("\r\n", "\n").replace("\r", "\n"), context.markup, closer)
        if "-" in text or not text.isascii():
            text = dashes_as_commas(text, keep_dashes=names_dashes(context))
        text = _DECORATION.sub(_decoration, text)
        return tidy(text, mark_runs=context.punctuation != "all")


@hookimpl
def litettsd_register_normalizers() -> list[Entities]:
    return [Entities()]
