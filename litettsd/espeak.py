"""libespeak-ng through ctypes, and the child process that runs it for ``g2p``.

``python -m litettsd.espeak LIBRARY DATA`` answers phonemize requests on stdin until it
closes. It imports only the smallest standard modules, and the paths come from the parent
(which has ``espeakng-loader`` and its imports anyway): the child costs about 8 MB of
memory of its own, most of it the interpreter.

Messages both ways are a 4-byte little-endian length, then that many bytes. A request is
``voice NUL tie NUL text`` in UTF-8 (``tie`` empty for none); a reply starts with one byte
that says what follows: ``R`` ready, ``F`` could not start (why), ``P`` phonemes, ``E`` a
refused request (an unknown voice).
"""

from __future__ import annotations

import ctypes
import struct
import sys
from typing import IO

_AUDIO_OUTPUT_RETRIEVAL = 1
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_PHONEMES_TIE = 0x80
_EE_OK = 0
_HEADER = struct.Struct("<I")

READY, FATAL, PHONEMES, REFUSED = b"R", b"F", b"P", b"E"


class Espeak:
    """A handle on libespeak-ng for text-to-phoneme conversion only (it never makes sound).

    espeak-ng keeps global state (the selected voice, internal buffers): one per process.
    """

    def __init__(self, library: str, data: str) -> None:
        self._lib = ctypes.CDLL(library)
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
        if self._lib.espeak_Initialize(_AUDIO_OUTPUT_RETRIEVAL, 0, data.encode(), 0) <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise with data at {data}")
        self._voice: str | None = None

    def phonemize(self, text: str, voice: str, tie: str | None = None) -> str:
        """IPA for ``text``; espeak's own clause splits are joined with spaces.

        ``tie`` (e.g. ``^``) joins the letters of multi-letter phonemes, which Kokoro's
        phoneme mapping needs to tell ``a^ɪ`` from ``a`` followed by ``ɪ``.
        """
        mode = _PHONEMES_IPA
        if tie is not None:
            mode |= _PHONEMES_TIE | (ord(tie) << 8)
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


def write_message(stream: IO[bytes], data: bytes) -> None:
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_message(stream: IO[bytes]) -> bytes | None:
    """One message, or ``None`` at the end of the stream (or in the middle of a message)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    return data if len(data) == size else None


def _serve(library: str, data: str) -> None:
    import signal

    # Ctrl-C in a terminal and systemd's SIGTERM reach the whole process group; the child
    # stays until the daemon, which may still be finishing requests, closes its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        espeak = Espeak(library, data)
    except Exception as exc:  # no library, no data: said once, not taken for a crash
        write_message(stdout, FATAL + f"{type(exc).__name__}: {exc}".encode())
        return
    write_message(stdout, READY)
    while (request := read_message(stdin)) is not None:
        voice, tie, text = request.decode().split("\0", 2)
        try:
            write_message(stdout, PHONEMES + espeak.phonemize(text, voice, tie or None).encode())
        except ValueError as exc:
            write_message(stdout, REFUSED + str(exc).encode())


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
