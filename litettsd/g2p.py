"""Grapheme-to-phoneme conversion with libespeak-ng, as Piper and Kokoro were trained.

espeak-ng keeps global state (the selected voice, internal buffers) and is not
thread-safe, so every call goes through one lock. The library and its data come from
the ``espeakng-loader`` wheel, so nothing depends on a system package.
"""

from __future__ import annotations

import ctypes
import threading
from functools import lru_cache

_AUDIO_OUTPUT_RETRIEVAL = 1
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_PHONEMES_TIE = 0x80
_EE_OK = 0


class Espeak:
    """A handle on libespeak-ng for text-to-phoneme conversion only (it never makes sound)."""

    def __init__(self) -> None:
        import espeakng_loader

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetVoiceByName.restype = ctypes.c_int
        self._lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_int,
            ctypes.c_int,
        ]
        self._lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        data = espeakng_loader.get_data_path().encode()
        if self._lib.espeak_Initialize(_AUDIO_OUTPUT_RETRIEVAL, 0, data, 0) <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise with data at {data.decode()}")
        self._lock = threading.Lock()
        self._voice: str | None = None

    def phonemize(self, text: str, voice: str, tie: str | None = None) -> str:
        """IPA for ``text``; espeak's own clause splits are joined with spaces.

        ``tie`` (e.g. ``^``) joins the letters of multi-letter phonemes, which Kokoro's
        phoneme mapping needs to tell ``a^ɪ`` from ``a`` followed by ``ɪ``.
        """
        mode = _PHONEMES_IPA
        if tie is not None:
            mode |= _PHONEMES_TIE | (ord(tie) << 8)
        with self._lock:
            if voice != self._voice:
                if self._lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                    raise ValueError(f"espeak-ng has no voice {voice!r}")
                self._voice = voice
            buffer = ctypes.c_char_p(text.encode("utf-8", "replace"))
            pointer = ctypes.pointer(buffer)
            parts = []
            while pointer.contents.value:
                result = self._lib.espeak_TextToPhonemes(pointer, _CHARS_UTF8, mode)
                if result:
                    parts.append(result.decode("utf-8", "replace"))
        return " ".join(part.strip() for part in parts if part.strip())


@lru_cache(maxsize=1)
def espeak() -> Espeak:
    """The process-wide espeak-ng handle, initialised on first use (it costs ~10 ms)."""
    return Espeak()
