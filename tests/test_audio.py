"""Post-processing on real numbers: the speed correction's stretch and the shortfall it corrects."""

from __future__ import annotations

import numpy as np
import pytest

from litettsd.audio import speed_shortfall, time_stretch

RATE = 22050


def _voiced(seconds: float) -> np.ndarray:
    """A 150 Hz tone whose loudness moves three times a second, like syllables."""
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * 150 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def _pitch(audio: np.ndarray) -> float:
    piece = audio[: RATE // 2] * np.hanning(RATE // 2)
    return float(np.argmax(np.abs(np.fft.rfft(piece)))) * RATE / (RATE // 2)


@pytest.mark.parametrize("speedup", [0.5, 0.8, 1.25, 2.0, 3.0])
def test_time_stretch_changes_length_without_changing_pitch_or_level(speedup: float) -> None:
    audio = _voiced(2.0)
    faster = time_stretch(audio, speedup)
    assert faster.size == round(audio.size / speedup)
    assert _pitch(faster) == pytest.approx(150, abs=2)
    level = float(np.sqrt(np.mean(audio**2)))
    assert float(np.sqrt(np.mean(faster**2))) == pytest.approx(level, rel=0.05)


def test_time_stretch_leaves_small_or_short_changes_alone() -> None:
    audio = _voiced(1.0)
    assert time_stretch(audio, 1.01) is audio
    short = audio[:600]  # under two frames: nothing to overlap
    assert time_stretch(short, 2.0) is short


def test_speed_shortfall_counts_what_whole_frames_kept() -> None:
    # Durations before rounding, at speed 2: 0.3 frames each would be 0.6 at speed 1.
    raw = np.array([0.3, 0.3, 4.0, 0.3])
    made = np.ceil(raw)  # what the graph made: [1, 1, 4, 1] = 7 frames
    # At speed 1 they round to [1, 1, 8, 1] = 11 frames; half of that is 5.5, and 7 were made.
    assert speed_shortfall(made, raw, 2.0, np.ceil) == pytest.approx(7 / 5.5)
    # Long phonemes lose nothing to rounding: no shortfall.
    long = np.array([4.0, 6.0])
    assert speed_shortfall(np.ceil(long), long, 2.0, np.ceil) == pytest.approx(1.0)
