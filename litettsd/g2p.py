"""Grapheme-to-phoneme conversion with libespeak-ng, as Piper and Kokoro were trained.

espeak-ng runs in a child process (``litettsd.espeak``). It has memory-safety bugs that
ordinary-looking text reaches: ``s'`` repeated 220 times or ``a.`` repeated 200 times
overflow a stack buffer and abort the process (espeak-ng/espeak-ng#2495, #1827). In the
daemon's own process that ended every client's speech; in a child it costs one restart, and
the text that crashed it is phonemized again word by word, long words in short pieces, so
the rest of it is still spoken. The child is started early in start-up, so it loads beside
the daemon's own imports; each call is a round trip over a pipe (a fraction of a
millisecond, against tens of milliseconds of inference).

espeak-ng is not thread-safe and keeps the selected voice as global state, so calls take
turns. The library and its data come from the ``espeakng-loader`` wheel, so nothing depends
on a system package.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from functools import lru_cache

from .espeak import FATAL, PHONEMES, REFUSED, read_message, write_message
from .sdnotify import child_environment

log = logging.getLogger(__name__)

_PIECE = 16
"""After a crash, words longer than this are phonemized in pieces this long: the overflows
known need a long word (stacked suffixes, dotted abbreviations)."""


class _Crashed(Exception):
    """The child process died while phonemizing."""


class EspeakProcess:
    """espeak-ng in a child process, started again after a crash."""

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
        """IPA for ``text`` (see ``espeak.Espeak.phonemize``); a text that crashes espeak-ng
        is phonemized word by word, and a piece that still crashes it is left out (logged)."""
        with self._lock:
            try:
                return self._ask(text, voice, tie)
            except _Crashed:
                log.warning("espeak-ng crashed on a text of %d characters; phonemizing it word by word", len(text))
            pieces = [word[start : start + _PIECE] for word in text.split() for start in range(0, len(word), _PIECE)]
            spoken = []
            for piece in pieces:
                try:
                    spoken.append(self._ask(piece, voice, tie))
                except _Crashed:
                    log.error("espeak-ng crashed on %r; it is left out", piece)
            return " ".join(part for part in spoken if part)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._child is None or self._child.poll() is not None:
            import espeakng_loader

            # Its stderr is ours: espeak-ng's last words ("stack smashing detected") reach the log.
            command = [sys.executable, "-m", "litettsd.espeak"]
            command += [espeakng_loader.get_library_path(), espeakng_loader.get_data_path()]
            self._child = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_environment()
            )
            self._greeted = False
        return self._child

    def _ask(self, text: str, voice: str, tie: str | None) -> str:
        child = self._running()
        assert child.stdin is not None and child.stdout is not None
        if not self._greeted:
            greeting = read_message(child.stdout)
            if greeting is None or greeting.startswith(FATAL):
                child.wait()
                self._child = None
                reason = "it exited" if greeting is None else greeting[1:].decode()
                raise RuntimeError(f"espeak-ng could not start: {reason}")
            self._greeted = True
        try:
            write_message(child.stdin, "\0".join((voice, tie or "", text)).encode("utf-8", "replace"))
            reply = read_message(child.stdout)
        except BrokenPipeError:
            reply = None
        if reply is None:
            child.wait()
            self._child = None
            raise _Crashed()
        if reply.startswith(REFUSED):
            raise ValueError(reply[1:].decode())
        assert reply.startswith(PHONEMES), reply[:1]
        return reply[1:].decode()


@lru_cache(maxsize=1)
def espeak() -> EspeakProcess:
    """The process-wide espeak-ng, in its child process (started on first use or by ``start``)."""
    return EspeakProcess()
