"""Creating onnxruntime sessions with the optimizer hooks applied, and caching their graphs.

Graph optimization is most of a session's load time, and it gives the same graph on every
start. So the first load saves onnxruntime's optimized graph into the cache folder, and
later starts load that with optimizations off: a Piper voice loads in about 0.1 s instead
of 0.3 s on the 2-core CI machine, with bit-identical audio. The weights are saved beside
the graph as external data, which onnxruntime maps from the file instead of parsing and
copying them (another 0.05-0.1 s, and ~10 MB less resident memory). The graph is saved
without the inferred shapes of its intermediate values, which only slow the next load down
(``model_prep.drop_shape_annotations``). The cache entry is keyed by the source model, the
onnxruntime version, the CPU (the optimized graph may use kernels laid out for this CPU's
vector width), the options that change what the optimizer produces and how we save it.

Memory: every session of the process shares one arena (see ``arena``), and memory
pattern planning is off. The pattern is planned per input shape, and a speech model sees a
new shape with almost every chunk; when a shape does repeat, the pattern's one big block
comes from the arena beside the chunks earlier runs left there, so repeating a text grew
the peak RSS by about 85 MB, with no measurable speed gain.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import platform
import time
from pathlib import Path

from .arena import share_arena
from .config import Settings
from .derived import flush_to_disk, mark_used, prune_unused, remove_tree
from .model_prep import cache_key, drop_shape_annotations
from .ort_capi import GraphOptimizationLevel, InferenceSession, SessionOptions
from .plugins import Plugins
from .prefetch import Prefetch, Snapshot, snapshot

log = logging.getLogger(__name__)

START_UP: contextvars.ContextVar[bool] = contextvars.ContextVar("litettsd_start_up", default=False)
"""True while start-up loads its own voices. Loading tasks and their threads inherit it, so a
session opened for a request served before READY (which may finish first) is not taken for
start-up's."""

_GRAPH = "model.onnx"
_WEIGHTS = "model.data"
_OPTIMIZER_CONFIG_KEYS = (
    "session.disable_prepacking",
    "session.disable_quant_qdq",
    "session.enable_quant_qdq_cleanup",
    "session.disable_double_qdq_remover",
    "session.qdqisint8allowed",
    "session.x64quantprecision",
    "optimization.enable_gelu_approximation",
    "optimization.minimal_build_optimizations",
    "session.disable_aot_function_inlining",
)
"""Session config entries an optimizer plugin might set that change the optimized graph."""
_SAVED_FORMAT = "2"
"""How we write a graph into the cache (2: without ``value_info``); older entries are not reused."""


def cpu_identity() -> str:
    """The CPU's architecture and feature flags: the optimized graph is only valid where they match."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return f"{platform.machine()} {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def optimizer_identity(options: SessionOptions) -> list[str]:
    """What, besides the model, decides the graph onnxruntime's optimizer produces and we cache."""
    parts = [f"level={int(options.graph_optimization_level)}", cpu_identity(), f"saved={_SAVED_FORMAT}"]
    entries = options.entries
    parts += [f"{key}={entries[key]}" for key in _OPTIMIZER_CONFIG_KEYS if key in entries]
    return parts


def optimized_model_path(model: Path, options: SessionOptions, cache_dir: Path) -> Path:
    """The cached optimized graph of ``model`` under ``options`` (it may not exist yet)."""
    return cache_dir / "optimized" / f"{model.stem}.{cache_key(model, *optimizer_identity(options))}" / _GRAPH


class SessionFactory:
    """Builds inference sessions; optimizer plugins adjust the options per engine."""

    def __init__(self, plugins: Plugins, settings: Settings, threads: int, ahead: Prefetch | None = None) -> None:
        self._plugins = plugins
        self._settings = settings
        self._threads = threads
        self._ahead = ahead
        self.threads: dict[str, int] = {}
        """Intra-op thread count in force per engine, for ``status``."""
        self.opened: list[tuple[Path, Snapshot]] = []
        """The cached graphs opened for start-up's own voices (``START_UP``), with their options,
        in order: what the next start may open ahead (see ``prefetch``)."""

    def options(self, engine: str) -> SessionOptions:
        """Our defaults, then every optimizer plugin's changes."""
        share_arena()
        options = SessionOptions()
        options.enable_mem_pattern = False
        options.add_session_config_entry("session.use_env_allocators", "1")
        self._plugins.call_each(
            "litettsd_session_options", engine=engine, options=options, settings=self._settings, threads=self._threads
        )
        return options

    def __call__(self, model: Path, engine: str) -> InferenceSession:
        options = self.options(engine)
        started = time.perf_counter()
        session, ahead = self._load(model, options)
        self.threads[engine] = options.intra_op_num_threads
        log.info(
            "loaded %s model %s in %.2fs%s", engine, session._model_path, time.perf_counter() - started,
            " (opened ahead, during start-up)" if ahead else "",
        )  # fmt: skip
        return session

    def _load(self, model: Path, options: SessionOptions) -> tuple[InferenceSession, bool]:
        """A session on the cached optimized graph, or on ``model`` (caching its graph on the way),
        and whether start-up had opened it ahead."""
        level = options.graph_optimization_level
        if level == GraphOptimizationLevel.ORT_DISABLE_ALL:
            return _session(model, options), False
        target = optimized_model_path(model, options, self._settings.cache.path())
        options.graph_optimization_level = GraphOptimizationLevel.ORT_DISABLE_ALL
        recorded = snapshot(options)  # how this start and the next ones open the cached graph
        if target.exists():
            mark_used(target.parent)  # see prune_unused
            try:
                session = self._opened_ahead(target, recorded)
                ahead = session is not None
                if session is None:
                    session = _session(target, options)
            except Exception as exc:  # a damaged cache entry must never stop a voice from loading
                log.warning("cached optimized graph %s unusable (%s); rebuilding it", target, exc)
                remove_tree(target.parent)
            else:
                self._note_opened(target, recorded)
                return session, ahead
        options.graph_optimization_level = level
        session = self._load_and_save(model, options, target)
        if target.exists():
            self._note_opened(target, recorded)
        return session, False

    def _note_opened(self, graph: Path, recorded: Snapshot | None) -> None:
        if recorded is not None and START_UP.get():
            self.opened.append((graph, recorded))

    def close_ahead(self) -> None:
        """Start-up is over: drop the sessions opened ahead that nobody took."""
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None

    def _opened_ahead(self, graph: Path, recorded: Snapshot | None) -> InferenceSession | None:
        """The session start-up opened ahead on ``graph`` with these very options, if there is one."""
        if self._ahead is None or recorded is None:
            return None
        return self._ahead.take(graph, recorded)

    def _load_and_save(self, model: Path, options: SessionOptions, target: Path) -> InferenceSession:
        """Optimize ``model`` and save the result into a private folder, then publish it whole.

        The folder is renamed into place in one step, so another daemon starting meanwhile
        sees either no entry or a complete one; if one was published first, ours is dropped.
        Files are never rewritten in place: a daemon may have the weights mapped.
        """
        folder = target.parent.with_name(f"{target.parent.name}.tmp{os.getpid()}")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            options.optimized_model_filepath = str(folder / _GRAPH)
            options.add_session_config_entry("session.optimized_model_external_initializers_file_name", _WEIGHTS)
            # onnxruntime warns that a fully optimized graph may suit only this hardware;
            # the CPU is part of the cache key, so the warning is noise in our log.
            options.log_severity_level = 3
            session = _session(model, options)
        except Exception as exc:  # e.g. a read-only cache folder: load without caching
            log.warning("cannot cache the optimized graph of %s: %s", model, exc)
            remove_tree(folder)
            options.optimized_model_filepath = ""
            return _session(model, options)
        try:
            drop_shape_annotations(folder / _GRAPH)
        except (OSError, RuntimeError) as exc:  # hints only: the graph is cached as saved
            log.warning("the optimized graph of %s keeps its shape annotations: %s", model, exc)
        try:
            flush_to_disk(folder)
        except OSError as exc:  # an entry that may not survive a power cut is not published
            log.warning("cannot write the optimized graph of %s to disk: %s", model, exc)
            remove_tree(folder)
            return session
        try:
            folder.rename(target.parent)
        except OSError:  # another process published first, or a broken entry is in the way
            if not target.exists():
                remove_tree(target.parent)
                with contextlib.suppress(OSError):
                    folder.rename(target.parent)
            remove_tree(folder)
        prune_unused(target.parent, (e for e in target.parent.parent.iterdir() if e.is_dir()), "optimized graph")
        return session


def _session(model: Path, options: SessionOptions) -> InferenceSession:
    return InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
