"""Everything built from one configuration, replaced as a whole by a reload.

A reload builds a complete new Runtime beside the old one and swaps a single reference.
Requests capture the runtime's pipeline when they start, so they finish with the settings,
voices and plugins they started with, and a voice the reload removed lives on exactly as
long as the requests that still use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .api import Engine, EngineContext
from .cache import AudioCache
from .config import LoadedConfig, Settings
from .pipeline import Pipeline
from .plugins import Plugins, build_plugin_manager
from .prefetch import Prefetch
from .scheduler import InferenceScheduler
from .sessions import SessionFactory
from .voices import VoiceRegistry


@dataclass(frozen=True)
class Runtime:
    """Plugins, engines, voices and the pipeline for one configuration."""

    config: LoadedConfig
    plugins: Plugins
    engines: tuple[Engine, ...]
    sessions: SessionFactory
    voices: VoiceRegistry
    pipeline: Pipeline

    @property
    def settings(self) -> Settings:
        return self.config.settings


def _plugin_choice(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(settings.plugins.disabled), tuple(settings.plugins.load)


def load_engines(settings: Settings) -> tuple[Plugins, tuple[Engine, ...]]:
    """The plugins ``settings`` choose, and the voice engines they register."""
    plugins = build_plugin_manager(settings.plugins.disabled, settings.plugins.load)
    return plugins, tuple(engine for _, engine in plugins.collect("litettsd_register_engines", settings=settings))


def build_runtime(
    config: LoadedConfig,
    scheduler: InferenceScheduler,
    cache: AudioCache,
    threads: int,
    previous: Runtime | None = None,
    ahead: Prefetch | None = None,
) -> Runtime:
    """Build a runtime, reusing the previous one's plugins and warm voices where they still apply;
    at start-up, with the sessions opened ahead (see ``prefetch``)."""
    settings = config.settings
    reuse = previous is not None and _plugin_choice(previous.settings) == _plugin_choice(settings)
    if previous is not None and reuse:
        plugins, engines = previous.plugins, previous.engines
    else:
        plugins, engines = load_engines(settings)
    sessions = SessionFactory(plugins, settings, threads, ahead)
    if previous is not None:
        sessions.threads.update(previous.sessions.threads)
    context = EngineContext(settings=settings, cache_dir=settings.cache.path(), create_session=sessions)
    voices = VoiceRegistry(engines, context)
    if previous is not None and reuse:
        voices.adopt(previous.voices)
    return Runtime(config, plugins, engines, sessions, voices, Pipeline(settings, plugins, voices, scheduler, cache))
