"""Give audio files saved from a stream the lengths their headers could not know.

A streamed response sends its header before the length is known. In ``wav`` the RIFF and
data chunk sizes say 0xFFFFFFFF ("unknown", as ffmpeg writes to a pipe); in ``flac`` the
STREAMINFO total-samples field is 0 ("unknown"). Many readers cope, but libsndfile (and so
``soundfile``) cannot read a FLAC of unknown length to its end. Once the whole stream is on
disk the lengths are known and can be patched in place.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

_MAX_SIZE = 0xFFFFFFFF


def finalize_wav_sizes(fileobj: BinaryIO) -> int:
    """Write the real RIFF and data chunk sizes into a seekable WAV file; return the data size.

    The data chunk is taken to run to the end of the file, as it does in a stream. Raises
    ``ValueError`` if the file is not RIFF/WAVE or has no data chunk.
    """
    file_size = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(0)
    riff = fileobj.read(12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    offset = 12
    while True:
        fileobj.seek(offset)
        chunk = fileobj.read(8)
        if len(chunk) < 8:
            raise ValueError("WAV file has no data chunk")
        chunk_id, chunk_size = struct.unpack("<4sI", chunk)
        if chunk_id == b"data":
            break
        offset += 8 + chunk_size + (chunk_size & 1)
    data_size = min(file_size - offset - 8, _MAX_SIZE)
    fileobj.seek(offset + 4)
    fileobj.write(struct.pack("<I", data_size))
    fileobj.seek(4)
    fileobj.write(struct.pack("<I", min(file_size - 8, _MAX_SIZE)))
    fileobj.seek(0, io.SEEK_END)
    return data_size


_FLAC_TOTAL_SAMPLES_OFFSET = 18
"""STREAMINFO starts at byte 8 (after ``fLaC`` and its block header); the 8 bytes from its
10th hold rate, channels and bits per sample, then the 36-bit total sample count."""


def finalize_flac_length(fileobj: BinaryIO, samples: int) -> None:
    """Write the total sample count (from the ``end`` frame) into a seekable FLAC file."""
    fileobj.seek(0)
    head = fileobj.read(_FLAC_TOTAL_SAMPLES_OFFSET + 8)
    if len(head) < _FLAC_TOTAL_SAMPLES_OFFSET + 8 or head[:4] != b"fLaC" or head[4] & 0x7F != 0:
        raise ValueError("not a FLAC file starting with STREAMINFO")
    if not 0 <= samples < 1 << 36:
        raise ValueError(f"{samples} samples do not fit a FLAC header")
    (packed,) = struct.unpack_from(">Q", head, _FLAC_TOTAL_SAMPLES_OFFSET)
    packed = (packed & ~((1 << 36) - 1)) | samples
    fileobj.seek(_FLAC_TOTAL_SAMPLES_OFFSET)
    fileobj.write(struct.pack(">Q", packed))
    fileobj.seek(0, io.SEEK_END)
