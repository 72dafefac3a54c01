"""MP3 output through LAME (the ``lameenc`` package).

MP3 is a sequence of self-contained frames with no length in any header, so streamed and
finished requests are encoded the same way: frames leave as LAME completes them and
``finish`` flushes the last partial frame. 64 kbit/s constant bit rate at LAME's best
quality setting (2) is plenty for mono speech. MP3 has only the rates MPEG defines (8000 to
48000 Hz); ``sample_rates`` lists them, so the pipeline resamples any other requested rate
to the nearest one and reports the rate the file really has.
Decoders return LAME's start delay (about 1100 samples) and padding up to a whole frame
as extra audio, since no LAME/Xing tag can be written before the stream ends.
"""

from __future__ import annotations

from typing import Any

import lameenc
import numpy as np

from litettsd.hookspecs import hookimpl

BIT_RATE_KBPS = 64
QUALITY = 2
"""LAME's algorithm quality, 2 (best) to 7 (fastest)."""


class Mp3Encoder:
    """One LAME encoder for one request."""

    def __init__(self, sample_rate: int) -> None:
        self._lame: Any = lameenc.Encoder()
        self._lame.set_bit_rate(BIT_RATE_KBPS)
        self._lame.set_in_sample_rate(sample_rate)
        self._lame.set_channels(1)
        self._lame.set_quality(QUALITY)
        # lameenc refuses to flush an encoder that never encoded; starting it here lets
        # finish() end a request that produced no audio with a valid (silent) stream.
        self._lame.encode(b"")

    def encode(self, pcm: np.ndarray) -> bytes:
        """The MP3 frames completed by these samples; often b"" for short pieces."""
        return bytes(self._lame.encode(pcm.astype("<i2", copy=False).tobytes()))

    def finish(self) -> bytes:
        """The remaining frames, padded to a whole frame."""
        return bytes(self._lame.flush())


class Mp3Format:
    """The ``mp3`` output format."""

    format = "mp3"
    mime_type = "audio/mpeg"
    sample_rates = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

    def open(self, sample_rate: int, streaming: bool) -> Mp3Encoder:
        """An MP3 encoder; MP3 needs no length up front, so ``streaming`` changes nothing."""
        return Mp3Encoder(sample_rate)


@hookimpl
def litettsd_register_encoders() -> list[Mp3Format]:
    """Offer ``mp3``."""
    return [Mp3Format()]
