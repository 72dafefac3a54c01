"""Encoder plugins: real audio in uneven pieces, decoded back with libsndfile (soundfile)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from litettsd_client.finalize import finalize_wav_sizes
from litettsd_plugins.encoders import mp3, pcm, soundfile_formats, wav

RATE = 22050
CUTS = [1, 1, 700, 5000, 5001, 23456, 40000, 66149]
"""Where the signal is split: pieces of 1, 0, 699, 4300, 1... samples, as a pipeline sends them."""
MP3_FRAME = 1152
LAME_DELAY = 1105
"""Samples of silence LAME's encoder and decoder delays put in front of the audio."""

FACTORIES = {f.format: f for m in (pcm, wav, mp3, soundfile_formats) for f in m.litettsd_register_encoders()}


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    """Three seconds of a 220 Hz tone with noise on top, as int16."""
    rng = np.random.default_rng(1234)
    t = np.arange(3 * RATE) / RATE
    wave = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    return (wave * 32767).astype(np.int16)


def encode(fmt: str, audio: np.ndarray, streaming: bool, rate: int = RATE) -> list[bytes]:
    """Every output of one encoder: one per piece, then finish()."""
    encoder = FACTORIES[fmt].open(rate, streaming)
    outputs = [encoder.encode(piece) for piece in np.split(audio, [c for c in CUTS if c <= audio.size])]
    outputs.append(encoder.finish())
    return outputs


def decode(fmt: str, data: bytes, rate: int = RATE) -> tuple[np.ndarray, int]:
    """Samples and sample rate as libsndfile reads them."""
    raw = {"samplerate": rate, "channels": 1, "format": "RAW", "subtype": "PCM_16", "endian": "LITTLE"}
    with sf.SoundFile(io.BytesIO(data), **(raw if fmt == "pcm" else {})) as f:
        return f.read(dtype="int16"), f.samplerate


def best_alignment(reference: np.ndarray, decoded: np.ndarray, max_lag: int) -> tuple[int, float]:
    """The delay (0..max_lag) at which ``decoded`` best matches ``reference``, and the correlation there."""
    ref = reference.astype(np.float64)
    out = decoded.astype(np.float64)
    scores = []
    for lag in range(max_lag + 1):
        n = min(ref.size, out.size - lag)
        scores.append(float(np.corrcoef(ref[:n], out[lag : lag + n])[0, 1]))
    lag = int(np.argmax(scores))
    return lag, scores[lag]


def streaminfo(flac: bytes) -> tuple[int, int, int, bytes]:
    """Min frame size, max frame size, total samples and MD5 from a FLAC file's STREAMINFO."""
    assert flac[:4] == b"fLaC" and flac[4] & 0x7F == 0, "STREAMINFO must be the first metadata block"
    min_frame = int.from_bytes(flac[12:15], "big")
    max_frame = int.from_bytes(flac[15:18], "big")
    total = int.from_bytes(flac[21:26], "big") & 0xFFFFFFFFF
    return min_frame, max_frame, total, flac[26:42]


def test_every_format_is_registered() -> None:
    assert sorted(FACTORIES) == ["flac", "mp3", "ogg", "pcm", "wav"]
    assert {f.mime_type for f in FACTORIES.values()} == {
        "audio/pcm",
        "audio/wav",
        "audio/mpeg",
        "audio/flac",
        "audio/ogg",
    }


@pytest.mark.parametrize(
    ("fmt", "streaming"),
    [("pcm", True), ("pcm", False), ("wav", True), ("wav", False), ("flac", False)],
)
def test_lossless_formats_give_back_the_exact_samples(signal: np.ndarray, fmt: str, streaming: bool) -> None:
    decoded, rate = decode(fmt, b"".join(encode(fmt, signal, streaming)))
    assert rate == RATE
    np.testing.assert_array_equal(decoded, signal)


def test_streamed_flac_is_the_finished_file_with_unknown_length(signal: np.ndarray) -> None:
    streamed = b"".join(encode("flac", signal, streaming=True))
    finished = b"".join(encode("flac", signal, streaming=False))
    assert streaminfo(finished)[2] == signal.size
    assert streaminfo(finished)[3] != bytes(16)
    # The header left before the length was known: sizes, count and MD5 stay "unknown" (0).
    assert streaminfo(streamed) == (0, 0, 0, bytes(16))
    # Everything else, every audio frame included, is byte for byte the finished file.
    assert len(streamed) == len(finished)
    assert streamed[:12] == finished[:12]
    assert streamed[18:21] == finished[18:21]
    assert streamed[42:] == finished[42:]
    with sf.SoundFile(io.BytesIO(streamed)) as f:
        assert (f.format, f.samplerate, f.channels) == ("FLAC", RATE, 1)
        # Every sample but the last reads back exactly. Reading the last one makes soundfile
        # seek to the end, which libsndfile cannot do without a length (see soundfile_formats).
        np.testing.assert_array_equal(f.read(signal.size - 1, dtype="int16"), signal[:-1])


@pytest.mark.parametrize("streaming", [True, False])
def test_mp3_decodes_to_the_signal_behind_lames_delay(signal: np.ndarray, streaming: bool) -> None:
    decoded, rate = decode("mp3", b"".join(encode("mp3", signal, streaming)))
    assert rate == RATE
    assert signal.size <= decoded.size <= signal.size + LAME_DELAY + MP3_FRAME
    lag, correlation = best_alignment(signal, decoded, LAME_DELAY + MP3_FRAME)
    assert abs(lag - LAME_DELAY) <= 2
    assert correlation > 0.99


@pytest.mark.parametrize("streaming", [True, False])
def test_ogg_decodes_to_the_signal(signal: np.ndarray, streaming: bool) -> None:
    decoded, rate = decode("ogg", b"".join(encode("ogg", signal, streaming)))
    assert rate == RATE
    assert decoded.size == signal.size
    lag, correlation = best_alignment(signal, decoded, 64)
    assert lag == 0
    assert correlation > 0.99


@pytest.mark.parametrize("fmt", ["pcm", "wav", "mp3", "ogg"])
def test_streamed_and_finished_decode_alike(signal: np.ndarray, fmt: str) -> None:
    streamed, _ = decode(fmt, b"".join(encode(fmt, signal, streaming=True)))
    finished, _ = decode(fmt, b"".join(encode(fmt, signal, streaming=False)))
    np.testing.assert_array_equal(streamed, finished)


@pytest.mark.parametrize("fmt", ["pcm", "wav", "mp3", "flac", "ogg"])
def test_streaming_hands_out_audio_before_finish(signal: np.ndarray, fmt: str) -> None:
    outputs = encode(fmt, signal, streaming=True)
    before_finish = sum(len(o) for o in outputs[:-1])
    assert before_finish > len(outputs[-1])
    if fmt != "mp3":  # MP3 has no header; LAME holds a one-sample piece
        assert len(outputs[0]) > 0, "the first piece must already bring the header"


def test_pcm_pieces_are_whole_samples(signal: np.ndarray) -> None:
    outputs = encode("pcm", signal, streaming=True)
    pieces = np.split(signal, CUTS)
    assert [len(o) for o in outputs] == [2 * p.size for p in pieces] + [0]
    assert all(len(o) % 2 == 0 for o in outputs)
    assert outputs[2] == pieces[2].astype("<i2").tobytes()


def test_wav_header_sizes(signal: np.ndarray) -> None:
    finished = b"".join(encode("wav", signal, streaming=False))
    riff_size, data_size = struct.unpack("<I", finished[4:8])[0], struct.unpack("<I", finished[40:44])[0]
    assert (finished[:4], finished[8:12], finished[36:40]) == (b"RIFF", b"WAVE", b"data")
    assert (riff_size, data_size) == (len(finished) - 8, 2 * signal.size)

    outputs = encode("wav", signal, streaming=True)
    assert len(outputs[0]) == 44 + 2, "header then the one-sample first piece"
    assert struct.unpack("<I", outputs[0][4:8])[0] == 0xFFFFFFFF
    assert struct.unpack("<I", outputs[0][40:44])[0] == 0xFFFFFFFF
    assert outputs[-1] == b""
    assert outputs[0][8:40] == finished[8:40]


@pytest.mark.parametrize("fmt", ["pcm", "wav", "ogg"])
def test_a_request_without_audio_is_a_valid_empty_file(fmt: str) -> None:
    for streaming in (True, False):
        encoder = FACTORIES[fmt].open(RATE, streaming)
        decoded, rate = decode(fmt, encoder.encode(np.empty(0, np.int16)) + encoder.finish())
        assert (decoded.size, rate) == (0, RATE)


def test_flac_and_mp3_without_audio_still_open() -> None:
    flac = FACTORIES["flac"].open(RATE, True).finish()
    with sf.SoundFile(io.BytesIO(flac)) as f:
        assert (f.format, f.samplerate) == ("FLAC", RATE)
    silence, rate = decode("mp3", FACTORIES["mp3"].open(RATE, True).finish())
    assert rate == RATE
    assert 0 < silence.size <= 2 * MP3_FRAME
    assert np.abs(silence).max() <= 1


@pytest.mark.parametrize("rate", [16000, 24000, 48000])
@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "ogg"])
def test_sample_rate_is_kept(signal: np.ndarray, fmt: str, rate: int) -> None:
    decoded, decoded_rate = decode(fmt, b"".join(encode(fmt, signal[:RATE], streaming=False, rate=rate)), rate)
    assert decoded_rate == rate
    assert decoded.size >= RATE


def test_finalize_wav_sizes_turns_a_stream_into_the_finished_file(signal: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "streamed.wav"
    path.write_bytes(b"".join(encode("wav", signal, streaming=True)))
    with path.open("r+b") as f:
        assert finalize_wav_sizes(f) == 2 * signal.size
        assert f.tell() == path.stat().st_size
    assert path.read_bytes() == b"".join(encode("wav", signal, streaming=False))


def test_finalize_wav_sizes_skips_chunks_before_data(signal: np.ndarray) -> None:
    header = wav.wav_header(RATE, wav.UNKNOWN_SIZE)
    odd_chunk = b"LIST" + struct.pack("<I", 5) + b"INFO!" + b"\0"  # odd size, so a pad byte follows
    audio = signal[:1000].astype("<i2").tobytes()
    f = io.BytesIO(header[:36] + odd_chunk + header[36:] + audio)
    assert finalize_wav_sizes(f) == len(audio)
    data = f.getvalue()
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    assert struct.unpack("<I", data[36 + len(odd_chunk) + 4 :][:4])[0] == len(audio)
    decoded, _ = decode("wav", data)
    np.testing.assert_array_equal(decoded, signal[:1000])


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"ID3\x03" + bytes(40), "not a RIFF/WAVE"), (b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0" + bytes(16), "no data chunk")],
)
def test_finalize_wav_sizes_rejects_other_files(content: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        finalize_wav_sizes(io.BytesIO(content))
