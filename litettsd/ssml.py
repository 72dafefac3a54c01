"""The SSML subset litettsd speaks, parsed safely into a :class:`~litettsd.document.Document`.

Parsing uses defusedxml with DTDs forbidden, so entity expansion (billion laughs) and
external entities are refused before any expansion happens; nesting is bounded so a deep
document cannot exhaust the stack. Supported: ``speak p s break prosody say-as sub phoneme
mark emphasis voice``. ``<prosody pitch>`` shifts pitch by resampling (duration kept);
``<emphasis>`` is accepted and ignored: neither engine can stress a word on request. Malformed SSML is an ``ssml_error`` naming the line
and column when the request is strict; otherwise the markup is stripped, the text spoken,
and the ``end`` frame carries a warning.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from .document import Break, Document, Mark, Phonemes, Prosody, Segment, SentenceEnd, Text
from .errors import ErrorCode, RequestError

if TYPE_CHECKING:
    from collections.abc import Callable
    from xml.etree.ElementTree import Element

MAX_DEPTH = 64
MAX_BREAK_SECONDS = 10.0
"""Longest ``<break>``: a typo like ``1800s`` must not hold a listener (or memory) for half an hour."""
# Neither pattern can run past a "<": on malformed input such as "<<<<..." a scan to the
# next ">" from every "<" made stripping quadratic (7.6 s for 100,000 characters).
_TAG = re.compile(r"<[^<>]*>")
_MARK_TAG = re.compile(r"""<(?:[\w.-]+:)?mark\s+name\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)')\s*/?>""")
_EXPAT_POSITION = re.compile(r": line \d+, column \d+$")
_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")
_STRENGTH = {"none": 0.0, "x-weak": 0.1, "weak": 0.2, "medium": 0.4, "strong": 0.6, "x-strong": 1.0}
_RATE = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.6}
_VOLUME = {"silent": 0.0, "x-soft": 0.3, "soft": 0.6, "medium": 1.0, "default": 1.0, "loud": 1.4, "x-loud": 1.8}
_PITCH = {"x-low": 0.8, "low": 0.9, "medium": 1.0, "default": 1.0, "high": 1.1, "x-high": 1.2}
_CONTAINERS = {"speak", "p", "s", "prosody", "emphasis", "voice", "lang"}


SAY_AS_VALUES = frozenset(
    "characters spell-out verbatim cardinal number ordinal digits fraction unit date time telephone currency "
    "address name net expletive".split()
)
"""The ``interpret-as`` values of the W3C say-as note and common practice. Another is an
error in a strict request; a known one that no plugin reads for the voice's language is
read as plain text with a warning either way."""


class _Invalid(Exception):
    """A problem with one element; strict requests fail, lenient ones warn and carry on."""


def parse(source: str, strict: bool) -> Document:
    """Parse SSML; raise ``RequestError(ssml_error)`` for refused or (when strict) malformed input."""
    # Imported here, not with the module: the XML parsers are 3-4 ms of the daemon's start
    # and plain-text requests never need them.
    import html
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(source, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise RequestError(ErrorCode.SSML_ERROR, f"SSML refused: {exc}; DTDs and entities are not allowed") from None
    except ParseError as exc:
        line, column = exc.position
        where = f"line {line}, column {column + 1}"
        if strict:
            why = _EXPAT_POSITION.sub("", str(exc))  # expat repeats the position in its own words
            raise RequestError(ErrorCode.SSML_ERROR, f"malformed SSML at {where}: {why}") from None
        return _stripped(source, html.unescape, f"malformed SSML at {where}; markup ignored except marks")
    document = Document([])
    _Walker(document, strict).element(root, Prosody(), 0)
    return document


def _stripped(source: str, unescape: Callable[[str], str], warning: str) -> Document:
    """Malformed SSML read as text, keeping its ``<mark/>`` elements.

    Marks are how a screen reader follows (and pauses) speech: one stray ``&nbsp;`` must not
    cost every index mark of the message.
    """
    document = Document([], [warning])
    pieces = _MARK_TAG.split(source)
    for index in range(0, len(pieces), 3):
        text = unescape(_TAG.sub(" ", pieces[index]))
        if text.strip():
            document.segments.append(Text(text))
        if index + 2 < len(pieces):
            document.segments.append(Mark(unescape(pieces[index + 1] or pieces[index + 2] or "")))
    return document


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _seconds(value: str) -> float:
    match = _TIME.match(value)
    if not match:
        raise _Invalid(f"break time {value!r} is not like '300ms' or '1.5s'")
    amount = float(match.group(1))
    return amount / 1000 if match.group(2) == "ms" else amount


def _relative(value: str, named: dict[str, float], what: str) -> float:
    """A prosody factor; never negative, infinite or NaN (the pipeline bounds the product)."""
    value = value.strip()
    if value in named:
        return named[value]
    try:
        if value.endswith("dB"):
            factor = 10 ** (float(value[:-2]) / 20)
        elif value.endswith("%"):
            number = float(value[:-1])
            factor = 1 + number / 100 if value[0] in "+-" else number / 100
        else:
            factor = float(value)
    except (ValueError, OverflowError):
        raise _Invalid(f"{what} {value!r} is not understood") from None
    if not math.isfinite(factor) or factor < 0 or (factor == 0 and what != "volume"):
        raise _Invalid(f"{what} {value!r} is out of range")
    return float(factor)


class _Walker:
    def __init__(self, document: Document, strict: bool) -> None:
        self.document = document
        self.strict = strict

    def problem(self, message: str) -> None:
        if self.strict:
            raise RequestError(ErrorCode.SSML_ERROR, message)
        self.document.warnings.append(message)

    def emit(self, segment: Segment) -> None:
        self.document.segments.append(segment)

    def text(self, text: str | None, prosody: Prosody) -> None:
        if text and text.strip():
            self.emit(Text(text, prosody))

    def element(self, node: Element, prosody: Prosody, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise RequestError(ErrorCode.SSML_ERROR, f"SSML nested deeper than {MAX_DEPTH} elements")
        tag = _local(node.tag)
        try:
            self._element(tag, node, prosody, depth)
        except _Invalid as exc:
            self.problem(f"<{tag}>: {exc}")
            self.children(node, prosody, depth)

    def _element(self, tag: str, node: Element, prosody: Prosody, depth: int) -> None:
        attrs = node.attrib
        if tag == "break":
            if "time" in attrs:
                seconds = _seconds(attrs["time"])
                if seconds > MAX_BREAK_SECONDS:
                    self.problem(f"<break>: {attrs['time']} is over the {MAX_BREAK_SECONDS:g} s limit (lenient requests cut it)")
                    seconds = MAX_BREAK_SECONDS
            else:
                seconds = _STRENGTH.get(attrs.get("strength", "medium"), -1.0)
                if seconds < 0:
                    raise _Invalid(f"unknown strength {attrs['strength']!r}")
            self.emit(Break(seconds))
        elif tag == "mark":
            if "name" not in attrs:
                raise _Invalid("needs a name")
            self.emit(Mark(attrs["name"]))
        elif tag == "sub":
            if "alias" not in attrs:
                raise _Invalid("needs an alias")
            self.emit(Text(attrs["alias"], prosody))
        elif tag == "say-as":
            kind = attrs.get("interpret-as")
            if not kind:
                raise _Invalid("needs interpret-as")
            if kind.strip().lower() not in SAY_AS_VALUES:
                raise _Invalid(f"interpret-as {kind!r} is none of {', '.join(sorted(SAY_AS_VALUES))}")
            self.emit(Text("".join(node.itertext()), prosody, say_as=kind, say_as_format=attrs.get("format")))
        elif tag == "phoneme":
            alphabet = attrs.get("alphabet", "ipa")
            if alphabet != "ipa" or "ph" not in attrs:
                raise _Invalid(f"only alphabet='ipa' with a ph attribute is supported, got {alphabet!r}")
            self.emit(Phonemes(attrs["ph"], prosody))
        elif tag in _CONTAINERS:
            if tag == "prosody":
                prosody = Prosody(
                    rate=prosody.rate * _relative(attrs.get("rate", "medium"), _RATE, "rate"),
                    volume=prosody.volume * _relative(attrs.get("volume", "medium"), _VOLUME, "volume"),
                    pitch=prosody.pitch * _relative(attrs.get("pitch", "medium"), _PITCH, "pitch"),
                )
            self.children(node, prosody, depth)
            if tag in ("s", "p"):
                self.emit(SentenceEnd())
            return
        else:
            raise _Invalid("is not supported")

    def children(self, node: Element, prosody: Prosody, depth: int) -> None:
        self.text(node.text, prosody)
        for child in node:
            self.element(child, prosody, depth + 1)
            self.text(child.tail, prosody)
