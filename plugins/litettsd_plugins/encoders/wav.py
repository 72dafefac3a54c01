"""WAV output: a 44-byte RIFF/WAVE header in front of 16-bit little-endian mono PCM.

A finished request gets exact RIFF and data sizes, so every player reads it. A streamed
request cannot know its length when the header leaves, so both sizes are 0xFFFFFFFF, the
"unknown length" value ffmpeg writes when its output is a pipe. libsndfile (and so the
``soundfile`` package) reads such a file by clamping the data size to what the file holds;
a client that saved the stream to disk can patch in the real sizes with
``litettsd_client.finalize.finalize_wav_sizes``.
"""

from __future__ import annotations

import struct

import numpy as np

from litettsd.hookspecs import hookimpl

UNKNOWN_SIZE = 0xFFFFFFFF
"""RIFF and data chunk size written while the length is still unknown."""

_HEADER_SIZE = 44


def wav_header(sample_rate: int, data_size: int) -> bytes:
    """A canonical PCM WAVE header for mono 16-bit audio with ``data_size`` bytes of samples."""
    riff_size = UNKNOWN_SIZE if data_size == UNKNOWN_SIZE else data_size + _HEADER_SIZE - 8
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        riff_size,
        b"WAVE",
        b"fmt ",
        16,  # fmt chunk size
        1,  # WAVE_FORMAT_PCM
        1,  # channels
        sample_rate,
        sample_rate * 2,  # byte rate
        2,  # block align
        16,  # bits per sample
        b"data",
        data_size,
    )


class WavEncoder:
    """Writes the header first when streaming, or holds the samples to size it exactly."""

    def __init__(self, sample_rate: int, streaming: bool) -> None:
        self._sample_rate = sample_rate
        self._streaming = streaming
        self._header_sent = False
        self._held: list[bytes] = []

    def encode(self, pcm: np.ndarray) -> bytes:
        """Streaming: the samples (after the header, the first time); otherwise b"" while holding them."""
        data = pcm.astype("<i2", copy=False).tobytes()
        if not self._streaming:
            self._held.append(data)
            return b""
        return self._header() + data

    def finish(self) -> bytes:
        """Streaming: the header if no audio came; otherwise the whole file with exact sizes."""
        if self._streaming:
            return self._header()
        data = b"".join(self._held)
        self._held.clear()
        return wav_header(self._sample_rate, len(data)) + data

    def _header(self) -> bytes:
        if self._header_sent:
            return b""
        self._header_sent = True
        return wav_header(self._sample_rate, UNKNOWN_SIZE)


class WavFormat:
    """The ``wav`` output format."""

    format = "wav"
    mime_type = "audio/wav"

    def open(self, sample_rate: int, streaming: bool) -> WavEncoder:
        """A WAV writer for mono 16-bit audio at ``sample_rate``."""
        return WavEncoder(sample_rate, streaming)


@hookimpl
def litettsd_register_encoders() -> list[WavFormat]:
    """Offer ``wav``."""
    return [WavFormat()]
