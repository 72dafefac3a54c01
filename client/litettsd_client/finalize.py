"""Give audio files saved from a stream the lengths their headers could not know.

A streamed response sends its header before the length is known. In ``wav`` the RIFF and
data chunk sizes say 0xFFFFFFFF ("unknown", as ffmpeg writes to a pipe); in ``flac`` the
STREAMINFO total-samples field is 0 ("unknown"). Many readers cope, but libsndfile (and so
``soundfile``) cannot read a FLAC of unknown length to its end. Once the whole stream is
written the lengths are known and can be patched in place.

The patches are computed from the stream's first bytes (``HEAD_BYTES``), kept by the writer,
so a file that can be rewritten but not read back (a shell's ``> out.flac``, opened for
writing only) is patched too.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

HEAD_BYTES = 4096
"""How much of the start of a stream the patches need: the WAV chunk list, FLAC's STREAMINFO."""
Patch = tuple[int, bytes]
"""Bytes to write at an offset of the file."""

_MAX_SIZE = 0xFFFFFFFF


def wav_size_patches(head: bytes, file_size: int) -> list[Patch]:
    """The real RIFF and data chunk sizes of a WAV stream of ``file_size`` bytes starting with ``head``.

    The data chunk is taken to run to the end of the file, as it does in a stream. Raises
    ``ValueError`` if ``head`` is not RIFF/WAVE or holds no data chunk header.
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    offset = 12
    while True:
        chunk = head[offset : offset + 8]
        if len(chunk) < 8:
            raise ValueError("WAV file has no data chunk")
        chunk_id, chunk_size = struct.unpack("<4sI", chunk)
        if chunk_id == b"data":
            break
        offset += 8 + chunk_size + (chunk_size & 1)
    data_size = min(file_size - offset - 8, _MAX_SIZE)
    return [(offset + 4, struct.pack("<I", data_size)), (4, struct.pack("<I", min(file_size - 8, _MAX_SIZE)))]


_FLAC_TOTAL_SAMPLES_OFFSET = 18
"""STREAMINFO starts at byte 8 (after ``fLaC`` and its block header); the 8 bytes from its
10th hold rate, channels and bits per sample, then the 36-bit total sample count."""


def flac_length_patches(head: bytes, samples: int) -> list[Patch]:
    """The total sample count (from the ``end`` frame) for a FLAC stream starting with ``head``."""
    if len(head) < _FLAC_TOTAL_SAMPLES_OFFSET + 8 or head[:4] != b"fLaC" or head[4] & 0x7F != 0:
        raise ValueError("not a FLAC file starting with STREAMINFO")
    if not 0 <= samples < 1 << 36:
        raise ValueError(f"{samples} samples do not fit a FLAC header")
    (packed,) = struct.unpack_from(">Q", head, _FLAC_TOTAL_SAMPLES_OFFSET)
    packed = (packed & ~((1 << 36) - 1)) | samples
    return [(_FLAC_TOTAL_SAMPLES_OFFSET, struct.pack(">Q", packed))]


def apply_patches(fileobj: BinaryIO, patches: list[Patch]) -> None:
    """Write each patch into a seekable file, then leave it positioned at its end."""
    for offset, data in patches:
        fileobj.seek(offset)
        fileobj.write(data)
    fileobj.seek(0, io.SEEK_END)


def finalize_wav_sizes(fileobj: BinaryIO) -> int:
    """Write the real RIFF and data chunk sizes into a readable, seekable WAV file; return the data size."""
    file_size = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(0)
    patches = wav_size_patches(fileobj.read(HEAD_BYTES), file_size)
    apply_patches(fileobj, patches)
    return int(struct.unpack("<I", patches[0][1])[0])


def finalize_flac_length(fileobj: BinaryIO, samples: int) -> None:
    """Write the total sample count into a readable, seekable FLAC file."""
    fileobj.seek(0)
    apply_patches(fileobj, flac_length_patches(fileobj.read(HEAD_BYTES), samples))
