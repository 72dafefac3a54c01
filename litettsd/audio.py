"""Post-processing between inference and encoding: level, joins, resampling, sample format."""

from __future__ import annotations

from typing import Any

import numpy as np

_FADE_SECONDS = 0.004


def fade_edges(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Raised-cosine ramps at both ends, so chunk joins and inserted silences never click."""
    length = min(int(_FADE_SECONDS * sample_rate), audio.size // 2)
    if length <= 1:
        return audio
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, length, dtype=np.float32))).astype(np.float32)
    audio = audio.copy()
    audio[:length] *= ramp
    audio[-length:] *= ramp[::-1]
    return audio


def silence(seconds: float, sample_rate: int) -> np.ndarray:
    """Float silence of the given length."""
    return np.zeros(int(round(seconds * sample_rate)), dtype=np.float32)


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Clip to [-1, 1] and convert; NaN (a broken model) becomes silence rather than noise."""
    clean = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)
    return (np.clip(clean, -1.0, 1.0) * 32767.0).astype(np.int16)


class Resampler:
    """A streaming sample-rate converter (soxr) whose output is continuous across chunks."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        import soxr

        self._stream: Any = soxr.ResampleStream(source_rate, target_rate, 1, dtype="float32", quality="HQ")
        self.ratio = target_rate / source_rate

    def process(self, audio: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample the next piece; ``last`` flushes the filter's tail."""
        return np.asarray(self._stream.resample_chunk(audio.astype(np.float32), last=last), dtype=np.float32)


def sample_offsets(durations: np.ndarray, samples: int, ids_before: list[int]) -> list[int]:
    """Where each of ``ids_before`` (counts of input ids) ends in audio ``samples`` long, given
    each id's duration in frames: the frames before it times the samples per frame."""
    frames = np.concatenate([[0.0], np.cumsum(np.asarray(durations, dtype=np.float64).reshape(-1))])
    per_frame = samples / frames[-1] if frames[-1] else 0.0
    return [round(frames[min(count, frames.size - 1)] * per_frame) for count in ids_before]


def shift_pitch(audio: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Raise pitch by ``factor`` by playing the audio faster (resampling); duration shrinks by it.

    The caller synthesizes ``factor`` times slower first, so the length comes out right.
    Formants move with the pitch, which is fine for the modest changes screen readers use.
    """
    import soxr

    source_rate = int(round(sample_rate * factor))
    return np.asarray(soxr.resample(audio, source_rate, sample_rate, quality="HQ"), dtype=np.float32)
