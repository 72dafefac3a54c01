"""The module's stdout: one writer thread, and the encoding of audio blocks.

speech-dispatcher reads a module's audio at about playback speed, so a write to stdout can
block for as long as the audio already queued takes to play. Writing on a thread of its
own keeps the asyncio loop (and with it STOP) responsive; sending every reply and event
through the same FIFO keeps each multi-line message whole and in order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading

log = logging.getLogger("sd_litetts")


def escape_audio(pcm: bytes) -> bytes:
    """HDLC-style escaping of the protocol: 0x0A and 0x7D become 0x7D, byte ^ 0x20.

    The escape byte is replaced first, so the 0x7D that the second replacement
    introduces is not escaped again.
    """
    return pcm.replace(b"\x7d", b"\x7d\x5d").replace(b"\x0a", b"\x7d\x2a")


def audio_block(pcm: bytes, sample_rate: int) -> bytes:
    """One ``705`` block carrying mono 16-bit little-endian ``pcm``, ready to write."""
    return (
        b"705-bits=16\n705-num_channels=1\n705-sample_rate=%d\n705-num_samples=%d\n705-big_endian=0\n705-AUDIO\x00"
        % (sample_rate, len(pcm) // 2)
        + escape_audio(pcm)
        + b"\n705 AUDIO\n"
    )


class Output:
    """The only writer of the module's stdout.

    :meth:`send` queues bytes and returns at once; :meth:`send_and_wait` returns a future
    of the loop that completes once the bytes are written, which is how audio is paced:
    the speaking task hands over one block at a time, so after a STOP at most the block
    being written is still on its way and nothing queued needs to be taken back.
    """

    def __init__(self, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self._fd = fd
        self._loop = loop
        self._queue: queue.SimpleQueue[tuple[bytes, asyncio.Future[None] | None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="sd_litetts-stdout", daemon=True)
        self.broken = False
        """Writing failed (the server is gone); later output is dropped."""
        self._thread.start()

    def send(self, data: bytes) -> None:
        """Queue ``data`` for stdout."""
        self._queue.put((data, None))

    def send_and_wait(self, data: bytes) -> asyncio.Future[None]:
        """Queue ``data``; the returned future completes when it has been written (or dropped)."""
        done: asyncio.Future[None] = self._loop.create_future()
        self._queue.put((data, done))
        return done

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued, then end the thread (waiting at most ``timeout`` seconds)."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _write_loop(self) -> None:
        while (item := self._queue.get()) is not None:
            data, done = item
            if not self.broken:
                self._write_all(data)
            if done is not None:
                try:
                    self._loop.call_soon_threadsafe(_complete, done)
                except RuntimeError:
                    return  # the loop has closed: the module is exiting

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self.broken = True
            log.error("cannot write to speech-dispatcher: %s", exc.strerror or exc)


def _complete(done: asyncio.Future[None]) -> None:
    if not done.done():  # a STOP may have cancelled the task awaiting it
        done.set_result(None)
