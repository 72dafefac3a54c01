"""speech-dispatcher figures: sd_litetts against speech-dispatcher's own sd_espeak-ng, in one run.

(a) SPEAK (the message's final ``.`` written to the module's stdin) to the first ``705``
block read back, for ten short screen-reader phrases and one long paragraph, both modules
driven over pipes exactly alike; for litettsd both with its audio cache off (every phrase
inferred) and on (a phrase heard before). (b) STOP to ``703 STOP`` during the paragraph.
(c) ``spd-say`` started to the first sound captured from a private PulseAudio null sink,
through a private speech-dispatcher. Each figure is a median over ROUNDS runs per phrase;
the two modules alternate and every timed run follows IDLE_GAP of silence (see
benchmarks/README.md for why).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import environment, median
from litettsd_client.speechd_config import DEFAULT_CONFIG_TEXT

from tests.conftest import DaemonProcess, RawConnection
from tests.speechd_harness import (
    ESPEAK_CONF,
    SD_ESPEAK,
    SD_LITETTS,
    ModuleDriver,
    PulseAudio,
    Recorder,
    SpeechDispatcher,
    module_wrapper,
)

ROUNDS = 5
IDLE_GAP = 0.3
PHRASES = [
    "button",
    "link",
    "heading level 2",
    "check box, not checked",
    "menu bar",
    "File",
    "edit text, blank",
    "list with 5 items",
    "Close window",
    "selected",
]
PARAGRAPH = (
    "When the committee met on Tuesday morning, the first item on the agenda was the budget. "
    "Several members argued that the library needed more funding for its children's programs, "
    "while others wanted to repair the roof before winter. After a long discussion, they agreed "
    "to split the money between both projects and to revisit the question in the spring."
)
NO_CACHE = "[cache]\nmax_bytes = 0\nphrases = []\n"
"""Daemon configuration layer: nothing cached, nothing warmed, every phrase inferred."""
MODULES = ("litetts", "espeak")
DAEMON_FIELDS = {"format": "pcm", "speed": 1.0, "pitch": 1.0, "volume": 1.0, "punctuation": "none", "spell": False,
                 "capitals": "none", "priority": "message", "ssml": True}  # fmt: skip
"""What sd_litetts asks the daemon for under speech-dispatcher's default settings."""


def _ssml(text: str) -> str:
    """A message as speech-dispatcher sends it: SSML with a mark after each sentence but the last."""
    sentences = text.split(". ")
    body = "".join(f'{s}.<mark name="__spd_{i}"/> ' for i, s in enumerate(sentences[:-1])) + sentences[-1]
    return f"<speak>{body}</speak>"


def _drivers(socket: Path, log_dir: Path) -> dict[str, ModuleDriver]:
    drivers = {
        "litetts": ModuleDriver([str(SD_LITETTS)], env={"LITETTSD_SOCKET": str(socket)}, stderr=log_dir / "litetts.log"),
        "espeak": ModuleDriver([str(SD_ESPEAK), str(ESPEAK_CONF)], stderr=log_dir / "espeak.log"),
    }
    for name, driver in drivers.items():
        assert driver.start()[-1] == "299 OK LOADED SUCCESSFULLY", name
    return drivers


def _first_block(driver: ModuleDriver, text: str) -> float:
    """Seconds from the message's last line written to its first audio block read."""
    time.sleep(IDLE_GAP)
    sent = driver.begin(text)
    while True:
        event = driver.event()
        assert event is not None, "no audio"
        if event.is_audio:
            return event.at - sent


def _drain(driver: ModuleDriver) -> None:
    assert driver.until_end().ending == "702 END"


def _stop_latency(driver: ModuleDriver) -> float:
    """STOP written (after the first block) to ``703 STOP`` read, reading as fast as possible."""
    stopped = driver.send("STOP")
    message = driver.until_end()
    assert message.ending == "703 STOP"
    return message.events[-1].at - stopped


class _Direct:
    """The daemon asked directly, on one connection, for what sd_litetts would ask: the module's overhead is the difference."""

    def __init__(self, socket: Path) -> None:
        self.conn = RawConnection(socket)
        self.ids = iter(range(1, 1 << 30))

    def first_audio(self, text: str) -> float:
        time.sleep(IDLE_GAP)
        rid = next(self.ids)
        started = time.perf_counter()
        self.conn.send({"op": "synthesize", "id": rid, "text": text, **DAEMON_FIELDS})
        first = None
        while True:
            frame = self.conn.recv()
            assert frame is not None
            if frame.get("id") != rid:
                continue
            if frame["type"] == "audio" and first is None:
                first = time.perf_counter() - started
            if frame["type"] in ("end", "cancelled", "error"):
                assert frame["type"] == "end" and first is not None, frame
                return first


def _pipe_figures(drivers: dict[str, ModuleDriver], direct: _Direct | None, results: dict[str, Any], label: str) -> None:
    short: dict[str, list[float]] = {name: [] for name in [*drivers, "direct"]}
    per_phrase: dict[str, dict[str, list[float]]] = {name: {p: [] for p in PHRASES} for name in short}
    for _ in range(ROUNDS):
        for phrase in PHRASES:
            for name, driver in drivers.items():
                seconds = _first_block(driver, _ssml(phrase))
                _drain(driver)
                short[name].append(seconds)
                per_phrase[name][phrase].append(seconds)
            if direct is not None:
                seconds = direct.first_audio(_ssml(phrase))
                short["direct"].append(seconds)
                per_phrase["direct"][phrase].append(seconds)
    for name, times in short.items():
        if times:
            results[f"{name}_speak_to_first_block_short{label}_ms"] = 1000 * median(times)
            worst = max(median(t) for t in per_phrase[name].values())
            results[f"{name}_speak_to_first_block_short{label}_worst_phrase_ms"] = 1000 * worst


def _paragraph_and_stop(drivers: dict[str, ModuleDriver], direct: _Direct, results: dict[str, Any]) -> None:
    first: dict[str, list[float]] = {name: [] for name in [*drivers, "direct"]}
    stops: dict[str, list[float]] = {name: [] for name in drivers}
    for _ in range(ROUNDS):
        for name, driver in drivers.items():
            first[name].append(_first_block(driver, _ssml(PARAGRAPH)))
            time.sleep(0.1)  # mid-utterance, as a user interrupting would
            stops[name].append(_stop_latency(driver))
        first["direct"].append(direct.first_audio(_ssml(PARAGRAPH)))
    for name, times in first.items():
        results[f"{name}_speak_to_first_block_paragraph_ms"] = 1000 * median(times)
    for name, times in stops.items():
        results[f"{name}_stop_to_703_ms"] = 1000 * median(times)


def _spd_say_figures(root: Path, socket: Path, results: dict[str, Any]) -> None:
    pulse = PulseAudio(root / "pulse")
    recorder = Recorder(pulse)
    server = SpeechDispatcher(
        root / "speechd",
        pulse,
        {
            "litetts": (module_wrapper(root / "sd_litetts_wrapper", socket), DEFAULT_CONFIG_TEXT),
            "espeak": (SD_ESPEAK, ESPEAK_CONF.read_text()),
        },
    )
    try:
        for name in MODULES:  # the first message loads each module's voice; not timed
            server.run("spd-say", "-w", "-o", name, "ready")
        latencies: dict[str, list[float]] = {name: [] for name in MODULES}
        for _ in range(ROUNDS):
            for phrase in PHRASES:
                for name in MODULES:
                    time.sleep(IDLE_GAP)
                    since = recorder.mark()
                    started = time.perf_counter()
                    say = server.popen("spd-say", "-w", "-o", name, phrase)
                    heard = recorder.wait_for_sound(since, timeout=10)
                    say.wait(30)
                    assert heard is not None, f"{name} said nothing for {phrase!r}"
                    latencies[name].append(heard - started)
        for name in MODULES:
            results[f"{name}_spd_say_to_first_sound_ms"] = 1000 * median(latencies[name])
    finally:
        server.stop()
        recorder.stop()
        pulse.stop()


def run(cache: Path) -> dict[str, Any]:
    """All figures as a flat dict, like ``bench_core.run``."""
    root = Path(tempfile.mkdtemp(prefix="litettsd-bench-speechd-"))
    results: dict[str, Any] = {}
    daemon = DaemonProcess(root, cache, NO_CACHE)
    try:
        daemon.wait_ready()
        drivers = _drivers(daemon.socket, root)
        direct = _Direct(daemon.socket)
        _pipe_figures(drivers, direct, results, "")
        _paragraph_and_stop(drivers, direct, results)
        direct.conn.close()
        for driver in drivers.values():
            driver.quit()
        _spd_say_figures(root, daemon.socket, results)
    finally:
        daemon.stop()
    cached_root = root / "cached"
    cached_root.mkdir()
    cached = DaemonProcess(cached_root, cache)
    try:
        cached.wait_ready()
        driver = ModuleDriver([str(SD_LITETTS)], env={"LITETTSD_SOCKET": str(cached.socket)})
        assert driver.start()[-1] == "299 OK LOADED SUCCESSFULLY"
        for phrase in PHRASES:  # heard once before
            driver.speak(_ssml(phrase))
        _pipe_figures({"litetts": driver}, None, results, "_cached")
        driver.quit()
    finally:
        cached.stop()
    return results


def print_table(results: dict[str, Any]) -> None:
    """One row per figure, one column per contender."""
    columns = {"litetts": "sd_litetts", "direct": "litettsd direct", "espeak": "sd_espeak-ng"}
    rows: dict[str, dict[str, float]] = {}
    for key, value in results.items():
        contender, figure = key.split("_", 1)
        rows.setdefault(figure, {})[contender] = value
    width = max(len(figure) for figure in rows)
    print(f"{'figure':<{width}}  " + "  ".join(f"{title:>15}" for title in columns.values()))
    for figure, values in rows.items():
        cells = [f"{values[c]:15.1f}" if c in values else f"{'-':>15}" for c in columns]
        print(f"{figure:<{width}}  " + "  ".join(cells))


def main() -> int:
    cache = Path(tempfile.mkdtemp(prefix="litettsd-bench-cache-"))
    results = run(cache)
    print(f"# {environment()}; medians of {ROUNDS} runs per phrase, in ms")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
