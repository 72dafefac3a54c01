"""Typed requests parsed from wire maps, with every field checked once, here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .api import NormalizeContext
from .errors import ErrorCode, RequestError
from .scheduler import PRIORITIES

PUNCTUATION_MODES = ("none", "some", "most", "all")
CAPITALS_MODES = ("none", "spell", "icon")
MAX_VOLUME = 4.0
"""Highest gain a request may ask for; SSML prosody cannot push past it either."""
SSML_MARKUP_ALLOWANCE = 8
"""An SSML document may be this many times ``max_text_chars`` long, markup included."""
MIN_SPEED, MAX_SPEED = 0.25, 4.0
"""Slowest and fastest speaking rate a request may ask for."""


def _field(message: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = message.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise RequestError(ErrorCode.INVALID_VALUE, f"{name} must be a number, got a boolean")
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise RequestError(ErrorCode.INVALID_VALUE, f"{name} must be {expected}, got {type(value).__name__}")
    return value


def _choice(message: dict[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = _field(message, name, str, default)
    if value not in choices:
        raise RequestError(ErrorCode.INVALID_VALUE, f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _within(name: str, value: float, low: float, high: float) -> float:
    if not low <= value <= high:
        raise RequestError(ErrorCode.INVALID_VALUE, f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True)
class SynthesizeRequest:
    """What to say and how to deliver it."""

    text: str
    """Text to speak."""
    voice: str | None
    """Voice id, bare name or Kokoro blend; the default voice when absent."""
    format: str
    """Output format name (``pcm``, ``wav``, ``mp3``, ``flac``, ``ogg``...)."""
    sample_rate: int | None
    """Resample to this rate; the voice's own rate when absent."""
    speed: float
    """Speaking rate multiplier, 1.0 is the voice's natural pace."""
    pitch: float
    """Pitch multiplier, 1.0 is the voice's own; duration is kept."""
    volume: float
    """Linear gain applied before encoding."""
    stream: bool
    """Send audio as it is made (true) or as one frame at the end (false)."""
    priority: str
    """speech-dispatcher message class; decides who waits for whom."""
    ssml: bool = False
    """``text`` is SSML."""
    ssml_strict: bool = False
    """Malformed SSML is an error rather than text with the markup stripped."""
    punctuation: str = "some"
    """Which punctuation is spoken by name: none, some, most, all."""
    spell: bool = False
    """Read the text character by character."""
    capitals: str = "none"
    """Mark capital letters while spelling: none, spell ("capital A"), icon."""
    say_as: str | None = None
    """Read the whole text as this SSML ``interpret-as`` (``characters``, ``key``...)."""
    cache: bool = True
    """Serve from, and store into, the audio cache."""

    def normalize_context(self, language: str) -> NormalizeContext:
        """The screen-reader modes of this request, for the normalizers."""
        return NormalizeContext(
            language=language,
            punctuation=self.punctuation,
            spell=self.spell,
            capitals=self.capitals,
            markup=not self.ssml and self.punctuation in ("none", "some"),
        )

    @classmethod
    def from_wire(cls, message: dict[str, Any], max_text_chars: int) -> SynthesizeRequest:
        """Validate a ``synthesize``, ``char`` or ``normalize`` map; raises ``RequestError`` naming the bad field."""
        say_as = _field(message, "say_as", str, None)
        if message.get("op") == "char":
            if ("char" in message) == ("key" in message):
                raise RequestError(ErrorCode.BAD_REQUEST, "char needs exactly one of char or key")
            say_as = "characters" if "char" in message else "key"
            text = _field(message, "char" if "char" in message else "key", str, "")
            if not text or (say_as == "characters" and len(text) != 1):
                raise RequestError(ErrorCode.INVALID_VALUE, "char must be a single character, key a key name")
        elif message.get("text") is None:
            raise RequestError(ErrorCode.BAD_REQUEST, f"{message.get('op')} needs text")
        else:
            text = _field(message, "text", str, "")
        ssml = _field(message, "ssml", bool, False)
        # SSML's own markup does not count against the limit (Pipeline.document checks its text):
        # Orca puts a mark before every word, which makes a message four to five times longer.
        if len(text) > max_text_chars * (SSML_MARKUP_ALLOWANCE if ssml else 1):
            raise RequestError(
                ErrorCode.TEXT_TOO_LONG, f"text has {len(text)} characters; the limit is {max_text_chars}"
            )
        sample_rate = _field(message, "sample_rate", int, None)
        if sample_rate is not None:
            _within("sample_rate", sample_rate, 8000, 192000)
        priority = _field(message, "priority", str, "message")
        if priority not in PRIORITIES:
            raise RequestError(
                ErrorCode.INVALID_VALUE, f"priority must be one of {', '.join(PRIORITIES)}, got {priority!r}"
            )
        return cls(
            text=text,
            voice=_field(message, "voice", str, None),
            format=_field(message, "format", str, "pcm").lower(),
            sample_rate=sample_rate,
            speed=float(_within("speed", _field(message, "speed", (int, float), 1.0), MIN_SPEED, MAX_SPEED)),
            pitch=float(_within("pitch", _field(message, "pitch", (int, float), 1.0), 0.5, 2.0)),
            volume=float(_within("volume", _field(message, "volume", (int, float), 1.0), 0.0, MAX_VOLUME)),
            stream=_field(message, "stream", bool, True),
            priority=priority,
            ssml=ssml,
            ssml_strict=_field(message, "ssml_strict", bool, False),
            punctuation=_choice(message, "punctuation", PUNCTUATION_MODES, NormalizeContext.punctuation),
            spell=_field(message, "spell", bool, False),
            capitals=_choice(message, "capitals", CAPITALS_MODES, "none"),
            say_as=say_as,
            cache=_field(message, "cache", bool, True),
        )


def request_id(message: dict[str, Any]) -> int:
    """The request's id; a missing or non-integer id is a bad request."""
    value = message.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestError(ErrorCode.BAD_REQUEST, "every request needs an integer id")
    return value
