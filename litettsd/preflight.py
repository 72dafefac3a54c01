"""``litettsd check-config``'s second half: what start-up would refuse beyond the settings' own rules.

A file can be valid TOML with every key in range and still stop the daemon: a default voice
no engine offers, a lexicon that does not parse, a group that does not exist, CPUs the
machine does not have. An admin who ran ``check-config`` before restarting the service
should hear about those too. Each problem names the key and where its value was set. Nothing
here loads a model or binds a socket: it reads what start-up reads before it does either.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ConfigError, LoadedConfig
from .errors import RequestError, StartupError

if TYPE_CHECKING:
    from .voices import VoiceRegistry


def startup_problems(config: LoadedConfig) -> list[str]:
    """One line per setting the daemon would refuse at start-up (empty: it would start)."""
    problems: list[str] = []

    def check(key: str, test: Callable[..., object], *args: Any) -> None:
        try:
            test(*args)
        except (ConfigError, StartupError) as exc:
            problems.append(f"{key} ({config.sources[key]}): {exc}")
        except RequestError as exc:
            problems.append(f"{key} ({config.sources[key]}): {exc.message}")

    settings = config.settings
    if settings.server.group:
        check("server.group", group_id, settings.server.group)
    check("cpu.affinity", _cpu_plan, config)
    check("lexicon.files", _lexicon, config)
    try:
        voices = _voice_registry(config)
    except StartupError as exc:  # a plugin that cannot be imported: nothing about voices can be said
        problems.append(f"plugins ({config.sources['plugins.load']}): {exc}")
        return problems
    check("synthesis.default_voice", voices.canonical, settings.synthesis.default_voice)
    if settings.synthesis.fallback_voice:
        check("synthesis.fallback_voice", voices.canonical, settings.synthesis.fallback_voice)
    for voice in settings.voices.preload:
        check("voices.preload", voices.canonical, voice)
    return problems


def group_id(group: str) -> int:
    """The id of ``[server] group``, which start-up gives the socket to."""
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise StartupError(f"[server] group {group!r} does not exist") from None


def _cpu_plan(config: LoadedConfig) -> None:
    from .cpu import plan_cpus

    plan_cpus(config.settings.cpu.affinity, config.settings.cpu.threads_setting())


def _lexicon(config: LoadedConfig) -> None:
    from .lexicon import Lexicon

    Lexicon.load(config.settings.lexicon.files)


def _voice_registry(config: LoadedConfig) -> VoiceRegistry:
    from .api import EngineContext
    from .runtime import load_engines
    from .voices import VoiceRegistry

    settings = config.settings

    def no_sessions(model: Path, engine: str) -> Any:
        raise RuntimeError("check-config loads no model")

    _, engines = load_engines(settings)
    return VoiceRegistry(engines, EngineContext(settings=settings, cache_dir=settings.cache.path(), create_session=no_sessions))
