"""Creating onnxruntime sessions with the optimizer hooks applied."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from .config import Settings
from .plugins import Plugins

log = logging.getLogger(__name__)


class SessionFactory:
    """Builds inference sessions; optimizer plugins adjust the options per engine."""

    def __init__(self, plugins: Plugins, settings: Settings, threads: int) -> None:
        self._plugins = plugins
        self._settings = settings
        self._threads = threads
        self.threads: dict[str, int] = {}
        """Intra-op thread count in force per engine, for ``status``."""

    def __call__(self, model: Path, engine: str) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        self._plugins.call_each(
            "litettsd_session_options", engine=engine, options=options, settings=self._settings, threads=self._threads
        )
        started = time.perf_counter()
        session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        self.threads[engine] = options.intra_op_num_threads
        log.info("loaded %s model %s in %.2fs", engine, model.name, time.perf_counter() - started)
        return session
