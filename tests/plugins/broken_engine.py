"""A test-only engine: one voice fails inside inference, one fails to load (a corrupt model)."""

from __future__ import annotations

from typing import Any

import numpy as np

from litettsd.api import EngineContext, VoiceInfo
from litettsd.hookspecs import hookimpl

INFO = VoiceInfo(id="broken:crash", name="crash", engine="broken", language="en-US", sample_rate=16000)
UNLOADABLE = VoiceInfo(id="broken:corrupt", name="corrupt", engine="broken", language="en-US", sample_rate=16000)


class CrashingVoice:
    info = INFO
    max_tokens = 100
    pack_tokens = 0

    def phonemize(self, text: str) -> str:
        return text

    def from_ipa(self, ipa: str) -> str:
        return ipa

    def tokens(self, phonemes: str) -> list[int]:
        return [ord(c) for c in phonemes]

    def infer(self, phonemes: str, speed: float, run_options: Any) -> np.ndarray:
        raise RuntimeError("inference exploded on purpose")


class BrokenEngine:
    name = "broken"

    def discover(self, context: EngineContext) -> list[VoiceInfo]:
        return [INFO, UNLOADABLE]

    def load(self, voice_id: str, context: EngineContext) -> CrashingVoice:
        if voice_id == UNLOADABLE.id:
            raise ValueError("/nonexistent/corrupt.onnx: protobuf parsing failed")
        return CrashingVoice()


@hookimpl
def litettsd_register_engines() -> list[BrokenEngine]:
    return [BrokenEngine()]
