"""``litetts``: speak text, list voices and inspect the daemon from a shell.

Everything goes through :class:`~litettsd_client.client.Client`; the daemon never
touches the user's files or sound card, so writing files, piping to stdout and
feeding a local audio player all happen here. Failures print one line and exit 1.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import signal
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import __version__
from .client import AudioFile, Client, SynthesisResult, SynthesisState
from .protocol import ErrorCode, LitettsError

PLAYERS: tuple[tuple[str, Callable[[str, int], list[str]]], ...] = (
    ("pw-play", lambda exe, rate: [exe, "--format=s16", f"--rate={rate}", "--channels=1", "-"]),
    ("paplay", lambda exe, rate: [exe, "--raw", "--format=s16le", f"--rate={rate}", "--channels=1"]),
    ("aplay", lambda exe, rate: [exe, "-q", "-t", "raw", "-f", "S16_LE", "-r", str(rate), "-c", "1", "-"]),
)
"""Players tried in order, each with its command line for raw s16le mono from stdin."""

LONG_TEXT = 400
"""Texts at least this long get a progress line on a terminal; shorter ones finish too fast to need it."""


class CliError(Exception):
    """A user-facing failure that is not the daemon's (no player, audio to a terminal...)."""


_EXTRA_COMMANDS = {
    "top": ("top", "main_top", "top"),
    "serve-http": ("http_gateway", "main_serve_http", "http"),
}
"""Commands with their own options and optional dependencies (rich, aiohttp): module, function, extra."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``litetts`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    position = _command_position(argv)
    if position is not None and argv[position] in _EXTRA_COMMANDS:
        command = argv[position]
        module, function, extra = _EXTRA_COMMANDS[command]
        try:
            entry = getattr(importlib.import_module(f".{module}", __package__), function)
        except ImportError as exc:
            print(f"litetts {command}: needs pip install 'litettsd-client[{extra}]' ({exc})", file=sys.stderr)
            return 1
        # `litetts --socket P top --once`: the command's own parser takes --socket too
        return int(entry(argv[position + 1 :] + argv[:position]))
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    # SIGTERM (timeout, a service stopping) unwinds like Ctrl-C, so a half-written -o file
    # is cleaned up rather than left behind.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        with Client(args.socket) as client:
            status: int = args.handler(client, args)
        sys.stdout.flush()  # here, where a failure is reported, rather than at exit
        return status
    except LitettsError as exc:
        if exc.code == ErrorCode.CONNECTION.value:
            print(f"litetts: {exc.message}", file=sys.stderr)
        else:
            print(f"litetts: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except CliError as exc:
        print(f"litetts: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except _Terminated:
        return 143
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: quietly stop, and keep Python from
        # complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # printing to a full disk, reading a broken stdin: no traceback either
        print(f"litetts: {exc.strerror or exc}", file=sys.stderr)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to fail at exit
        return 1


def _command_position(argv: list[str]) -> int | None:
    """Where the command is, past the options that may come before it (``--socket PATH``)."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--socket":
            index += 2
        elif word.startswith("-"):
            index += 1
        else:
            return index
    return None


class _Terminated(BaseException):
    """SIGTERM, raised where the CLI was, so ``finally`` and ``except BaseException`` run."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litetts", description="Talk to the litettsd speech daemon.")
    parser.add_argument("--socket", metavar="PATH", help="daemon socket (default: $LITETTSD_SOCKET or the per-user path)")
    parser.add_argument("--version", action="version", version=f"litetts {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    say = commands.add_parser("say", help="speak text (to a file, stdout or the speakers)")
    source = say.add_mutually_exclusive_group()
    source.add_argument("text", nargs="?", default="-", metavar="TEXT", help='text to speak; "-" or absent reads stdin')
    source.add_argument("-i", "--input", metavar="FILE", type=Path, help="read the text from FILE (UTF-8), e.g. a chapter")
    say.add_argument("-v", "--voice", help="voice id (default: the daemon's default voice)")
    say.add_argument("-f", "--format", help="pcm, wav, mp3... (default: the extension of -o FILE, else wav; pcm on stdout)")
    target = say.add_mutually_exclusive_group()
    target.add_argument("-o", "--output", metavar="FILE", help='write the audio to FILE ("-" for stdout)')
    target.add_argument("--play", action="store_true", help="play through pw-play, paplay or aplay")
    say.add_argument("--speed", type=float, help="speaking rate multiplier (1.0 = natural)")
    say.add_argument("--volume", type=float, help="linear gain (1.0 = unchanged)")
    say.add_argument("--rate", type=int, metavar="HZ", help="resample to this sample rate")
    say.add_argument("--pitch", type=float, help="pitch multiplier, 0.5 to 2.0 (1.0 = unchanged)")
    say.add_argument("--ssml", action="store_true", help="the text is SSML (<speak>...</speak>)")
    say.set_defaults(handler=_say)

    voices = commands.add_parser("voices", help="list installed voices")
    voices.add_argument("--language", metavar="L", help="only voices of this language, e.g. en-US")
    voices.set_defaults(handler=_voices)

    status = commands.add_parser("status", help="show the daemon's state")
    status.set_defaults(handler=_status)

    commands.add_parser("top", help="live view of the daemon; q quits (needs litettsd-client[top])")
    commands.add_parser("serve-http", help="OpenAI-compatible HTTP API and dashboard (needs litettsd-client[http])")

    reload = commands.add_parser("reload", help="make the daemon re-read its configuration files")
    reload.set_defaults(handler=_reload)

    normalize = commands.add_parser("normalize", help="show the words and phonemes the daemon would speak")
    normalize.add_argument("text", nargs="?", default="-", metavar="TEXT", help='text; "-" or absent reads stdin')
    normalize.add_argument("-v", "--voice", help="voice whose language rules apply")
    normalize.set_defaults(handler=_normalize)

    speechd = commands.add_parser("speechd-install", help="install the speech-dispatcher output module sd_litetts")
    speechd.add_argument(
        "--user", action="store_true", help="install for yourself (~/.local/libexec, ~/.config) rather than system-wide"
    )
    speechd.add_argument("--destdir", metavar="DIR", type=Path, help="prefix every installed path with DIR (packaging)")
    speechd.set_defaults(handler=_speechd_install)
    return parser


def _read_text(text: str, path: Path | None = None) -> str:
    """TEXT as given, the file ``path`` (``-i``), or stdin for "-", so long texts and pipelines
    need no quoting.

    Bytes that are not UTF-8 reach Python as lone surrogates, which cannot be sent: say
    where the first one is, rather than fail inside the protocol encoder.
    """
    if path is not None:
        try:
            text = path.read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    elif text == "-":
        text = sys.stdin.read()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(text[exc.start]) - 0xDC00 if 0xDC80 <= ord(text[exc.start]) <= 0xDCFF else None
        what = f"byte 0x{byte:02x}" if byte is not None else f"U+{ord(text[exc.start]):04X}"
        raise CliError(
            f"the text is not UTF-8 ({what} at character {exc.start + 1}); convert it first, e.g. iconv -f latin1 -t utf-8"
        ) from None
    return text


# -- say ------------------------------------------------------------------------------


_AUDIO_EXTENSIONS = frozenset({"wav", "mp3", "flac", "ogg", "pcm"})
"""File names that say a format: ``-f`` must agree with them (MP3 data in ``x.wav`` plays nowhere)."""


def _say(client: Client, args: argparse.Namespace) -> int:
    """Route the audio: -o FILE, -o - or a piped stdout, else the speakers."""
    text = _read_text(args.text, args.input)
    try:
        return _say_text(client, args, text)
    except LitettsError as exc:
        if exc.code != ErrorCode.FRAME_TOO_LARGE.value:
            raise
        # The daemon refuses the request's frame before it reads the text, so it cannot say
        # text_too_long; what the user needs to hear is about their text, not about frames.
        raise CliError(
            f"{ErrorCode.TEXT_TOO_LONG.value}: the text has {len(text)} characters, too many to send in one request "
            f"({exc.message}); split it into parts"
        ) from None


def _say_text(client: Client, args: argparse.Namespace, text: str) -> int:
    options: dict[str, Any] = {
        "voice": args.voice, "speed": args.speed, "volume": args.volume, "sample_rate": args.rate,
        "pitch": args.pitch, "ssml": args.ssml or None,
    }  # fmt: skip
    if args.output not in (None, "-"):
        extension = Path(args.output).suffix.lstrip(".").lower()
        if args.format and extension in _AUDIO_EXTENSIONS and extension != args.format.lower():
            raise CliError(f"-f {args.format} does not match {args.output}; drop -f, or name the file .{args.format.lower()}")
        progress = _Progress() if sys.stderr.isatty() and len(text) >= LONG_TEXT else None
        try:
            result = client.speak_to_file(
                text, args.output, format=args.format, progress=progress, keep_cancelled=False, **options
            )
        except OSError as exc:  # socket trouble arrives as LitettsError, so this is the file
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        finally:
            if progress is not None:
                progress.finish()
        _fail_if_cut_short(result, f"{args.output} did not get the whole text (a file we replace is left as it was)")
        _warn_if_silent(result)
        return 0
    to_stdout = args.output == "-" or (not args.play and not sys.stdout.isatty())
    if to_stdout and sys.stdout.isatty():
        raise CliError("will not write audio to a terminal; use -o FILE, --play, or a pipe")
    if to_stdout:
        return _write_stdout(client.synthesize(text, format=args.format, **options))
    if args.format is not None and args.format.lower() != "pcm":
        raise CliError(f"cannot play {args.format} audio; use -o FILE or pipe stdout to a player")
    player_command = _find_player()
    return _play(client.synthesize(text, format="pcm", **options), player_command)


def _write_stdout(result: SynthesisResult) -> int:
    """Stream to stdout chunk by chunk, so a downstream player starts at once. A redirected
    stdout (``> out.wav``) gets its WAV or FLAC header's lengths once the audio is complete."""
    out = sys.stdout.buffer
    audio: AudioFile | None = None
    try:
        for chunk in result:
            if audio is None:  # the start frame, and so the format, has come by now
                audio = AudioFile(out, result.format or "pcm")
            audio.write(chunk)
            out.flush()
        if audio is not None and not result.cancelled:
            audio.finish(result.end)
    except BrokenPipeError:
        result.close()
        # Point stdout at /dev/null so the interpreter's final flush does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        return 1
    except OSError as exc:  # a full disk, a quota: the socket's troubles arrive as LitettsError
        result.close()
        raise CliError(f"cannot write to standard output: {exc.strerror or exc}") from None
    _fail_if_cut_short(result, "the audio written is incomplete")
    _warn_if_silent(result)
    return 0


def _fail_if_cut_short(result: SynthesisState, consequence: str) -> None:
    """The CLI cancels only when its reader has gone; any other ``cancelled`` was the daemon's."""
    if result.cancelled:
        raise CliError(f"litettsd cancelled the request before its end (shutting down?); {consequence}")


def _warn_if_silent(result: SynthesisState) -> None:
    """A text with nothing to speak (empty, blank, or only symbols read as nothing) still gives
    a valid, empty stream: a script piping in an empty file should hear why it got no audio."""
    if result.end is not None and not result.end.get("duration"):
        print("litetts: warning: the text has nothing to speak; the audio is empty", file=sys.stderr)


def _find_player() -> Callable[[int], list[str]]:
    """The command line builder of the first installed player (checked before synthesizing)."""
    for name, command in PLAYERS:
        exe = shutil.which(name)
        if exe is not None:
            return functools.partial(command, exe)
    names = ", ".join(name for name, _ in PLAYERS)
    raise CliError(f"no audio player found (tried {names}); install one, or write a file with -o FILE")


def _play(result: SynthesisResult, player_command: Callable[[int], list[str]]) -> int:
    """Feed raw PCM to a player started once the start frame has told us the rate."""
    player: subprocess.Popen[bytes] | None = None
    command: list[str] = []
    broken_pipe = False
    try:
        for chunk in result:
            if player is None:  # the start frame, and so the rate, has come by now
                command = player_command(result.sample_rate)
                try:
                    player = subprocess.Popen(command, stdin=subprocess.PIPE)
                except OSError as exc:
                    raise CliError(f"cannot start {command[0]}: {exc.strerror or exc}") from None
            assert player.stdin is not None
            player.stdin.write(chunk)
    except BrokenPipeError:
        broken_pipe = True
        result.close()
    except BaseException:
        if player is not None:
            player.kill()
        raise
    finally:
        if player is not None:
            if player.stdin is not None and not player.stdin.closed:
                try:
                    player.stdin.close()
                except BrokenPipeError:
                    pass  # the player already quit; its status says why
            player.wait()
    if player is not None and player.returncode != 0:
        raise CliError(
            f"audio player {command[0]} exited with status {player.returncode} (is a sound server running? "
            "-o FILE writes the audio instead)"
        )
    if not broken_pipe:
        _fail_if_cut_short(result, "only the audio before that was played")
        _warn_if_silent(result)
    return 0


_BAR_WIDTH = 30
_MIN_BAR_WIDTH = 10


class _Progress:
    """One self-overwriting stderr line, so a long synthesis visibly moves."""

    def __init__(self) -> None:
        self._shown = False

    def __call__(self, state: SynthesisState) -> None:
        if state.format in ("pcm", "wav"):
            amount = f"{state.audio_bytes / (2 * state.sample_rate):.1f} s of audio"
        else:
            amount = f"{state.audio_bytes / 1024:.0f} KiB of {state.format}"
        line = f"{amount} written"
        if state.progress is not None:
            line = f"{state.progress:4.0%}, {line}"
            # The bar takes what the terminal has left, up to its full width: a line that
            # wraps cannot be redrawn with a carriage return.
            width = min(_BAR_WIDTH, _columns() - len("litetts: [] ") - len(line) - 1)
            if width >= _MIN_BAR_WIDTH:
                filled = round(state.progress * width)
                line = f"[{'#' * filled}{'.' * (width - filled)}] {line}"
        sys.stderr.write(f"\rlitetts: {line}")
        sys.stderr.flush()
        self._shown = True

    def finish(self) -> None:
        """End the line, so the shell prompt does not overwrite it."""
        if self._shown:
            sys.stderr.write("\n")


def _columns() -> int:
    """The width of the terminal the progress line is drawn on (standard error)."""
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):  # not a terminal after all, or closed
        return 80


# -- voices, status, normalize --------------------------------------------------------


def _voices(client: Client, args: argparse.Namespace) -> int:
    """Aligned table of the fields people pick a voice by."""
    rows = [["ID", "LANGUAGE", "SAMPLE RATE", "ENGINE"]]
    rows += [
        [str(v.get("id", "")), str(v.get("language", "")), str(v.get("sample_rate", "")), str(v.get("engine", ""))]
        for v in client.voices(args.language)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _reload(client: Client, args: argparse.Namespace) -> int:
    """Reload; a rejected configuration raises with the daemon's reason (the old one stays)."""
    reply = client.reload()
    print("reloaded: " + ", ".join(reply.get("files", [])))
    return 0


def _status(client: Client, args: argparse.Namespace) -> int:
    """One ``key: value`` line per fact, easy to grep."""
    reply = client.status()
    for key, value in _flatten((k, v) for k, v in reply.items() if k not in ("type", "id")):
        print(f"{key}: {value}")
    return 0


def _flatten(items: Iterable[tuple[str, Any]]) -> Iterable[tuple[str, str]]:
    """Nested maps become dotted keys, lists of maps indexed keys, lists of plain values comma lists."""
    for key, value in items:
        if isinstance(value, dict):
            yield from _flatten((f"{key}.{k}", v) for k, v in value.items())
        elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
            yield from _flatten((f"{key}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, list):
            yield key, ", ".join(_scalar(v) for v in value)
        else:
            yield key, _scalar(value)


def _scalar(value: Any) -> str:
    """Floats (uptimes, seconds) rounded to what a person reads; everything else as is."""
    return str(round(value, 3)) if isinstance(value, float) else str(value)


def _normalize(client: Client, args: argparse.Namespace) -> int:
    """Show what the voice will really say, to debug pronunciations."""
    reply = client.normalize(_read_text(args.text), voice=args.voice)
    print(f"text: {reply.get('text', '')}")
    print(f"phonemes: {reply.get('phonemes', '')}")
    return 0


# -- speechd-install ------------------------------------------------------------------


def _speechd_install(client: Client, args: argparse.Namespace) -> int:
    """Needs no daemon: ``client`` stays unconnected, since a Client connects on its first request."""
    from .speechd_install import InstallError, install

    try:
        install(args.user, args.destdir, sys.stdout)
    except InstallError as exc:
        raise CliError(str(exc)) from None
    return 0
