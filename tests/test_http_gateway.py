"""The OpenAI-compatible HTTP gateway, driven by the official ``openai`` client.

The gateway runs as a subprocess in front of the shared daemon. Its audio must be the
socket API's audio byte for byte for the same request: it forwards, it never synthesizes.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from litettsd_client import Client
from litettsd_client.http_gateway import OPENAI_VOICES, error_response, resolve_voice, response_format

from .conftest import DEFAULT_VOICE

TEXT = "The gateway forwards this sentence. And then a second one."


JSON = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Gateway:
    """``python -m litettsd_client.http_gateway`` on a free loopback port."""

    def __init__(self, socket_path: Path | str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "litettsd_client.http_gateway", "--socket", str(socket_path), "--port", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/v1/models", timeout=2).close()
                return
            except OSError:
                assert self.proc.poll() is None, log.read_text()
                time.sleep(0.1)
        raise TimeoutError(log.read_text())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()


@pytest.fixture(scope="module")
def gateway(daemon: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    running = Gateway(daemon.socket, tmp_path_factory.mktemp("gateway") / "gateway.log")
    yield running
    running.stop()


@pytest.fixture
def openai_client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="not-needed", max_retries=0)


def socket_audio(daemon: Any, **fields: Any) -> bytes:
    """The same request over the socket, kept out of the cache so the gateway's is synthesized afresh."""
    with Client(daemon.socket, timeout=120) as client:
        return client.synthesize(TEXT, voice=DEFAULT_VOICE, cache=False, **fields).read()


@pytest.mark.parametrize(
    "fmt, fields",
    [
        ("pcm", {"format": "pcm", "sample_rate": 24000, "stream": True}),  # OpenAI's pcm is 24 kHz
        ("wav", {"format": "wav", "stream": True}),
        ("flac", {"format": "flac", "stream": False}),  # whole by default: soundfile cannot read a streamed FLAC
        ("mp3", {"format": "mp3", "stream": True}),
    ],
)
def test_openai_client_gets_the_socket_audio(daemon: Any, openai_client: openai.OpenAI, fmt: str, fields: dict[str, Any]) -> None:
    expected = socket_audio(daemon, **fields)
    response = openai_client.audio.speech.create(model="tts-1", voice=DEFAULT_VOICE, input=TEXT, response_format=fmt)
    assert response.content == expected
    assert response.response.headers["x-litettsd-format"] == fmt


def test_streamed_response_iterates_the_socket_audio(daemon: Any, openai_client: openai.OpenAI) -> None:
    expected = socket_audio(daemon, format="pcm", sample_rate=24000)
    with openai_client.audio.speech.with_streaming_response.create(
        model="tts-1", voice=DEFAULT_VOICE, input=TEXT, response_format="pcm"
    ) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.headers["x-litettsd-sample-rate"] == "24000"
        received = b"".join(response.iter_bytes())
    assert received == expected


def test_unstreamed_wav_has_exact_headers(daemon: Any, openai_client: openai.OpenAI) -> None:
    expected = socket_audio(daemon, format="wav", stream=False)
    response = openai_client.audio.speech.create(
        model="tts-1", voice=DEFAULT_VOICE, input=TEXT, response_format="wav", extra_body={"stream": False}
    )
    assert response.content == expected
    assert int.from_bytes(expected[4:8], "little") == len(expected) - 8  # RIFF size, not 0xFFFFFFFF
    assert response.response.headers["content-length"] == str(len(expected))


def test_streamed_wav_carries_unknown_sizes(openai_client: openai.OpenAI) -> None:
    content = openai_client.audio.speech.create(model="tts-1", voice=DEFAULT_VOICE, input=TEXT, response_format="wav").content
    assert content[:4] == b"RIFF" and content[4:8] == b"\xff\xff\xff\xff"


def test_first_audio_arrives_before_the_synthesis_ends(gateway: Gateway) -> None:
    text = " ".join(f"This is sentence number {n} of a long text that takes a while to speak." for n in range(1, 13))
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=120)
    started = time.monotonic()
    connection.request(
        "POST", "/v1/audio/speech", json.dumps({"model": "tts-1", "input": text, "voice": DEFAULT_VOICE, "response_format": "pcm"}),
        {"Content-Type": "application/json"},
    )
    response = connection.getresponse()
    assert response.status == 200
    first = response.read1(65536)
    first_at = time.monotonic() - started
    rest = response.read()
    total = time.monotonic() - started
    connection.close()
    assert first and len(first) + len(rest) > 24000 * 2 * 10  # more than ten seconds of audio
    assert first_at < total / 2, (first_at, total)


def test_opus_maps_to_ogg_when_the_daemon_has_no_opus(openai_client: openai.OpenAI) -> None:
    response = openai_client.audio.speech.create(model="tts-1", voice=DEFAULT_VOICE, input="Short.", response_format="opus")
    assert response.content[:4] == b"OggS"
    assert response.response.headers["content-type"] == "audio/ogg"
    assert response.response.headers["x-litettsd-format"] == "ogg"


def test_openai_voice_names_map_to_litettsd_voices(openai_client: openai.OpenAI) -> None:
    response = openai_client.audio.speech.create(model="tts-1", voice="echo", input="Hello.", response_format="pcm")
    assert response.response.headers["x-litettsd-voice"] == DEFAULT_VOICE
    response = openai_client.audio.speech.create(model="tts-1", voice="alloy", input="Hello.", response_format="pcm")
    assert response.response.headers["x-litettsd-voice"] == DEFAULT_VOICE  # the daemon's default


def test_models_and_voices(openai_client: openai.OpenAI, gateway: Gateway) -> None:
    assert {"tts-1", "tts-1-hd", "litettsd"} <= {model.id for model in openai_client.models.list()}
    with urllib.request.urlopen(f"{gateway.url}/v1/audio/voices", timeout=30) as response:
        body = json.load(response)
    assert DEFAULT_VOICE in {voice["id"] for voice in body["voices"]}
    assert body["default_voice"] == DEFAULT_VOICE
    assert set(body["aliases"]) == set(OPENAI_VOICES)
    assert body["aliases"]["echo"] == DEFAULT_VOICE


def test_models_retrieve_and_http_errors_in_openai_shape(openai_client: openai.OpenAI, gateway: Gateway) -> None:
    assert openai_client.models.retrieve("tts-1").id == "tts-1"
    with pytest.raises(openai.NotFoundError) as missing:
        openai_client.models.retrieve("whisper-1")
    assert missing.value.code == "model_not_found"
    for method, path, status in (("GET", "/v1/nowhere", 404), ("GET", "/v1/audio/speech", 405)):
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
        connection.request(method, path)
        response = connection.getresponse()
        body = json.loads(response.read())
        connection.close()
        assert response.status == status and response.getheader("Content-Type", "").startswith("application/json")
        assert body["error"]["type"] == "invalid_request_error" and path in body["error"]["message"]
        if status == 405:
            assert "POST" in response.getheader("Allow", "")


def test_errors_carry_the_protocol_code(openai_client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        openai_client.audio.speech.create(model="tts-1", voice="nobody:none", input="Hi.")
    assert missing.value.code == "unknown_voice"
    with pytest.raises(openai.BadRequestError) as aac:
        openai_client.audio.speech.create(model="tts-1", voice=DEFAULT_VOICE, input="Hi.", response_format="aac")
    assert aac.value.code == "unsupported_format"
    with pytest.raises(openai.BadRequestError) as empty:
        openai_client.audio.speech.create(model="tts-1", voice=DEFAULT_VOICE, input="")
    assert empty.value.code == "bad_request"
    with pytest.raises(openai.BadRequestError) as speed:
        openai_client.audio.speech.create(model="tts-1", voice=DEFAULT_VOICE, input="Hi.", speed=9.0)
    assert speed.value.code == "invalid_value"
    with pytest.raises(openai.APIStatusError) as long:
        openai_client.audio.speech.create(model="tts-1", voice=DEFAULT_VOICE, input="a" * 100_001)
    assert long.value.status_code == 413 and long.value.code == "text_too_long"


def test_malformed_body_is_400(gateway: Gateway) -> None:
    request = urllib.request.Request(f"{gateway.url}/v1/audio/speech", data=b"{not json", method="POST", headers=JSON)
    with pytest.raises(urllib.error.HTTPError) as failure:
        urllib.request.urlopen(request, timeout=30)
    assert failure.value.code == 400
    assert json.load(failure.value)["error"]["code"] == "bad_request"


def test_body_over_a_mebibyte_is_413(gateway: Gateway) -> None:
    body = json.dumps({"model": "tts-1", "input": "a" * (1 << 20)}).encode()
    request = urllib.request.Request(f"{gateway.url}/v1/audio/speech", data=body, method="POST", headers=JSON)
    with pytest.raises(urllib.error.HTTPError) as failure:
        urllib.request.urlopen(request, timeout=30)
    assert failure.value.code == 413
    assert json.load(failure.value)["error"]["code"] == "frame_too_large"


def test_unreachable_daemon_is_503(tmp_path: Path) -> None:
    lonely = Gateway(tmp_path / "nobody.sock", tmp_path / "gateway.log")
    try:
        client = openai.OpenAI(base_url=f"{lonely.url}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError) as failure:
            client.audio.speech.create(model="tts-1", voice="alloy", input="Anyone there?")
        assert failure.value.status_code == 503 and failure.value.code == "connection"
    finally:
        lonely.stop()


def test_client_leaving_mid_stream_cancels_the_synthesis(daemon: Any, gateway: Gateway) -> None:
    with Client(daemon.socket, timeout=60) as client:
        before = client._call("metrics")["plugins"]["metrics"]["requests"]["by_op"]["synthesize"].get("cancelled", 0)
        text = " ".join(f"Sentence {n} of a text nobody will hear to the end." for n in range(40))
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
        connection.request("POST", "/v1/audio/speech", json.dumps({"model": "tts-1", "input": text, "response_format": "pcm"}), JSON)
        response = connection.getresponse()
        assert response.read1(1024)
        connection.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            by_op = client._call("metrics")["plugins"]["metrics"]["requests"]["by_op"]["synthesize"]
            if by_op.get("cancelled", 0) > before:
                break
            time.sleep(0.2)
        assert by_op.get("cancelled", 0) == before + 1


def _post(gateway: Gateway, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{gateway.url}/v1/audio/speech", data=data, method="POST", headers=headers or JSON)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, {}
    except urllib.error.HTTPError as failure:
        return failure.code, json.load(failure)["error"]


def test_other_sites_cannot_use_the_gateway(gateway: Gateway) -> None:
    """A page the user visits can POST text/plain to loopback without a CORS preflight, and
    can rebind its own DNS name to 127.0.0.1 to read what comes back."""
    speak = {"model": "tts-1", "input": "Hello.", "response_format": "wav"}
    assert _post(gateway, json.dumps(speak).encode(), {"Content-Type": "text/plain"})[0] == 415
    status, error = _post(gateway, speak, {**JSON, "Origin": "https://evil.example"})
    assert status == 403 and error["code"] == "forbidden_origin"
    status, error = _post(gateway, speak, {**JSON, "Host": f"attacker.example:{gateway.port}"})
    assert status == 421 and error["code"] == "misdirected_request"
    status, _ = _post(gateway, speak, {**JSON, "Origin": f"http://127.0.0.1:{gateway.port}", "Host": f"localhost:{gateway.port}"})
    assert status == 200  # the dashboard's own requests


def test_http_callers_cannot_take_the_screen_readers_priority(gateway: Gateway) -> None:
    for priority in ("important", "message"):
        status, error = _post(gateway, {"input": "Me first.", "priority": priority})
        assert status == 400 and error["param"] == "priority", error
    assert _post(gateway, {"input": "After you.", "priority": "background", "response_format": "pcm"})[0] == 200


def test_requests_with_nothing_to_say_or_no_voice_are_400_naming_the_field(gateway: Gateway) -> None:
    assert _post(gateway, {"input": "  \n "})[1]["param"] == "input"
    assert _post(gateway, {"input": "Hi.", "voice": ""})[1]["param"] == "voice"
    status, error = _post(gateway, '{"input": "caf\xe9"}'.encode("latin-1"))
    assert status == 400 and error["message"] == "the body is not UTF-8"
    assert _post(gateway, {"input": "Hi.", "voice": "nobody-at-all"})[1]["param"] == "voice"
    assert _post(gateway, {"input": "Hi.", "speed": 99})[1]["param"] == "speed"


def test_client_leaving_an_unstreamed_request_cancels_the_synthesis(daemon: Any, gateway: Gateway) -> None:
    text = " ".join(f"Sentence {n} of a text nobody waits for any more." for n in range(60))
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
    body = {"model": "tts-1", "input": text, "response_format": "mp3", "stream": False}
    connection.request("POST", "/v1/audio/speech", json.dumps(body), JSON)
    with Client(daemon.socket, timeout=60) as client:
        deadline = time.monotonic() + 30
        while client.status()["requests_in_flight"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        connection.close()
        deadline = time.monotonic() + 10
        while client.status()["requests_in_flight"]:
            assert time.monotonic() < deadline, "the synthesis went on for a client that left"
            time.sleep(0.1)


def test_flac_comes_whole_unless_streaming_is_asked_for(openai_client: openai.OpenAI, tmp_path: Path) -> None:
    import soundfile

    openai_client.audio.speech.create(model="tts-1", voice=DEFAULT_VOICE, input="A file.", response_format="flac").write_to_file(
        tmp_path / "whole.flac"
    )
    audio, rate = soundfile.read(tmp_path / "whole.flac")  # libsndfile cannot read a FLAC of unknown length
    assert rate == 22050 and 0.3 < len(audio) / rate < 5


def test_voice_resolution_and_formats() -> None:
    installed = {DEFAULT_VOICE}
    assert resolve_voice("NOVA", installed, OPENAI_VOICES) is None  # no kokoro: the daemon's default
    assert resolve_voice("onyx", installed, OPENAI_VOICES) == DEFAULT_VOICE  # second choice
    blend = "kokoro:jm_kumo*0.5+kokoro:jf_alpha*0.5"
    assert resolve_voice(blend, installed, OPENAI_VOICES) == blend  # not a name: the daemon judges it
    assert resolve_voice(None, installed, OPENAI_VOICES) is None
    assert response_format("opus", ["mp3", "ogg"]) == "ogg"
    assert response_format("opus", ["opus", "ogg"]) == "opus"
    assert response_format("FLAC", ["flac"]) == "flac"
    assert [error_response(code, "x").status for code in ("overloaded", "timeout", "internal", "permission_denied")] == [
        429, 504, 500, 403,
    ]


@pytest.mark.parametrize("stream", [True, False])
def test_daemon_shutdown_mid_synthesis_is_never_a_whole_file(start_daemon: Any, tmp_path: Path, stream: bool) -> None:
    private = start_daemon("[server]\ngraceful_timeout = 0.5\n")
    running = Gateway(private.socket, tmp_path / "gateway.log")
    try:
        text = " ".join(f"Sentence {n} of a text the daemon will not finish." for n in range(120))
        connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=60)
        body = {"model": "tts-1", "input": text, "response_format": "wav", "stream": stream}
        connection.request("POST", "/v1/audio/speech", json.dumps(body), JSON)
        threading.Timer(1.0, private.stop).start()  # SIGTERM: cancels the request after 0.5 s
        response = connection.getresponse()
        if stream:
            assert response.status == 200  # headers went out with the first audio
            with pytest.raises(http.client.IncompleteRead):
                response.read()  # a dropped connection, not a clean end of a short file
        else:
            assert response.status == 503
            assert json.loads(response.read())["error"]["code"] == "connection"
        connection.close()
    finally:
        running.stop()
