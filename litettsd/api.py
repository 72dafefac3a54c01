"""The objects plugins provide and the pipeline consumes.

These are the contracts between the daemon and its plugins: voice engines, normalizers,
encoders and metrics observers. They are Protocols so that third-party plugins need not
inherit from anything; the first-party plugins in ``litettsd_plugins`` follow them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from .config import Settings
    from .ort_capi import InferenceSession, RunOptions


@dataclass(frozen=True)
class VoiceInfo:
    """What a client sees of a voice before it is loaded."""

    id: str
    """Stable id, ``<engine>:<name>``, e.g. ``piper:en_US-joe-medium``."""
    name: str
    """The engine's own name for the voice."""
    engine: str
    """Name of the engine that speaks it."""
    language: str
    """BCP 47 style language tag, e.g. ``en-US``."""
    sample_rate: int
    """Native output rate in Hz."""
    source: str = ""
    """Where the voice came from (file path or package), for ``voices`` and errors."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Engine-specific details worth showing (quality, gender, blendable...)."""

    def to_wire(self) -> dict[str, Any]:
        """The map sent in a ``voices`` reply."""
        return {
            "id": self.id,
            "name": self.name,
            "engine": self.engine,
            "language": self.language,
            "sample_rate": self.sample_rate,
            "source": self.source,
            **self.extra,
        }


class Voice(Protocol):
    """A loaded, warm voice: it turns text into phonemes and phonemes into audio."""

    info: VoiceInfo
    max_tokens: int
    """Most phoneme tokens one inference may take; the pipeline chunks below it."""
    pack_tokens: int
    """Gather whole sentences into chunks of up to this many tokens (0: one sentence per chunk).

    Worth it when each inference has a large fixed cost besides its length."""

    def phonemize(self, text: str) -> str:
        """Phonemes for one clause of already-normalized text."""

    def from_ipa(self, ipa: str) -> str:
        """Phonemes for IPA given by a user (SSML ``<phoneme>``, lexicon entries)."""

    def tokens(self, phonemes: str) -> list[int]:
        """Model input ids for phonemes, without any padding the engine adds itself."""

    def infer(self, phonemes: str, speed: float, run_options: RunOptions) -> np.ndarray:
        """Float32 mono audio in [-1, 1] for one chunk; may be aborted through ``run_options``."""


MARK_FIRST, MARK_LAST = 0xF0000, 0xFFFFD
"""Code points standing for SSML marks inside a sentence's text and phonemes: the n-th mark
of a run is ``chr(MARK_FIRST + n)``. They come from Supplementary Private Use Area-A, which
no normalizer, phonemizer or voice vocabulary uses, so every step passes them through and
``Voice.tokens`` drops them."""


def is_mark(symbol: str) -> bool:
    return MARK_FIRST <= ord(symbol) <= MARK_LAST


class MarkingVoice(Voice, Protocol):
    """A voice that can say where marks inside one inference fall (optional for engines)."""

    marks_inside: bool
    """True when ``infer_marked`` works for this voice (its model gives durations)."""

    def infer_marked(
        self, phonemes: str, speed: float, run_options: RunOptions
    ) -> tuple[np.ndarray, list[int]]:
        """The audio ``infer`` would give, and the sample offset of each mark in ``phonemes``."""


def places_marks(voice: Voice) -> bool:
    """Whether ``voice`` is a ``MarkingVoice`` that can place marks now.

    The pipeline then speaks a sentence holding marks in one inference; for other voices it
    cuts the sentence at each mark.
    """
    return bool(getattr(voice, "marks_inside", False))


@dataclass(frozen=True)
class EngineContext:
    """What the daemon gives an engine so it can find and load voices."""

    settings: Settings
    cache_dir: Path
    """Writable folder for derived files (assembled or prepared models)."""
    create_session: Callable[[Path, str], InferenceSession]
    """Build an inference session for a model file, with the optimizer hooks applied: an
    ``ort_capi.InferenceSession`` (``run``, ``get_inputs``, ``get_outputs``; numeric tensors)."""


class Engine(Protocol):
    """A family of voices run by one kind of model (Piper VITS, Kokoro...)."""

    name: str

    def discover(self, context: EngineContext) -> list[VoiceInfo]:
        """List the voices this engine can speak; cheap, loads no model."""

    def load(self, voice_id: str, context: EngineContext) -> Voice:
        """Load (or blend) a voice so it is ready to infer; raises ``RequestError`` if unknown."""


@dataclass(frozen=True)
class NormalizeContext:
    """What a normalizer may need to know besides the text."""

    language: str = "en-US"
    """The voice's language tag."""
    punctuation: str = "some"
    """Which punctuation is spoken by name: ``none``, ``some``, ``most`` or ``all``."""
    spell: bool = False
    """Read character by character."""
    capitals: str = "none"
    """How upper-case letters are marked when spelling: ``none`` or ``spell`` ("capital A")."""
    markup: bool = True
    """The text may hold HTML tags and entities or Markdown, to be removed rather than read.
    False for SSML, whose markup is already taken out (what is left, such as an escaped
    ``<b>`` in a code editor, is meant literally), and when punctuation ``most`` or ``all``
    asks for symbols to be read."""


class Normalizer(Protocol):
    """One ordered step that rewrites text into the words to be spoken."""

    name: str
    order: int
    """Lower runs first."""

    def normalize(self, text: str, context: NormalizeContext) -> str:
        """Return the rewritten text."""


class Encoder(Protocol):
    """One request's stateful encoder: PCM in, container or codec bytes out, in order."""

    def encode(self, pcm: np.ndarray) -> bytes:
        """Encode int16 mono samples; may return b"" while it buffers."""

    def finish(self) -> bytes:
        """Flush everything left; the concatenation of all outputs is one valid stream."""


class EncoderFactory(Protocol):
    """An output format, e.g. ``mp3``.

    A format that carries only some sample rates may say which in a ``sample_rates``
    attribute (a tuple of Hz); the pipeline then resamples to the nearest of them and
    reports that rate, rather than letting the encoder resample behind its back.
    """

    format: str
    mime_type: str

    def open(self, sample_rate: int, streaming: bool) -> Encoder:
        """A fresh encoder; ``streaming`` says the total length is unknown up front."""


@dataclass(frozen=True)
class RequestRecord:
    """What metrics plugins learn about each finished request."""

    op: str
    outcome: str
    """``ok``, ``cancelled`` or ``error``."""
    error_code: str | None = None
    voice: str | None = None
    format: str | None = None
    text_chars: int = 0
    audio_seconds: float = 0.0
    synth_seconds: float = 0.0
    first_audio_seconds: float | None = None
    total_seconds: float = 0.0
    bytes_sent: int = 0
    cached: bool = False
