"""piper-tts (the upstream Python package) as a baseline: ``piper_tts_server.py MODEL.onnx``.

Runs inside ``build/bench-venvs/piper``. ``PiperVoice.load`` reads ``MODEL.onnx.json`` beside
the model and opens an onnxruntime session with piper-tts's own defaults; ``synthesize``
yields one chunk per sentence, so its first chunk is the time to first audio a client of
the library gets.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

from _serve import Synthesizer, serve

from piper import PiperVoice

IMPORTED = time.perf_counter()


def load() -> tuple[Synthesizer, int]:
    voice = PiperVoice.load(sys.argv[1])

    def synthesize(request: dict[str, Any]) -> Iterator[int]:
        for chunk in voice.synthesize(request["text"]):
            yield len(chunk.audio_float_array)

    return synthesize, voice.config.sample_rate


if __name__ == "__main__":
    serve(IMPORTED, load)
