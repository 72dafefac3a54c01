"""Drive speech-dispatcher output modules and a private speech-dispatcher, headless.

``ModuleDriver`` plays the part of speech-dispatcher on a module's pipes and decodes what
comes back. ``PulseAudio``, ``Recorder`` and ``SpeechDispatcher`` run the real thing in a
temporary folder: a private PulseAudio whose null sink stands in for speakers, a ``parec``
on its monitor, and a speech-dispatcher with its own configuration, socket and logs
(recipe in /work/shared/notes/speech-dispatcher.md). Used by tests/test_speechd_module.py,
tests/test_speechd_e2e.py and benchmarks/bench_speechd.py.
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SD_LITETTS = BIN / "sd_litetts"
SD_ESPEAK = Path("/usr/lib/speech-dispatcher-modules/sd_espeak-ng")
ESPEAK_CONF = Path("/etc/speech-dispatcher/modules/espeak-ng.conf")
F_SETPIPE_SZ = 1031
"""fcntl command (Linux) to resize a pipe's buffer."""
DEFAULT_SET = {
    "pitch": "0",
    "pitch_range": "0",
    "rate": "0",
    "volume": "100",
    "punctuation_mode": "none",
    "spelling_mode": "off",
    "cap_let_recogn": "none",
    "voice": "male1",
    "language": "en-US",
    "synthesis_voice": "NULL",
}
"""What speech-dispatcher 0.11 sends before a message with Debian's default configuration."""


def unescape(payload: bytes) -> bytes:
    """Undo the protocol's audio escaping (0x7D, byte ^ 0x20), as speech-dispatcher does."""
    pieces = payload.split(b"\x7d")
    out = bytearray(pieces[0])
    for piece in pieces[1:]:
        assert piece, "escape byte at the end of an audio payload"
        out.append(piece[0] ^ 0x20)
        out += piece[1:]
    return bytes(out)


@dataclass
class Event:
    """One reply or event line, or one decoded ``705`` block, with its arrival time."""

    line: str
    at: float
    pcm: bytes = b""
    header: dict[str, int] = field(default_factory=dict)
    raw: bytes = b""
    """The escaped payload as sent, for audio blocks."""

    @property
    def is_audio(self) -> bool:
        return self.line == "705 AUDIO"


@dataclass
class Message:
    """Everything a module sent for one message, from its reply to its ending event."""

    events: list[Event]

    @property
    def lines(self) -> list[str]:
        return [e.line for e in self.events if not e.is_audio]

    @property
    def audio(self) -> bytes:
        return b"".join(e.pcm for e in self.events if e.is_audio)

    @property
    def blocks(self) -> list[Event]:
        return [e for e in self.events if e.is_audio]

    @property
    def ending(self) -> str:
        return self.events[-1].line

    @property
    def sample_rate(self) -> int:
        return self.blocks[0].header["sample_rate"]

    def marks(self) -> list[tuple[str, int]]:
        """Each mark with the number of samples sent before it."""
        samples, marks = 0, []
        for event in self.events:
            if event.is_audio:
                samples += event.header["num_samples"]
            elif event.line.startswith("700-"):
                marks.append((event.line[4:], samples))
        return marks

    def samples(self) -> np.ndarray:
        return np.frombuffer(self.audio, dtype=np.int16)


class ModuleDriver:
    """An output module subprocess, spoken to as speech-dispatcher does.

    Reading happens only inside the calls below, never in the background: while the test
    does not read, the module's writes block exactly as they do when the server reads at
    playback speed.
    """

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, stderr: Path | None = None) -> None:
        # Open for the process's whole life, closed in close().
        self._stderr = open(stderr, "wb") if stderr is not None else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, **(env or {})},
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self._fd = self.proc.stdout.fileno()
        self._buffer = b""

    # -- writing ------------------------------------------------------------------------

    def send(self, *lines: str) -> float:
        """Write lines; returns the time just after the write."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(f"{line}\n" for line in lines).encode())
        self.proc.stdin.flush()
        return time.perf_counter()

    def shrink_pipe(self, size: int = 4096) -> None:
        """Make the stdout pipe hold only ``size`` bytes, so an unread module blocks almost at once."""
        fcntl.fcntl(self._fd, F_SETPIPE_SZ, size)

    # -- reading ------------------------------------------------------------------------

    def _readline(self, timeout: float) -> bytes | None:
        deadline = time.perf_counter() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.perf_counter()
            if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                return None
            chunk = os.read(self._fd, 65536)
            if not chunk:
                raise EOFError(f"module exited with {self.proc.wait()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def event(self, timeout: float = 30.0) -> Event | None:
        """The next line or whole audio block, or ``None`` if nothing came in ``timeout`` seconds."""
        raw = self._readline(timeout)
        if raw is None:
            return None
        now = time.perf_counter()
        if not raw.startswith(b"705-"):
            return Event(raw.decode(), now)
        header: dict[str, int] = {}
        while not raw.startswith(b"705-AUDIO\x00"):
            key, _, value = raw[4:].decode().partition("=")
            header[key] = int(value)
            raw = self._next(timeout)
        payload = raw[len(b"705-AUDIO\x00") :]
        closing = self._next(timeout)
        assert closing == b"705 AUDIO", closing
        return Event("705 AUDIO", time.perf_counter(), unescape(payload), header, payload)

    def _next(self, timeout: float) -> bytes:
        line = self._readline(timeout)
        assert line is not None, "an audio block stopped half-way"
        return line

    def expect(self, *lines: str, timeout: float = 30.0) -> None:
        for line in lines:
            got = self.event(timeout)
            assert got is not None and got.line == line, f"expected {line!r}, got {got and got.line!r}"

    def reply(self, timeout: float = 30.0) -> list[str]:
        """The lines of one reply: up to the first line whose code is followed by a space."""
        lines: list[str] = []
        while True:
            event = self.event(timeout)
            assert event is not None, f"no reply after {lines}"
            lines.append(event.line)
            if len(event.line) < 4 or event.line[3] == " ":
                return lines

    def until_end(self, timeout: float = 60.0) -> Message:
        """Events up to and including 702/703/704."""
        events: list[Event] = []
        while True:
            event = self.event(timeout)
            assert event is not None, f"message did not end: {[e.line for e in events][-5:]}"
            events.append(event)
            if event.line in ("702 END", "703 STOP", "704 PAUSE"):
                return Message(events)

    def quiet(self, seconds: float) -> list[Event]:
        """Whatever arrives within ``seconds`` (expected: nothing)."""
        events: list[Event] = []
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            event = self.event(left)
            if event is None:
                break
            events.append(event)
        return events

    # -- commands -------------------------------------------------------------------------

    def command(self, line: str, data: Iterable[str] | None = None) -> list[str]:
        """A command, its data block if any (after the first reply), and the final reply."""
        self.send(line)
        if data is None:
            return self.reply()
        first = self.reply()
        self.send(*data, ".")
        return first + self.reply()

    def start(self) -> list[str]:
        """INIT, AUDIO and LOGLEVEL, as the server sends them at start-up; returns INIT's reply."""
        init = self.command("INIT")
        if init[-1] == "299 OK LOADED SUCCESSFULLY":
            assert self.command("AUDIO", ["audio_output_method=server"])[-1] == "203 OK AUDIO INITIALIZED"
            assert self.command("LOGLEVEL", ["log_level=3"])[-1] == "203 OK LOGLEVEL SET"
        return init

    def set(self, **values: str) -> list[str]:
        return self.command("SET", [f"{k}={v}" for k, v in {**DEFAULT_SET, **values}.items()])

    def begin(self, text: str, command: str = "SPEAK", **settings: str) -> float:
        """SET, then a message up to ``701 BEGIN``; returns the time the text was written."""
        assert self.set(**settings)[-1] == "203 OK SETTINGS RECEIVED"
        assert self.command(command) == ["202 OK RECEIVING MESSAGE"]
        lines = ["." + line if line.startswith(".") else line for line in text.split("\n")]
        sent = self.send(*lines, ".")
        self.expect("200 OK SPEAKING", "701 BEGIN")
        return sent

    def speak(self, text: str, command: str = "SPEAK", **settings: str) -> Message:
        self.begin(text, command, **settings)
        return self.until_end()

    def quit(self, timeout: float = 5.0) -> int:
        self.send("QUIT")
        assert self.reply()[-1] == "210 OK QUIT"
        return self.close(timeout)

    def close(self, timeout: float = 5.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if self._stderr is not subprocess.DEVNULL:
            self._stderr.close()  # type: ignore[union-attr]
        return code


# -- signal measures --------------------------------------------------------------------


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(float) ** 2)))


def dominant_pitch(samples: np.ndarray, rate: int) -> float:
    """Median fundamental frequency over voiced 40 ms frames, by autocorrelation (70-400 Hz)."""
    audio = samples.astype(float) / 32768
    size = int(0.04 * rate)
    estimates = []
    for start in range(0, len(audio) - size, size):
        frame = audio[start : start + size]
        if np.sqrt(np.mean(frame**2)) < 0.05:
            continue
        frame = frame - frame.mean()
        corr = np.correlate(frame, frame, "full")[size - 1 :]
        low, high = int(rate / 400), int(rate / 70)
        lag = low + int(np.argmax(corr[low:high]))
        if corr[lag] > 0.3 * corr[0]:
            estimates.append(rate / lag)
    return float(np.median(estimates))


def first_sound(samples: np.ndarray, threshold: int = 300) -> int | None:
    """Index of the first sample louder than ``threshold``, or ``None`` for silence."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    return int(loud[0]) if len(loud) else None


# -- a private PulseAudio and speech-dispatcher ---------------------------------------


def _wait_for(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not create {path}")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PulseAudio:
    """A private PulseAudio in the foreground whose null sink ``capture`` stands in for speakers."""

    RATE = 22050

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.socket = root / "native"
        (root / "pa.pa").write_text(
            f"load-module module-native-protocol-unix socket={self.socket} auth-anonymous=1\n"
            f"load-module module-null-sink sink_name=capture rate={self.RATE} channels=1\n"
            "set-default-sink capture\n"
        )
        (root / "client.conf").write_text("autospawn = no\nenable-shm = no\n")
        self.env = {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_CLIENTCONFIG": str(root / "client.conf"),
        }
        private = {"HOME": str(root), "XDG_RUNTIME_DIR": str(root), "XDG_CONFIG_HOME": str(root)}
        self.log = open(root / "pulseaudio.log", "wb")  # noqa: SIM115 -- closed in stop()
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "-F", str(root / "pa.pa"), "--daemonize=no", "--exit-idle-time=-1",
             "--use-pid-file=no", "--disallow-exit=yes", "--disable-shm=yes", "--realtime=no",
             "--high-priority=no", "--log-target=stderr"],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **private},
        )  # fmt: skip
        _wait_for(self.socket, self.proc, "pulseaudio")

    def stop(self) -> None:
        _stop(self.proc)
        self.log.close()


class Recorder:
    """``parec`` on the null sink's monitor, read on a thread that timestamps every chunk.

    The monitor delivers a steady stream (silence included), so a sample's index and the
    arrival time of its chunk place it on the wall clock to within a chunk.
    """

    def __init__(self, pulse: PulseAudio) -> None:
        self.rate = pulse.RATE
        self.proc = subprocess.Popen(
            ["parec", "--raw", "--latency-msec=10", "-d", "capture.monitor", f"--rate={self.rate}",
             "--channels=1", "--format=s16le"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **pulse.env},
        )  # fmt: skip
        self._chunks: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._chunks:  # the first 1.5-2 s after connecting yield nothing
            if time.monotonic() > deadline:
                raise TimeoutError("parec delivered nothing")
            time.sleep(0.02)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while chunk := os.read(fd, 4096):
            with self._lock:
                self._chunks.append((time.perf_counter(), chunk))

    def mark(self) -> int:
        """Bytes captured so far: where audio played from now on starts."""
        with self._lock:
            return sum(len(chunk) for _, chunk in self._chunks)

    def samples(self, since: int = 0) -> np.ndarray:
        with self._lock:
            data = b"".join(chunk for _, chunk in self._chunks)
        return np.frombuffer(data[since : len(data) // 2 * 2], dtype=np.int16)

    def time_of(self, byte_index: int) -> float:
        """Wall-clock time (perf_counter) at which captured byte ``byte_index`` was played."""
        with self._lock:
            total = 0
            for at, chunk in self._chunks:
                total += len(chunk)
                if total > byte_index:
                    return at - (total - byte_index) / (2 * self.rate)
        raise ValueError("not captured yet")

    def wait_for_sound(self, since: int, timeout: float = 30.0, threshold: int = 300) -> float | None:
        """Time the first loud sample after byte ``since`` was played, or ``None`` on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            index = first_sound(self.samples(since), threshold)
            if index is not None:
                return self.time_of(since + 2 * index)
            time.sleep(0.002)
        return None

    def stop(self) -> None:
        _stop(self.proc)
        self._thread.join(5)


class SpeechDispatcher:
    """A private speech-dispatcher with its own socket, logs and home folder.

    ``modules`` maps module names to (program, configuration text), the first being the
    default module, and gives the server a configuration folder of its own. Without
    ``modules`` it reads the system configuration and finds modules as an installed
    server does (system folder, then ``$XDG_DATA_HOME/../libexec``), with ``env`` added
    to its environment, which its modules inherit. Clients need :attr:`env`
    (``SPEECHD_ADDRESS`` and the PulseAudio variables); DisableAutoSpawn and the explicit
    address keep them from starting a server of their own.
    """

    def __init__(
        self,
        root: Path,
        pulse: PulseAudio,
        modules: dict[str, tuple[Path, str]] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        (root / "logs").mkdir(parents=True, exist_ok=True)
        home = root / "home"
        (home / ".local" / "share").mkdir(parents=True, exist_ok=True)
        self.socket = root / "speechd.sock"
        self.env = {
            **pulse.env,
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local/share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "SPEECHD_ADDRESS": f"unix_socket:{self.socket}",
        }
        argv = ["speech-dispatcher", "-s", "-t", "0", "-c", "unix_socket", "-S", str(self.socket),
                "-P", str(root / "speechd.pid"), "-L", str(root / "logs")]  # fmt: skip
        if modules is not None:
            conf = root / "conf"
            (conf / "modules").mkdir(parents=True, exist_ok=True)
            lines = [
                "DisableAutoSpawn",
                'AudioOutputMethod "pulse"',
                'AudioPulseDevice "capture"',
                "DefaultVolume 100",  # as Debian ships it
                "LogLevel 3",
            ]
            for name, (program, text) in modules.items():
                (conf / "modules" / f"{name}.conf").write_text(text)
                lines.append(f'AddModule "{name}" "{program}" "{name}.conf"')
            lines.append(f"DefaultModule {next(iter(modules))}")
            (conf / "speechd.conf").write_text("\n".join(lines) + "\n")
            argv += ["-C", str(conf)]
        self.log = open(root / "speech-dispatcher.out", "wb")  # noqa: SIM115 -- closed in stop()
        self.proc = subprocess.Popen(
            argv, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **self.env, **(env or {})}
        )
        _wait_for(self.socket, self.proc, "speech-dispatcher")

    def run(self, *argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """A client command (spd-say...) against this server."""
        return subprocess.run(
            argv, env={**os.environ, **self.env}, capture_output=True, text=True, timeout=timeout, check=False
        )

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            argv, env={**os.environ, **self.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def module_log(self, name: str) -> str:
        path = self.root / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        _stop(self.proc)
        self.log.close()


def module_wrapper(path: Path, socket: Path) -> Path:
    """A script speech-dispatcher can start as ``sd_litetts``: AddModule passes no environment."""
    path.write_text(f'#!/bin/sh\nexport LITETTSD_SOCKET="{socket}"\nexec "{SD_LITETTS}" "$@"\n')
    path.chmod(0o755)
    return path


def have_speech_dispatcher() -> bool:
    return all(shutil.which(tool) for tool in ("speech-dispatcher", "spd-say", "pulseaudio", "parec"))
