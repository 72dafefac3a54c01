"""kokoro-onnx as a baseline: ``kokoro_onnx_server.py MODEL.onnx VOICES.npz VOICE``.

Runs inside ``build/bench-venvs/kokoro`` on litettsd's own assembled int8 model and a voices
file holding the same style table, so only the software around the model differs. Requests
with ``"stream": true`` use ``create_stream`` (its first chunk is the time to first audio);
others use ``create``, the call for whole texts.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from typing import Any

from _serve import Synthesizer, serve

from kokoro_onnx import SAMPLE_RATE, Kokoro

IMPORTED = time.perf_counter()


def load() -> tuple[Synthesizer, int]:
    kokoro = Kokoro(sys.argv[1], sys.argv[2])
    voice = sys.argv[3]
    loop = asyncio.new_event_loop()

    def synthesize(request: dict[str, Any]) -> Iterator[int]:
        if not request.get("stream"):
            audio, _ = kokoro.create(request["text"], voice=voice, speed=1.0, lang="en-us")
            yield len(audio)
            return
        stream = kokoro.create_stream(request["text"], voice=voice, speed=1.0, lang="en-us")
        while True:
            try:
                audio, _ = loop.run_until_complete(anext(stream))
            except StopAsyncIteration:
                return
            yield len(audio)

    return synthesize, SAMPLE_RATE


if __name__ == "__main__":
    serve(IMPORTED, load)
