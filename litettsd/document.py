"""What a request asks to be said, before any text is turned into sound.

Plain text and SSML both become a flat list of segments: text to normalize, phonemes to
speak as given, pauses and marks, each text or phoneme segment with its prosody. Everything
downstream (lexicon, normalizers, chunking, inference) works on this one form, so SSML is
not a second pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Prosody:
    """Relative delivery of a stretch of speech."""

    rate: float = 1.0
    """Multiplies the request's speed."""
    volume: float = 1.0
    """Multiplies the request's volume."""
    pitch: float = 1.0
    """Multiplies the request's pitch."""


NORMAL = Prosody()


@dataclass(frozen=True)
class Text:
    """Text to normalize and phonemize."""

    text: str
    prosody: Prosody = NORMAL
    say_as: str | None = None
    """An SSML ``interpret-as`` value: read this text as characters, a date, digits..."""
    say_as_format: str | None = None
    normalized: bool = False
    """True once the text needs no more normalizing (aliases, say-as results)."""


@dataclass(frozen=True)
class Phonemes:
    """IPA to speak as given, bypassing grapheme-to-phoneme conversion."""

    ipa: str
    prosody: Prosody = NORMAL


@dataclass(frozen=True)
class Break:
    """Silence of at least ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Mark:
    """A named position, reported with its sample offset when the audio reaches it."""

    name: str


@dataclass(frozen=True)
class SentenceEnd:
    """A sentence or paragraph boundary the markup implies (``</s>``, ``</p>``)."""


Segment = Text | Phonemes | Break | Mark | SentenceEnd


@dataclass
class Document:
    """The segments of one request plus what the parser had to say about its input."""

    segments: list[Segment]
    warnings: list[str] = field(default_factory=list)


def plain(text: str) -> Document:
    """A document for plain text."""
    return Document([Text(text)])
