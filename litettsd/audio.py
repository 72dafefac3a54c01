"""Post-processing between inference and encoding: level, joins, resampling, sample format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_FADE_SECONDS = 0.004


def fade_edges(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Raised-cosine ramps at both ends, so chunk joins and inserted silences never click.

    Always a new array, which the caller may change in place."""
    length = min(int(_FADE_SECONDS * sample_rate), audio.size // 2)
    if length <= 1:
        return audio.copy()
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
    clean = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)  # a copy: the rest is done in it
    np.clip(clean, -1.0, 1.0, out=clean)
    clean *= np.float32(32767.0)
    return clean.astype(np.int16)


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


_STRETCH_FRAME = 512
"""WSOLA frame: ~23 ms at 22.05 kHz, two pitch periods of a low voice."""
_STRETCH_TOLERANCE = 0.02
"""Speed errors below this are left alone: nobody hears 2%, and the stretch is not free."""


def speed_shortfall(
    made: np.ndarray, raw: np.ndarray, speed: float, frames: Callable[[np.ndarray], np.ndarray]
) -> float:
    """How much slower than asked for a model's speech came out, as a factor to speed it up
    by (1.0 when right, below 1 when it came out too fast).

    VITS and Kokoro divide each phoneme's predicted duration (``raw``, in frames, already at
    ``speed``) by the speed and then round it to whole frames, at least one (``frames``: the
    model's rounding, which gave ``made``). Short phonemes cannot shrink below one frame, so
    at speed 2 Piper's speech was only ~1.6x as fast as at speed 1, and ~2.1x at speed 4; at
    speed 0.5, rounding up once instead of twice made it ~1.8x as long, not 2x. The
    durations at speed 1 are ``raw * speed`` rounded the same way; the audio should be
    ``speed`` times shorter than those, and it is ``made / target`` times too long.
    """
    made_frames = float(np.sum(made))
    target = float(np.sum(frames(np.asarray(raw, dtype=np.float64) * speed))) / speed
    return made_frames / target if target > 0 else 1.0


def time_stretch(audio: np.ndarray, speedup: float) -> np.ndarray:
    """``audio`` played ``speedup`` times faster (slower, below 1) at the same pitch (WSOLA).

    Frames of ``_STRETCH_FRAME`` samples are overlap-added at half a frame apart; each is taken
    from near where the speed-up puts it, at the offset (within a quarter frame) whose samples
    best continue the frame before, so voiced sounds keep their phase and do not warble.
    """
    if abs(speedup - 1.0) < _STRETCH_TOLERANCE or audio.size < 2 * _STRETCH_FRAME:
        return audio
    frame, hop = _STRETCH_FRAME, _STRETCH_FRAME // 2
    tolerance = hop // 2
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)).astype(np.float32)
    length = int(round(audio.size / speedup))
    # Half a frame of zeros in front, so the first output samples are covered by two frames
    # like the rest; enough behind for the last frame and its search.
    source = np.concatenate(
        [np.zeros(hop, np.float32), audio.astype(np.float32), np.zeros(frame + 2 * tolerance, np.float32)]
    )
    count = (length + hop - 1) // hop + 1
    out = np.zeros(count * hop + frame, dtype=np.float32)
    previous = 0
    for index in range(count):
        ideal = min(int(round(index * hop * speedup)), source.size - frame - tolerance)
        if index == 0:
            position = ideal
        else:
            template = source[previous + hop : previous + hop + frame]
            low = max(0, ideal - tolerance)
            region = source[low : ideal + tolerance + frame]
            position = low + int(np.argmax(np.correlate(region, template, mode="valid")))
        out[index * hop : index * hop + frame] += source[position : position + frame] * window
        previous = position
    return out[hop : hop + length]


def shift_pitch(audio: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Raise pitch by ``factor`` by playing the audio faster (resampling); duration shrinks by it.

    The caller synthesizes ``factor`` times slower first, so the length comes out right.
    Formants move with the pitch, which is fine for the modest changes screen readers use.
    """
    import soxr

    source_rate = int(round(sample_rate * factor))
    return np.asarray(soxr.resample(audio, source_rate, sample_rate, quality="HQ"), dtype=np.float32)
