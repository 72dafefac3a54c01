"""Raw PCM output: signed 16-bit little-endian mono samples with no header.

The cheapest format for clients that feed a sound card directly (speech-dispatcher, aplay):
nothing to parse, nothing to buffer, and every piece can be played the moment it arrives.
"""

from __future__ import annotations

import numpy as np

from litettsd.hookspecs import hookimpl


class PcmEncoder:
    """Passes samples through as little-endian bytes; keeps no state."""

    def encode(self, pcm: np.ndarray) -> bytes:
        """The samples as s16le bytes, always whole samples."""
        return pcm.astype("<i2", copy=False).tobytes()

    def finish(self) -> bytes:
        """Nothing is ever held back."""
        return b""


class PcmFormat:
    """The ``pcm`` output format."""

    format = "pcm"
    # Not audio/L16: RFC 2586 defines L16 as big-endian, and these samples are little-endian.
    mime_type = "audio/pcm"

    def open(self, sample_rate: int, streaming: bool) -> PcmEncoder:
        """A pass-through encoder; rate and streaming change nothing for headerless audio."""
        return PcmEncoder()


@hookimpl
def litettsd_register_encoders() -> list[PcmFormat]:
    """Offer ``pcm``."""
    return [PcmFormat()]
