"""``litetts serve-http``: an OpenAI-compatible HTTP front end for litettsd, plus a dashboard.

Programs written for OpenAI's speech API (``POST /v1/audio/speech``) work unchanged when
pointed at this gateway, and a browser gets a live dashboard at ``/``. The gateway is only
a client of the daemon's socket: every request opens its own connection and forwards what
was asked; it never loads a voice or encodes audio itself, so the audio is exactly what
``litetts`` or any other client would get for the same request.

Audio is streamed: the HTTP response starts when the daemon's ``start`` frame arrives (so
errors before that still get a proper status code) and each audio frame is written to the
chunked body as it comes. Run it with ``python -m litettsd_client.http_gateway`` or, once
wired into the CLI, ``litetts serve-http``. Needs the ``http`` extra (aiohttp).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from pathlib import Path

from aiohttp import web

from .aio import AsyncClient, AsyncSynthesisResult
from .client import CLIENT_NAME
from .protocol import ErrorCode, LitettsError, Message

log = logging.getLogger("litettsd_client.http_gateway")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DASHBOARD = Path(__file__).resolve().with_name("dashboard")
"""The page's static files. Resolved, because aiohttp serves no file through a symbolic link, and
in a strict editable install (``make``) every file of the package is one."""
FRAME_TIMEOUT = 120.0
"""Longest silence from the daemon within one request (504 after it). A healthy daemon sends
a frame per sentence; only a stuck one is silent for minutes, and the HTTP client should
hear about it rather than wait forever."""
PRIORITY = "text"
"""Gateway requests are usually whole documents: they queue behind a screen reader's
``message`` and ``important`` speech, chunk by chunk, instead of delaying it."""

MALE_VOICES = ("piper:en_US-joe-medium", "kokoro:jm_kumo")
"""Preference lists name voices shipped by litettsd's own packages; the first installed one wins."""
OPENAI_VOICES: dict[str, tuple[str, ...]] = {
    "alloy": (),  # OpenAI's neutral default: the daemon's default voice
    "ash": MALE_VOICES,
    "ballad": ("kokoro:jm_kumo", "piper:en_US-joe-medium"),
    "cedar": MALE_VOICES,
    "coral": ("kokoro:jf_nezumi", "kokoro:jf_alpha"),
    "echo": MALE_VOICES,
    "fable": ("kokoro:jm_kumo", "piper:en_US-joe-medium"),
    "marin": ("kokoro:jf_alpha",),
    "nova": ("kokoro:jf_alpha",),
    "onyx": ("kokoro:jm_kumo", "piper:en_US-joe-medium"),
    "sage": ("kokoro:jf_tebukuro", "kokoro:jf_alpha"),
    "shimmer": ("kokoro:jf_gongitsune", "kokoro:jf_alpha"),
    "verse": MALE_VOICES,
}
"""OpenAI voice names and the litettsd voices they stand for, by the voices' gender.
A name whose voices are all missing (say, without the kokoro extra) gets the daemon's
default voice, so clients hard-coding ``nova`` still get speech."""

MODELS = ("litettsd", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
"""Listed by ``/v1/models`` so clients that check for their model find it; the model a
request names does not change the audio (the voice does)."""

MIME_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg; codecs=opus",
    "ogg": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
OPENAI_PCM_RATE = 24000
"""OpenAI's ``pcm`` is headerless 24 kHz s16le, so players hard-code that rate; we resample to it."""

HTTP_STATUS = {
    ErrorCode.BAD_REQUEST.value: 400,
    ErrorCode.INVALID_VALUE.value: 400,
    ErrorCode.UNSUPPORTED_FORMAT.value: 400,
    ErrorCode.SSML_ERROR.value: 400,
    ErrorCode.UNKNOWN_OP.value: 400,
    ErrorCode.UNKNOWN_VOICE.value: 404,
    ErrorCode.PERMISSION_DENIED.value: 403,
    ErrorCode.TEXT_TOO_LONG.value: 413,
    ErrorCode.FRAME_TOO_LARGE.value: 413,
    ErrorCode.OVERLOADED.value: 429,
    ErrorCode.INTERNAL.value: 500,
    ErrorCode.CONNECTION.value: 503,
    ErrorCode.TIMEOUT.value: 504,
}

_CUT_SHORT = "litettsd cancelled the synthesis before its end (is it shutting down?)"

HTTP_PRIORITIES = ("text", "notification", "progress", "background")
"""Priorities an HTTP caller may ask for. ``message`` and ``important`` go ahead of everything
and preempt it, chunk by chunk: they are for the screen reader on the socket. Any web page
the user visits can make a browser POST to loopback, so HTTP must not be able to take the
screen reader's voice away."""
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_DISCONNECT_POLL = 0.5
"""How often an unstreamed request looks for a client that hung up while it waits."""

SOCKET: web.AppKey[str | None] = web.AppKey("socket", str)
ALIASES: web.AppKey[dict[str, tuple[str, ...]]] = web.AppKey("aliases", dict)
HOSTS: web.AppKey[frozenset[str] | None] = web.AppKey("hosts", frozenset)
"""Names the gateway answers to in ``Host`` and ``Origin`` (None: any, when listening on all addresses)."""


def error_response(code: str, message: str, param: str | None = None) -> web.Response:
    """An error in OpenAI's shape, carrying the protocol's code and a fitting HTTP status."""
    return _http_error(HTTP_STATUS.get(code, 500), code, message, param)


def _http_error(status: int, code: str, message: str, param: str | None = None) -> web.Response:
    """An error body as OpenAI's API sends it, with ``status``."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return web.json_response({"error": {"message": message, "type": kind, "param": param, "code": code}}, status=status)


def resolve_voice(requested: str | None, installed: set[str], aliases: Mapping[str, tuple[str, ...]]) -> str | None:
    """The litettsd voice for a request's ``voice``; ``None`` means the daemon's default voice.

    OpenAI names are matched case-insensitively; anything else is passed on as a litettsd
    voice id (``piper:en_US-joe-medium``, a bare name, a Kokoro blend) for the daemon to judge.
    """
    if not requested:
        return None
    choices = aliases.get(requested.lower())
    if choices is None:
        return requested
    return next((voice for voice in choices if voice in installed), None)


def response_format(requested: str, daemon_formats: Sequence[str]) -> str:
    """The daemon format for OpenAI's ``response_format``.

    ``opus`` becomes ``ogg`` (Ogg Vorbis) when the daemon has no Opus encoder: the same
    container, and every player that takes Ogg Opus files takes Ogg Vorbis. Anything else
    goes to the daemon as it is, which answers ``unsupported_format`` for what it lacks (aac).
    """
    fmt = requested.lower()
    if fmt == "opus" and "opus" not in daemon_formats:
        return "ogg"
    return fmt


def _connect(request: web.Request) -> AsyncClient:
    return AsyncClient(request.app[SOCKET], timeout=FRAME_TIMEOUT)


async def speech(request: web.Request) -> web.StreamResponse:
    """``POST /v1/audio/speech``: OpenAI's fields plus litettsd's ``stream``, ``sample_rate`` and ``priority``."""
    if request.content_type != "application/json":
        # Also what keeps other sites out: a page may POST text/plain to loopback without
        # the browser asking first (CORS), but not application/json.
        return _http_error(415, "unsupported_media_type", "send the request as Content-Type: application/json")
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge as exc:
        return error_response(ErrorCode.FRAME_TOO_LARGE.value, exc.text or "request body too large")
    except UnicodeDecodeError:
        return error_response(ErrorCode.BAD_REQUEST.value, "the body is not UTF-8")
    except json.JSONDecodeError:
        return error_response(ErrorCode.BAD_REQUEST.value, "the body must be a JSON object")
    if not isinstance(body, dict):
        return error_response(ErrorCode.BAD_REQUEST.value, "the body must be a JSON object")
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        return error_response(ErrorCode.BAD_REQUEST.value, "input must be a string with something to say", "input")
    priority = body.get("priority", PRIORITY)
    if priority not in HTTP_PRIORITIES:
        return error_response(
            ErrorCode.INVALID_VALUE.value,
            f"priority must be one of {', '.join(HTTP_PRIORITIES)} over HTTP; message and important are the screen reader's",
            "priority",
        )
    requested_format = body.get("response_format") or "mp3"
    if not isinstance(requested_format, str):
        return error_response(ErrorCode.INVALID_VALUE.value, "response_format must be a string", "response_format")
    if body.get("stream_format", "audio") != "audio":
        return error_response(ErrorCode.INVALID_VALUE.value, 'only stream_format "audio" is supported', "stream_format")
    voice = body.get("voice")
    if voice is not None and (not isinstance(voice, str) or not voice.strip()):
        return error_response(ErrorCode.INVALID_VALUE.value, "voice must be a non-empty string", "voice")
    try:
        async with _connect(request) as client:
            hello = await client.hello(f"{CLIENT_NAME}/http-gateway")
            fmt = response_format(requested_format, hello.get("formats", []))
            # A streamed FLAC's length is "unknown", which libsndfile (Python's soundfile)
            # cannot read to its end; an OpenAI client saving a file would get one it cannot
            # open, so FLAC comes whole unless streaming is asked for.
            stream = body.get("stream", fmt != "flac")
            table = request.app[ALIASES]
            if voice is not None and voice.lower() in table:
                installed = {info["id"] for info in await client.voices()}
                voice = resolve_voice(voice, installed, table)
            sample_rate = body.get("sample_rate", OPENAI_PCM_RATE if fmt == "pcm" else None)
            result = client.synthesize(
                text,
                voice=voice,
                format=fmt,
                speed=body.get("speed"),
                sample_rate=sample_rate,
                stream=stream,
                priority=priority,
            )
            async with result:
                start = await result.next_frame()  # start, or an error raised before any byte is sent
                if start is None or start.get("type") != "start":
                    return error_response(ErrorCode.INTERNAL.value, f"the daemon answered {start!r} instead of start")
                headers = {
                    "Content-Type": MIME_TYPES.get(fmt, "application/octet-stream"),
                    "X-Litettsd-Voice": str(start.get("voice")),
                    "X-Litettsd-Format": fmt,
                    "X-Litettsd-Sample-Rate": str(start.get("sample_rate")),
                }
                if stream is False:  # one audio frame with exact headers, sent with a Content-Length
                    audio = await _read_while_connected(request, result)
                    if audio is None:
                        return web.Response(status=499)  # nobody is left to read it (nginx's "client closed")
                    if result.cancelled:
                        return error_response(ErrorCode.CONNECTION.value, _CUT_SHORT)
                    return web.Response(body=audio, headers=headers)
                return await _stream(request, result, headers)
    except LitettsError as exc:
        return error_response(exc.code, exc.message, _PARAMS.get(exc.code) or _named_field(exc.message))


_PARAMS = {
    ErrorCode.UNKNOWN_VOICE.value: "voice",
    ErrorCode.UNSUPPORTED_FORMAT.value: "response_format",
    ErrorCode.TEXT_TOO_LONG.value: "input",
    ErrorCode.SSML_ERROR.value: "input",
}
"""The request field an error code is about, for OpenAI's ``param``."""
_FIELDS = {"speed": "speed", "sample_rate": "sample_rate", "priority": "priority", "voice": "voice", "text": "input"}


def _named_field(message: str) -> str | None:
    """The field a daemon's ``invalid_value`` message starts with ("speed must be..."), as OpenAI names it."""
    first = message.split(" ", 1)[0]
    return _FIELDS.get(first)


async def _read_while_connected(request: web.Request, result: AsyncSynthesisResult) -> bytes | None:
    """The whole audio, or None if the HTTP client hung up first (the synthesis is then cancelled).

    aiohttp does not cancel a handler whose client left, and nothing is written until the
    audio is complete, so the connection is looked at while waiting."""
    reading = asyncio.ensure_future(result.read())
    try:
        while True:
            done, _ = await asyncio.wait({reading}, timeout=_DISCONNECT_POLL)
            if done:
                return reading.result()
            if request.transport is None or request.transport.is_closing():
                return None
    finally:
        if not reading.done():
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading


async def _stream(request: web.Request, result: AsyncSynthesisResult, headers: dict[str, str]) -> web.StreamResponse:
    """Copy audio frames to a chunked response as the daemon sends them."""
    response = web.StreamResponse(headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        async for chunk in result:
            await response.write(chunk)
    except LitettsError as exc:
        # The status line is gone; ending the body normally would pass off a truncated
        # file as whole. Dropping the connection makes the client see a broken transfer.
        log.warning("synthesis failed mid-stream, dropping the HTTP connection: %s", exc)
        if request.transport is not None:
            request.transport.abort()
        return response
    except ConnectionResetError:
        return response  # the HTTP client left; leaving ``async with result`` cancels the synthesis
    if result.cancelled:  # the daemon gave up on it (shutting down): as broken as an error
        log.warning("dropping the HTTP connection: %s", _CUT_SHORT)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "litettsd"}


async def models(request: web.Request) -> web.Response:
    """``GET /v1/models``: the model names accepted (all speak alike)."""
    return web.json_response({"object": "list", "data": [_model(name) for name in MODELS]})


async def model(request: web.Request) -> web.Response:
    """``GET /v1/models/{id}``: one of them (OpenAI's ``models.retrieve``)."""
    name = request.match_info["model"]
    if name not in MODELS:
        return _http_error(404, "model_not_found", f"no model {name!r}; try one of {', '.join(MODELS)}")
    return web.json_response(_model(name))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def local_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer only requests addressed to the gateway by name, from its own pages.

    A web page can make the browser send requests to 127.0.0.1 and, by rebinding its own
    DNS name to it, read the answers (status with paths, audio). A request whose ``Host``
    is not a name the gateway listens under, or that carries another site's ``Origin``,
    is refused."""
    allowed = request.app[HOSTS]
    if allowed is not None:
        if _host_name(request.host) not in allowed:
            return _http_error(421, "misdirected_request", f"this gateway answers to {', '.join(sorted(allowed))} only")
        origin = request.headers.get("Origin")
        if origin is not None and _host_name(origin.partition("://")[2]) not in allowed:
            return _http_error(403, "forbidden_origin", f"requests from {origin} are not accepted")
    return await handler(request)


def _host_name(host: str) -> str:
    """``127.0.0.1:8787`` -> ``127.0.0.1``, ``[::1]:8787`` -> ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@web.middleware
async def openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp answers unknown routes and methods in plain text; OpenAI clients parse JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/v1/"):
            raise
        response = _http_error(exc.status, exc.reason.lower().replace(" ", "_"), f"{request.method} {request.path}: {exc.reason}")
        if "Allow" in exc.headers:  # a 405 must say which methods would do (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response


async def voices(request: web.Request) -> web.Response:
    """``GET /v1/audio/voices``: the daemon's voices and what each OpenAI name stands for now."""
    try:
        async with _connect(request) as client:
            hello = await client.hello(f"{CLIENT_NAME}/http-gateway")
            listed = await client.voices()
    except LitettsError as exc:
        return error_response(exc.code, exc.message)
    installed = {info["id"] for info in listed}
    default = hello.get("default_voice")
    table = request.app[ALIASES]
    aliases = {name: resolve_voice(name, installed, table) or default for name in sorted(table)}
    return web.json_response({"voices": listed, "aliases": aliases, "default_voice": default})


async def daemon_status(request: web.Request) -> web.Response:
    """``GET /api/status``: the daemon's ``status`` reply, for the dashboard."""
    return await _forward(request, "status")


async def daemon_metrics(request: web.Request) -> web.Response:
    """``GET /api/metrics``: the daemon's ``metrics`` reply, for the dashboard."""
    return await _forward(request, "metrics")


async def _forward(request: web.Request, op: str) -> web.Response:
    try:
        async with _connect(request) as client:
            reply: Message = await (client.metrics() if op == "metrics" else client.status())
    except LitettsError as exc:
        return error_response(exc.code, exc.message)
    return web.json_response({key: value for key, value in reply.items() if key not in ("id", "type")})


async def dashboard(request: web.Request) -> web.FileResponse:
    """``GET /``: the dashboard page (static files, no build step, nothing from the internet)."""
    return web.FileResponse(DASHBOARD / "index.html")


def build_app(
    socket_path: str | None = None, aliases: Mapping[str, tuple[str, ...]] = OPENAI_VOICES, host: str = DEFAULT_HOST
) -> web.Application:
    """The gateway's application; ``socket_path`` ``None`` means the default socket; ``host``
    is the address it listens on (names other than loopback's are then accepted too)."""
    app = web.Application(middlewares=[local_only, openai_errors])
    app[SOCKET] = socket_path
    app[ALIASES] = dict(aliases)
    # Listening on every address means being reached under names we cannot know.
    app[HOSTS] = None if host in ("0.0.0.0", "::", "") else LOOPBACK_NAMES | {_host_name(host)}
    app.router.add_post("/v1/audio/speech", speech)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/v1/models/{model}", model)
    app.router.add_get("/v1/audio/voices", voices)
    app.router.add_get("/api/status", daemon_status)
    app.router.add_get("/api/metrics", daemon_metrics)
    app.router.add_get("/", dashboard)
    app.router.add_static("/dashboard/", DASHBOARD)
    return app


def _voice_map(entries: Sequence[str]) -> dict[str, tuple[str, ...]]:
    aliases = dict(OPENAI_VOICES)
    for entry in entries:
        name, sep, voice = entry.partition("=")
        if not sep or not name or not voice:
            raise argparse.ArgumentTypeError(f"--voice-map wants NAME=VOICE, got {entry!r}")
        aliases[name.lower()] = (voice,)
    return aliases


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="litetts serve-http",
        description="OpenAI-compatible speech API and live dashboard in front of litettsd.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--socket", metavar="PATH", help="daemon socket (default: $LITETTSD_SOCKET or the per-user path)")
    parser.add_argument(
        "--voice-map",
        metavar="NAME=VOICE",
        action="append",
        default=[],
        help="make voice NAME (an OpenAI name such as nova, or a new one) speak with litettsd VOICE; repeatable",
    )
    return parser


def main_serve_http(argv: list[str]) -> int:
    """Serve until Ctrl-C or SIGTERM; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        aliases = _voice_map(args.voice_map)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("listening on %s: the gateway has no authentication; anyone who can reach it can use the daemon", args.host)
    url = f"http://{args.host}:{args.port}/"
    try:
        web.run_app(
            build_app(args.socket, aliases, args.host),
            host=args.host,
            port=args.port,
            print=lambda *_: print(f"litetts serve-http: dashboard and API on {url}", file=sys.stderr, flush=True),
            access_log=None,
        )
    except OSError as exc:
        print(f"litetts serve-http: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main_serve_http(sys.argv[1:]))
