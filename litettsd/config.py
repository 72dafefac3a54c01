"""Typed settings: the shipped defaults file merged with user files and flags.

The defaults live only in ``config/litettsd.toml`` (installed as ``litettsd/defaults.toml``);
the dataclasses below hold no defaults of their own, so the documented file and the code
cannot drift apart. Unknown keys and wrong types are errors naming the source and key.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

from litettsd_client.paths import default_socket_path

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """A configuration source is unreadable or holds a bad value; the message says where."""


def _range(low: float | None = None, high: float | None = None) -> dict[str, Any]:
    return {"low": low, "high": high}


@dataclass(frozen=True)
class ServerSettings:
    socket: str
    max_text_chars: int = dataclasses.field(metadata=_range(1, 10_000_000))
    max_frame_bytes: int = dataclasses.field(metadata=_range(1024, 1 << 30))
    graceful_timeout: float = dataclasses.field(metadata=_range(0.0, 600.0))

    def socket_path(self) -> Path:
        """The configured socket, or the shared default clients also use."""
        return Path(self.socket) if self.socket else default_socket_path()


@dataclass(frozen=True)
class SynthesisSettings:
    default_voice: str
    sentence_silence: float = dataclasses.field(metadata=_range(0.0, 5.0))
    clause_silence: float = dataclasses.field(metadata=_range(0.0, 5.0))


@dataclass(frozen=True)
class CpuSettings:
    spin: bool


@dataclass(frozen=True)
class VoicesSettings:
    paths: list[str]
    kokoro_voice_files: list[str]
    preload: list[str]


@dataclass(frozen=True)
class LexiconSettings:
    files: list[str]


@dataclass(frozen=True)
class CacheSettings:
    dir: str

    def path(self) -> Path:
        """The cache folder, created on first use by whoever writes there."""
        if self.dir:
            return Path(self.dir)
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "litettsd"


@dataclass(frozen=True)
class LogSettings:
    level: str = dataclasses.field(metadata={"choices": LOG_LEVELS})


@dataclass(frozen=True)
class PluginsSettings:
    disabled: list[str]
    load: list[str]


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    synthesis: SynthesisSettings
    cpu: CpuSettings
    voices: VoicesSettings
    lexicon: LexiconSettings
    cache: CacheSettings
    log: LogSettings
    plugins: PluginsSettings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check_value(where: str, key: str, kind: Any, value: Any, meta: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(kind)
    if origin is list:
        (item,) = typing.get_args(kind)
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            raise ConfigError(f"{where}: {key} must be a list of {item.__name__}, got {value!r}")
        return list(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} must be {kind.__name__}, got {type(value).__name__} {value!r}")
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{where}: {key} = {value!r} is out of range [{low}, {high}]")
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: {key} = {value!r} is not one of {', '.join(choices)}")
    return value


def _build(cls: type, data: Mapping[str, Any], where: str, prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{where}: unknown key '{prefix}{key}'{hint}")
    values = {}
    for name, spec in known.items():
        path = f"{prefix}{name}"
        if name not in data:
            raise ConfigError(f"{where}: missing key '{path}'")
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            if not isinstance(data[name], Mapping):
                raise ConfigError(f"{where}: '{path}' must be a table")
            values[name] = _build(typing.cast(type, kind), data[name], where, f"{path}.")
        else:
            values[name] = _check_value(where, path, kind, data[name], spec.metadata)
    return cls(**values)


def load_settings(files: list[Path] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Defaults, then each file in order, then ``overrides`` (command-line flags) win."""
    merged = _read_toml(DEFAULTS_FILE)
    sources = [str(DEFAULTS_FILE)]
    for path in files or []:
        layer = _read_toml(path)
        # Validate each layer alone first so the error names the file that holds the bad key.
        _build(Settings, _merge(merged, layer), str(path), "")
        merged = _merge(merged, layer)
        sources.append(str(path))
    if overrides:
        merged = _merge(merged, overrides)
    return typing.cast(Settings, _build(Settings, merged, "command line" if overrides else sources[-1], ""))

