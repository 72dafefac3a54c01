"""FLAC and Ogg Vorbis output through libsndfile (the ``soundfile`` package).

libsndfile writes into ``_Sink``, a seekable in-memory file that hands bytes on as soon as
libsndfile appends them. What libsndfile does with that file (traced with libsndfile 1.2.2):

* FLAC: the first write emits "fLaC", STREAMINFO and a VORBIS_COMMENT block; after that
  libFLAC appends one frame per 4096 samples, so up to 4095 samples wait inside it. At
  close it appends the last frame, then seeks back three times to rewrite STREAMINFO in
  place: the MD5 (offset 26), the total sample count (offset 21) and the minimum and
  maximum frame sizes (offset 12).
* Ogg Vorbis: no seeks at all. The first write emits the three header packets on their
  own pages; audio leaves a page at a time, and libogg only closes a page once about 4 KiB
  of packets have gathered (most of a second of speech). Neither ``sf_write_sync`` nor
  ``SFC_SET_OGG_PAGE_LATENCY_MS`` (Opus only) makes it close one sooner.

A finished (non-streamed) request keeps every byte until close, so the STREAMINFO
rewrite lands and the file carries its exact length and MD5. A streamed request has
already sent the header when the rewrite comes, so the sink drops writes over sent bytes:
STREAMINFO keeps zero for total samples, frame sizes and MD5, which FLAC defines as
"unknown". Such a file is valid and ffmpeg decodes all of it. libsndfile decodes every
frame too, but reports the length as ``SF_COUNT_MAX`` and cannot seek to the very end of a
FLAC of unknown length, so ``soundfile.read`` refuses it and ``SoundFile.read`` raises once
it reaches the last sample. Clients that save FLAC for soundfile should not stream it.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from litettsd.hookspecs import hookimpl

_SFC_UPDATE_HEADER_NOW = 0x1060
"""libsndfile command that writes the header before any audio (see ``finish``)."""


class _Sink:
    """A write-only seekable file that releases bytes as libsndfile appends them.

    Bytes before ``_released`` have left; a later write over them is dropped.
    """

    def __init__(self) -> None:
        self._held = bytearray()
        """File contents from offset ``_released`` on."""
        self._released = 0
        self._position = 0

    def write(self, data: bytes) -> int:
        """Store ``data`` at the current position, except any part over released bytes."""
        size = len(data)
        start = self._position - self._released
        self._position += size
        if start < 0:
            data = data[-start:]
            start = 0
        if start > len(self._held):
            self._held.extend(bytes(start - len(self._held)))
        self._held[start : start + len(data)] = data
        # The whole write counts as done even if part was dropped: libsndfile fails on short writes.
        return size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the write position, as ``io.IOBase.seek`` does."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._released + len(self._held)}
        self._position = base[whence] + offset
        return self._position

    def tell(self) -> int:
        """The write position."""
        return self._position

    def release(self) -> bytes:
        """Every byte held so far, which from now on can no longer change."""
        data = bytes(self._held)
        self._released += len(data)
        self._held.clear()
        return data


class SoundFileEncoder:
    """One libsndfile writer for one request."""

    def __init__(self, sample_rate: int, streaming: bool, container: str, subtype: str) -> None:
        self._streaming = streaming
        self._sink = _Sink()
        import soundfile  # libsndfile through cffi: ~8 ms of start-up, paid by the first FLAC/Ogg request

        self._file: Any = soundfile.SoundFile(
            self._sink, mode="w", samplerate=sample_rate, channels=1, format=container, subtype=subtype
        )
        self._samples = 0

    def encode(self, pcm: np.ndarray) -> bytes:
        """Streaming: whatever libsndfile has written so far; otherwise b"" while it all stays in memory."""
        self._file.write(pcm)
        self._samples += len(pcm)
        return self._sink.release() if self._streaming else b""

    def finish(self) -> bytes:
        """Close the file and return every byte not yet released."""
        if self._samples == 0 and self._file.format == "FLAC":
            # libsndfile writes nothing at all for a FLAC file that never got a sample;
            # asking for the header makes an empty request still a valid (empty) file.
            import soundfile

            soundfile._snd.sf_command(self._file._file, _SFC_UPDATE_HEADER_NOW, soundfile._ffi.NULL, 0)
        self._file.close()
        return self._sink.release()


class SoundFileFormat:
    """An output format written by libsndfile."""

    def __init__(self, format: str, mime_type: str, container: str, subtype: str) -> None:
        self.format = format
        self.mime_type = mime_type
        self._container = container
        self._subtype = subtype

    def open(self, sample_rate: int, streaming: bool) -> SoundFileEncoder:
        """A libsndfile writer for mono 16-bit input at ``sample_rate``."""
        return SoundFileEncoder(sample_rate, streaming, self._container, self._subtype)


@hookimpl
def litettsd_register_encoders() -> list[SoundFileFormat]:
    """Offer ``flac`` (lossless, 16-bit) and ``ogg`` (Vorbis at libsndfile's default quality 0.4)."""
    return [
        SoundFileFormat("flac", "audio/flac", "FLAC", "PCM_16"),
        SoundFileFormat("ogg", "audio/ogg", "OGG", "VORBIS"),
    ]
