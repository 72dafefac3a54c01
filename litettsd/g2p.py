"""Grapheme-to-phoneme conversion with libespeak-ng, as Piper and Kokoro were trained.

espeak-ng runs in a child process (``python -m litettsd.g2p``). It has memory-safety bugs
that ordinary-looking text reaches: ``s'`` repeated 220 times or ``a.`` repeated 200 times
overflow a stack buffer and abort the process (espeak-ng/espeak-ng#2495, #1827). In the
daemon's own process that killed every client's speech; in a child it costs one restart,
and the text that crashed it is phonemized again word by word, long words in short pieces,
so the rest of it is still spoken. The child is started early in start-up, so it loads
beside the daemon's own imports; each call is a round trip over a pipe (tens of
microseconds against milliseconds of inference).

espeak-ng keeps global state (the selected voice, internal buffers) and is not thread-safe,
so every call goes through one lock. The library and its data come from the
``espeakng-loader`` wheel, so nothing depends on a system package.
"""

from __future__ import annotations

import json
import logging
import struct
import subprocess
import sys
import threading
from functools import lru_cache
from typing import IO, Any

log = logging.getLogger(__name__)

_AUDIO_OUTPUT_RETRIEVAL = 1
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_PHONEMES_TIE = 0x80
_EE_OK = 0
_HEADER = struct.Struct("<I")
_PIECE = 16
"""After a crash, words longer than this are phonemized in pieces this long: the overflows
known need a long word (stacked suffixes, dotted abbreviations)."""


class Espeak:
    """A handle on libespeak-ng for text-to-phoneme conversion only (it never makes sound)."""

    def __init__(self) -> None:
        import ctypes

        import espeakng_loader

        self._ctypes = ctypes
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
        buffer = self._ctypes.c_char_p(text.encode("utf-8", "replace"))
        pointer = self._ctypes.pointer(buffer)
        parts = []
        while pointer.contents.value:
            result = self._lib.espeak_TextToPhonemes(pointer, _CHARS_UTF8, mode)
            if result:
                parts.append(result.decode("utf-8", "replace"))
        return " ".join(part.strip() for part in parts if part.strip())


class _Crashed(Exception):
    """The child process died while phonemizing."""


class EspeakProcess:
    """espeak-ng in a child process, started again after a crash; same calls as :class:`Espeak`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._greeted = False
        """Whether the running child has said it loaded espeak-ng (its first message)."""

    def start(self) -> None:
        """Start the child now rather than on first use."""
        with self._lock:
            self._running()

    def phonemize(self, text: str, voice: str, tie: str | None = None) -> str:
        """IPA for ``text`` (see :meth:`Espeak.phonemize`); a text that crashes espeak-ng is
        phonemized word by word, and a piece that still crashes it is left out (logged)."""
        with self._lock:
            try:
                return self._ask(text, voice, tie)
            except _Crashed:
                log.warning("espeak-ng crashed on a text of %d characters; phonemizing it word by word", len(text))
            pieces = [
                word[start : start + _PIECE] if len(word) > _PIECE else word
                for word in text.split()
                for start in range(0, len(word), _PIECE)
            ]
            spoken = []
            for piece in pieces:
                try:
                    spoken.append(self._ask(piece, voice, tie))
                except _Crashed:
                    log.error("espeak-ng crashed on %r; it is left out", piece)
            return " ".join(part for part in spoken if part)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._child is None or self._child.poll() is not None:
            # Its stderr is ours: espeak-ng's own last words ("stack smashing detected") reach the log.
            self._child = subprocess.Popen(
                [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            self._greeted = False
        return self._child

    def _ask(self, text: str, voice: str, tie: str | None) -> str:
        child = self._running()
        assert child.stdin is not None and child.stdout is not None
        if not self._greeted:
            greeting = _read(child.stdout)
            if greeting is None or "fatal" in greeting:
                child.wait()
                self._child = None
                reason = "it exited" if greeting is None else greeting["fatal"]
                raise RuntimeError(f"espeak-ng could not start: {reason}")
            self._greeted = True
        try:
            _write(child.stdin, [text, voice, tie])
            reply = _read(child.stdout)
        except BrokenPipeError:
            reply = None
        if reply is None:
            child.wait()
            self._child = None
            raise _Crashed()
        if "error" in reply:
            raise ValueError(reply["error"])
        return str(reply["phonemes"])


def _write(stream: IO[bytes], message: Any) -> None:
    data = json.dumps(message).encode()
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    """One message, or ``None`` at end of stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return json.loads(data)


def _serve() -> None:
    """The child: answer phonemize requests on stdin until it closes."""
    import signal

    # Ctrl-C in a terminal and systemd's SIGTERM reach the whole process group; the child
    # stays until the daemon, which may still be finishing requests, closes its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        espeak = Espeak()
    except Exception as exc:  # no library, no data: said once, not taken for a crash
        _write(sys.stdout.buffer, {"fatal": f"{type(exc).__name__}: {exc}"})
        return
    _write(sys.stdout.buffer, {"ready": True})
    while (request := _read(sys.stdin.buffer)) is not None:
        try:
            reply = {"phonemes": espeak.phonemize(*request)}
        except ValueError as exc:
            reply = {"error": str(exc)}
        _write(sys.stdout.buffer, reply)


@lru_cache(maxsize=1)
def espeak() -> EspeakProcess:
    """The process-wide espeak-ng, in its child process (started on first use or by ``start``)."""
    return EspeakProcess()


if __name__ == "__main__":
    _serve()
