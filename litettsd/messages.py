"""Typed requests parsed from wire maps, with every field checked once, here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ErrorCode, RequestError
from .scheduler import PRIORITIES


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
    volume: float
    """Linear gain applied before encoding."""
    stream: bool
    """Send audio as it is made (true) or as one frame at the end (false)."""
    priority: str
    """speech-dispatcher message class; decides who waits for whom."""

    @classmethod
    def from_wire(cls, message: dict[str, Any], max_text_chars: int) -> SynthesizeRequest:
        """Validate a ``synthesize`` map; raises ``RequestError`` naming the bad field."""
        if "text" not in message:
            raise RequestError(ErrorCode.BAD_REQUEST, "synthesize needs text")
        text = _field(message, "text", str, "")
        if len(text) > max_text_chars:
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
            speed=float(_within("speed", _field(message, "speed", (int, float), 1.0), 0.25, 4.0)),
            volume=float(_within("volume", _field(message, "volume", (int, float), 1.0), 0.0, 4.0)),
            stream=_field(message, "stream", bool, True),
            priority=priority,
        )


def request_id(message: dict[str, Any]) -> int:
    """The request's id; a missing or non-integer id is a bad request."""
    value = message.get("id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestError(ErrorCode.BAD_REQUEST, "every request needs an integer id")
    return value


def text_field(message: dict[str, Any], name: str = "text") -> str:
    """A required string field."""
    value = message.get(name)
    if not isinstance(value, str):
        raise RequestError(ErrorCode.BAD_REQUEST, f"{name} must be a string")
    return value
