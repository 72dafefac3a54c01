"""``sd_litetts``: speech-dispatcher's output module for litettsd.

speech-dispatcher starts one process per output module and talks to it over stdin and
stdout with the line protocol of its manual's "Communication Protocol for Output Modules";
it plays the audio the module sends back in ``705`` blocks. This module holds no model: it
keeps one connection to the litettsd daemon open and turns every message into one daemon
request, so the first block leaves as soon as the daemon's first clause does.

Concurrency: the commands are read on a thread of their own and stdout is written on
another (:class:`~.speechd_output.Output`); the protocol state and the daemon connection
live on one asyncio loop, so they need no locks. The server reads audio at playback speed,
so writes block for long stretches; STOP never waits behind them.

Event rules the server relies on: events (``70x``) only between a message's
``200 OK SPEAKING`` and its one ``702 END``/``703 STOP``/``704 PAUSE``, never inside a
reply, and nothing after the ending, since the server's event reader is gone by then.

See docs/speech-dispatcher.md for installation, the SET mapping and the limits.
"""

from __future__ import annotations

import array
import asyncio
import functools
import logging
import os
import sys
import threading
import wave
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .aio import AsyncClient, AsyncSynthesisResult
from .paths import default_socket_path
from .protocol import ErrorCode, LitettsError, Message
from .speechd_config import (
    ModuleConfig,
    SettingError,
    Settings,
    daemon_fields,
    load_config,
)
from .speechd_output import Output, audio_block

log = logging.getLogger("sd_litetts")

BEGIN = b"701 BEGIN\n"
END = b"702 END\n"
STOP = b"703 STOP\n"
PAUSE = b"704 PAUSE\n"
SPD_MARK = "__spd_"
"""Prefix of the marks speech-dispatcher inserts after each sentence; PAUSE stops only at these."""

LOG_LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}
"""speech-dispatcher's log levels 0..3 as Python's; 4 and 5 are DEBUG."""

CAPITAL_ICON = "capital"
"""The sound icon played before a capital letter under ``cap_let_recogn=icon``."""
_CANCEL_GRACE_SECONDS = 0.5
"""How long QUIT waits for the daemon to confirm cancels before hanging up."""
START_HINT = "start it with `systemctl --user start litettsd.socket` or `litettsd`"


class _EndOfInput(Exception):
    """stdin closed: the server is gone (it never closes it while it needs the module)."""


@dataclass(frozen=True)
class _Sound:
    """A sound icon file's samples, mono, at the file's rate."""

    pcm: bytes
    sample_rate: int


def _mono(pcm: bytes, channels: int) -> bytes:
    """Average the channels of little-endian 16-bit frames.

    speech-dispatcher 0.11 played only the first half of a stereo icon's blocks (measured
    through PulseAudio); one channel is what every server version plays whole.
    """
    samples = array.array("h", pcm[: len(pcm) // (2 * channels) * 2 * channels])
    if sys.byteorder == "big":
        samples.byteswap()
    mixed = array.array("h", (sum(frame) // channels for frame in zip(*[iter(samples)] * channels)))
    if sys.byteorder == "big":
        mixed.byteswap()
    return mixed.tobytes()


@dataclass(eq=False)
class _Utterance:
    """One message, from ``701 BEGIN`` to exactly one of ``702``/``703``/``704``."""

    result: AsyncSynthesisResult | None
    """The daemon request speaking it; ``None`` for a sound icon file alone."""
    sound: _Sound | None = None
    """A sound icon file played first (a SOUND_ICON, or the capital icon before a CHAR)."""
    task: asyncio.Task[None] | None = None
    finished: bool = False
    pause_requested: bool = False
    again: Callable[[], Awaitable[_Utterance]] | None = None
    """Sends the same message to the daemon once more (see ``SpeechdModule._speak``)."""


class SpeechdModule:
    """The protocol state machine: one instance per module process."""

    def __init__(self, config: ModuleConfig, output: Output, lines: asyncio.Queue[bytes | None]) -> None:
        self._config = config
        self._out = output
        self._lines = lines
        self._settings = Settings()
        self._client: AsyncClient | None = None
        self._voices: list[Message] = []
        """The daemon's voices as of INIT or the last LIST VOICES; voice choice uses them."""
        self._default_voice: str | None = None
        """The daemon's ``default_voice`` as of INIT or the last LIST VOICES (voice type ``""``)."""
        self._current: _Utterance | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._debug_handler: logging.Handler | None = None
        self._level_before_debug = logging.WARNING

    async def run(self) -> None:
        """Serve commands until QUIT or the end of stdin."""
        try:
            while (raw := await self._lines.get()) is not None:
                line = raw.decode("utf-8", "replace")
                log.debug("<- %s", line)
                if line == "QUIT":
                    self._stop()  # its 703 must come before the reply: nothing follows 210
                    self._reply("210 OK QUIT")
                    return
                await self._dispatch(line)
        except _EndOfInput:
            pass
        log.info("stdin closed; exiting")

    async def close(self) -> None:
        """Stop speaking, let the daemon confirm its cancel, and hang up."""
        self._stop()
        if self._background:
            # speech-dispatcher kills a module about a second after QUIT, and closing the
            # connection below cancels whatever the daemon is still doing anyway.
            await asyncio.wait(self._background, timeout=min(self._config.timeout, _CANCEL_GRACE_SECONDS))
        if self._client is not None:
            await self._client.close()

    async def _dispatch(self, line: str) -> None:
        command = line.split(" ", 1)[0]
        if command in ("SPEAK", "CHAR", "KEY", "SOUND_ICON") and line == command:
            await self._message(command)
        elif line == "STOP":
            self._stop()
        elif line == "PAUSE":
            self._pause()
        elif line == "SET":
            await self._set()
        elif line == "INIT":
            await self._init()
        elif line == "AUDIO":
            await self._audio()
        elif line == "LOGLEVEL":
            await self._loglevel()
        elif line == "LIST VOICES":
            await self._list_voices()
        elif command == "DEBUG":
            self._debug(line)
        else:
            self._reply("300 ERR UNKNOWN COMMAND")

    # -- plumbing -----------------------------------------------------------------------

    def _reply(self, *lines: str) -> None:
        self._out.send("".join(f"{line}\n" for line in lines).encode())

    async def _data(self) -> list[str]:
        """The lines of a data block up to the lone ``.``, with the server's dot-stuffing undone."""
        lines: list[str] = []
        while (raw := await self._lines.get()) is not None:
            line = raw.decode("utf-8", "replace")
            if line == ".":
                return lines
            lines.append(line[1:] if line.startswith("..") else line)
        raise _EndOfInput

    async def _pairs(self) -> list[tuple[str, str]] | None:
        """A block of ``name=value`` lines; ``None`` (after replying) if one has no ``=``."""
        split = [line.partition("=") for line in await self._data()]
        if not all(equals for _, equals, _ in split):
            self._reply("302 ERROR BAD SYNTAX")
            return None
        return [(name, value) for name, _, value in split]

    async def _connected(self) -> AsyncClient:
        """The daemon connection, reopened if it was lost since the last message."""
        if self._client is None:
            raise LitettsError(ErrorCode.CONNECTION, "not connected to litettsd: INIT failed")
        await self._client.connect()
        return self._client

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` without waiting for it; kept referenced so it is not collected mid-way."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- commands without messages ------------------------------------------------------

    async def _init(self) -> None:
        """Connect with a ping, so a missing daemon is reported now rather than as silence later."""
        path = Path(self._config.socket) if self._config.socket else default_socket_path()
        client = AsyncClient(path, timeout=self._config.timeout)
        try:
            await client.connect()
            self._default_voice = (await client.hello()).get("default_voice")
            self._voices = await client.voices()
        except LitettsError as exc:
            await client.close()
            log.error("INIT failed: %s", exc.message)
            if exc.code == ErrorCode.CONNECTION.value:
                why = [f"litettsd is not running; {START_HINT}", exc.message]
            else:
                why = [f"litettsd at {path} does not answer properly: {exc.message}"]
            why.append("sd_litetts uses LitettsSocket from litetts.conf, else $LITETTSD_SOCKET, else the per-user socket")
            self._reply(*(f"399-{text}" for text in why), "399 ERR CANT INIT MODULE")
            return
        self._client = client
        self._reply(f"299-litetts: litettsd at {path}, {len(self._voices)} voices", "299 OK LOADED SUCCESSFULLY")

    async def _audio(self) -> None:
        self._reply("207 OK RECEIVING AUDIO SETTINGS")
        pairs = await self._pairs()
        if pairs is None:
            return
        if dict(pairs).get("audio_output_method") == "server":
            self._reply("203 OK AUDIO INITIALIZED")
        else:
            self._reply(
                "300-sd_litetts plays through speech-dispatcher only (audio_output_method=server, 0.11 or newer)",
                "300 MODULE ERROR",
            )

    async def _loglevel(self) -> None:
        self._reply("207 OK RECEIVING LOGLEVEL SETTINGS")
        pairs = await self._pairs()
        if pairs is None:
            return
        values = dict(pairs)
        try:
            level = int(values["log_level"])
        except (KeyError, ValueError):
            self._reply("303 ERROR INVALID PARAMETER OR VALUE")
            return
        python_level = LOG_LEVELS.get(level, logging.DEBUG if level > 3 else logging.CRITICAL)
        if self._debug_handler is None:
            log.setLevel(python_level)
        self._level_before_debug = python_level
        self._reply("203 OK LOGLEVEL SET")

    async def _set(self) -> None:
        self._reply("203 OK RECEIVING SETTINGS")
        lines = await self._data()
        try:
            self._settings = self._settings.updated(lines)
        except SettingError as exc:
            log.warning("SET refused: %s", exc)
            self._reply(exc.reply)
            return
        log.debug("settings: %s", self._settings)
        self._reply("203 OK SETTINGS RECEIVED")

    async def _list_voices(self) -> None:
        try:
            client = await self._connected()
            self._default_voice = (await client.hello()).get("default_voice")
            self._voices = await client.voices()
        except LitettsError as exc:
            log.error("cannot list voices: %s", exc.message)
            self._reply("304 CANT LIST VOICES")
            return
        if not self._voices:
            self._reply("304 CANT LIST VOICES")
            return
        lines = [f"200-{voice['id']}\t{voice.get('language') or 'none'}\tnone" for voice in self._voices]
        self._reply(*lines, "200 OK VOICE LIST SENT")

    def _debug(self, line: str) -> None:
        """``DEBUG ON <file>`` copies the log, at debug level, into the server's debug folder."""
        path = line.removeprefix("DEBUG ON ").strip() if line.startswith("DEBUG ON ") else ""
        if path:
            try:
                handler = logging.FileHandler(path, mode="w", encoding="utf-8")
            except OSError as exc:
                log.error("cannot open the debug file: %s", exc)
                self._reply("303 CANT OPEN CUSTOM DEBUG FILE")
                return
            self._end_debug()
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s: %(message)s"))
            self._level_before_debug = log.level
            log.addHandler(handler)
            log.setLevel(logging.DEBUG)
            self._debug_handler = handler
            self._reply("200 OK DEBUGGING ON")
        elif line.split() == ["DEBUG", "OFF"]:
            self._end_debug()
            self._reply("200 OK DEBUGGING OFF")
        else:
            self._reply("302 ERROR BAD SYNTAX")

    def _end_debug(self) -> None:
        handler, self._debug_handler = self._debug_handler, None
        if handler is not None:
            log.removeHandler(handler)
            handler.close()
            log.setLevel(self._level_before_debug)

    # -- messages -----------------------------------------------------------------------

    async def _message(self, kind: str) -> None:
        """SPEAK, CHAR, KEY, SOUND_ICON: reply, then speak on a task of its own."""
        self._reply("202 OK RECEIVING MESSAGE")
        lines = await self._data()
        if kind != "SPEAK" and len(lines) > 1:
            self._reply("305 DATA MORE THAN ONE LINE")
            return
        text = "\n".join(lines)
        if kind == "CHAR" and text == "space":
            text = " "
        if not text:
            self._spoke_nothing()
            return
        self._stop()  # the server never overlaps messages; make sure we do not either
        try:
            utterance = await self._request(kind, text)
        except LitettsError as exc:
            log.error("cannot speak: %s", exc.message)
            self._spoke_nothing()
            return
        utterance.again = functools.partial(self._request, kind, text)
        self._reply("200 OK SPEAKING")
        self._out.send(BEGIN)
        self._current = utterance
        utterance.task = asyncio.create_task(self._speak(utterance))

    def _spoke_nothing(self) -> None:
        """End a message that has no audio (empty, or the daemon unreachable) as spoken.

        ``301 ERROR CANT SPEAK`` is what the protocol offers, but speech-dispatcher 0.11.4
        neither ends the message for its client (``spd-say -w`` waits forever, a say-all
        stalls) nor survives it for long: a later message crashed its worker thread (SIGSEGV)
        every time. A message that begins and ends at once is what it handles.
        """
        self._reply("200 OK SPEAKING")
        self._out.send(BEGIN)
        self._out.send(END)

    async def _request(self, kind: str, text: str) -> _Utterance:
        """Send the daemon request for a message at once; its audio is read by :meth:`_speak`."""
        if kind == "SOUND_ICON":
            sound = self._sound_icon(text)
            if sound is not None:
                return _Utterance(None, sound)
            text = text.replace("_", " ").replace("-", " ")
        client = await self._connected()
        fields = daemon_fields(self._settings, self._config, self._voices, self._default_voice)
        log.debug("%s %r with %s", kind, text, fields)
        if kind == "SPEAK":
            return _Utterance(client.synthesize(text, ssml=True, **fields))
        if kind == "KEY":
            return _Utterance(client.char({"key": text, **fields}))
        if kind == "CHAR" and len(text) == 1:
            icon = None
            if self._settings.cap_let_recogn == "icon" and text.isupper():
                icon = self._sound_icon(CAPITAL_ICON)
                if icon is None:  # no usable icon file: still mark the capital, in words
                    fields["capitals"] = "spell"
            return _Utterance(client.char({"char": text, **fields}), icon)
        # A CHAR of several code points (a letter with combining accents), or an icon name.
        return _Utterance(client.synthesize(text, **{**fields, "spell": kind == "CHAR"}))

    def _sound_icon(self, name: str) -> _Sound | None:
        """The configured file for icon ``name``, if there is a readable 16-bit WAV for it."""
        if not self._config.sound_icon_folder:
            return None
        folder = Path(self._config.sound_icon_folder)
        base = Path(name).name  # an icon name, never a path out of the folder
        for path in (folder / base, folder / f"{base}.wav"):
            if not path.is_file():
                continue
            try:
                with wave.open(str(path), "rb") as wav:
                    if wav.getsampwidth() != 2:
                        raise wave.Error(f"{wav.getsampwidth() * 8}-bit samples; only 16-bit is played")
                    pcm, channels = wav.readframes(wav.getnframes()), wav.getnchannels()
                    return _Sound(pcm if channels == 1 else _mono(pcm, channels), wav.getframerate())
            except (wave.Error, OSError, EOFError) as exc:
                log.warning("sound icon %s unusable (%s); speaking its name", path, exc)
                return None
        return None

    async def _speak(self, utterance: _Utterance) -> None:
        """Play one message to its end; a failure ends it with ``702 END`` rather than leaving the server waiting."""
        try:
            try:
                await self._relay(utterance)
            except LitettsError as exc:
                unheard = utterance.result is not None and utterance.result.start is None
                if exc.code != ErrorCode.CONNECTION.value or not unheard or utterance.again is None:
                    raise
                # The daemon hung up before it heard the message: it was killed, or restarted
                # since the last one (systemd starts it again on the next connection), and the
                # old connection's end had not been noticed yet. Asked once more, on a new one.
                log.warning("litettsd hung up before the message reached it (%s); sending it again", exc.message)
                fresh = await utterance.again()
                utterance.result, utterance.sound, utterance.again = fresh.result, None, None
                await self._relay(utterance)
        except LitettsError as exc:
            log.error("speaking failed: %s", exc.message)
        except Exception:
            log.exception("speaking failed")
        self._finish(utterance, END)  # no-op after a PAUSE; a STOP cancels this task before here

    async def _relay(self, utterance: _Utterance) -> None:
        """Relay one message's audio and marks, each mark after exactly the samples before it.

        A mark frame can name a sample offset the audio has not reached yet; it is held
        and the audio split there, so the server's mark callback fires at the right place.
        """
        if utterance.sound is not None:
            sound = utterance.sound
            await self._play(sound.pcm, sound.sample_rate)
        result = utterance.result
        if result is None:
            return
        written = 0
        held: deque[Message] = deque()
        async for frame in result.frames():
            kind = frame.get("type")
            if kind == "mark" and not held and frame["offset"] <= written:
                if self._mark(utterance, frame["name"]):
                    return
            elif kind == "mark":
                held.append(frame)
            elif kind == "audio":
                data: bytes = frame["data"]
                while held and (held[0]["offset"] - written) * 2 <= len(data):
                    cut = (held[0]["offset"] - written) * 2
                    await self._play(data[:cut], result.sample_rate)
                    written += cut // 2
                    data = data[cut:]
                    if self._mark(utterance, held.popleft()["name"]):
                        return
                await self._play(data, result.sample_rate)
                written += len(data) // 2
        if result.cancelled:
            log.warning("litettsd cancelled the message (is it shutting down?)")
        for mark in held:
            if self._mark(utterance, mark["name"]):
                return

    async def _play(self, pcm: bytes, sample_rate: int) -> None:
        """Send mono ``pcm`` in blocks of at most ``LitettsAudioBlockBytes``, each once the previous is written."""
        step = self._config.audio_block_bytes  # even: whole samples (speechd_config)
        for start in range(0, len(pcm), step):
            await self._out.send_and_wait(audio_block(pcm[start : start + step], sample_rate))

    def _mark(self, utterance: _Utterance, name: str) -> bool:
        """Report a mark; after a PAUSE, a sentence mark ends the message there (returns True)."""
        self._out.send(f"700-{name}\n700 INDEX MARK\n".encode())
        if utterance.pause_requested and name.startswith(SPD_MARK):
            self._finish(utterance, PAUSE)
            return True
        return False

    def _finish(self, utterance: _Utterance, event: bytes) -> None:
        """Send the message's one ending event and cancel its daemon request if still running."""
        if utterance.finished:
            return
        utterance.finished = True
        self._out.send(event)
        if utterance.result is not None and not utterance.result.done:
            self._in_background(utterance.result.aclose())

    def _stop(self) -> None:
        """STOP: ``703 STOP`` at once; only a block already being written may precede it."""
        utterance = self._current
        if utterance is None or utterance.finished:
            return  # finished messages already sent their ending; nothing may follow it
        if utterance.task is not None:
            utterance.task.cancel()
        self._finish(utterance, STOP)

    def _pause(self) -> None:
        """PAUSE: finish at the next sentence mark; the server resends the rest later."""
        if self._current is not None and not self._current.finished:
            self._current.pause_requested = True


def _read_commands(fd: int, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[bytes | None]) -> None:
    """Feed stdin's lines to the loop, then ``None`` at the end.

    Plain ``os.read`` on the descriptor: a daemon thread blocked inside a buffered
    ``sys.stdin`` would hold its lock and break the interpreter's exit.
    """
    pending = b""
    try:
        while chunk := os.read(fd, 65536):
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)
    except (OSError, RuntimeError):  # RuntimeError: the loop closed after QUIT
        return


async def _serve(config: ModuleConfig) -> int:
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[bytes | None] = asyncio.Queue()
    reader = threading.Thread(
        target=_read_commands, args=(sys.stdin.fileno(), loop, lines), name="sd_litetts-stdin", daemon=True
    )
    reader.start()
    output = Output(sys.stdout.fileno(), loop)
    sys.stdout = sys.stderr  # a stray print() must never corrupt the protocol stream
    module = SpeechdModule(config, output, lines)
    try:
        await module.run()
    finally:
        await module.close()
        output.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sd_litetts``; speech-dispatcher passes the config file as the first argument."""
    args = sys.argv[1:] if argv is None else argv
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s sd_litetts %(levelname)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING)
    log.propagate = False
    config = load_config(Path(args[0]) if args else None)
    return asyncio.run(_serve(config))


if __name__ == "__main__":
    sys.exit(main())
