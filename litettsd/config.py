"""Typed settings from layered sources, each value remembering where it came from.

Layers, later wins: the shipped defaults (``config/litettsd.toml``, installed as
``litettsd/defaults.toml``), ``/etc/litettsd/litettsd.toml``, ``/etc/litettsd/conf.d/*.toml``,
the user's ``$XDG_CONFIG_HOME/litettsd/litettsd.toml``, each ``--config`` file,
``LITETTSD_<SECTION>__<KEY>`` environment variables, then command-line flags.

The defaults live only in the shipped file; the dataclasses below hold no defaults of their
own, so the documented file and the code cannot drift apart. All layers are merged first,
recording each key's source, and validated once: an error then names the file and line (or
variable, or flag) that set the bad value, whichever layer it came from.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from litettsd_client.paths import default_socket_path

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")
DEFAULTS_LABEL = "config/litettsd.toml"
"""How provenance names the defaults file: its documented source, wherever it is installed."""
SYSTEM_DIR_ENV = "LITETTSD_SYSTEM_CONFIG_DIR"
SYSTEM_DIR = "/etc/litettsd"
ENV_PREFIX = "LITETTSD_"
LOG_LEVELS = ("debug", "info", "warning", "error")

KeyPath = tuple[str, ...]
T = TypeVar("T")


class ConfigError(Exception):
    """A configuration source is unreadable or holds a bad value; the message says where."""


def constraint(
    low: float | None = None,
    high: float | None = None,
    choices: Iterable[str] | None = None,
    check: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Field metadata limiting a setting's value; plugin schemas use it the same way.

    ``check`` raises ``ValueError`` saying what is wrong with a value the other limits let
    through, and the error then names the value's file and line like every other.
    Example: ``rate: float = dataclasses.field(default=1.0, metadata=constraint(0.5, 2.0))``.
    """
    return {"low": low, "high": high, "choices": None if choices is None else tuple(choices), "check": check}


def _affinity_syntax(value: str) -> None:
    """``[cpu] affinity`` is a class of core or a CPU list; which CPUs exist is settled at start."""
    from .cpu import AFFINITY_CLASSES, parse_cpu_list

    if value.strip().lower() in AFFINITY_CLASSES:
        return
    try:
        if not parse_cpu_list(value):
            raise ValueError("names no CPUs")
    except ValueError as exc:
        raise ValueError(f"expected {', '.join(AFFINITY_CLASSES)} or a CPU list like 0-3,8 ({exc})") from None


@dataclass(frozen=True)
class ServerSettings:
    socket: str
    group: str
    max_text_chars: int = dataclasses.field(metadata=constraint(1, 10_000_000))
    max_frame_bytes: int = dataclasses.field(metadata=constraint(1024, 1 << 30))
    graceful_timeout: float = dataclasses.field(metadata=constraint(0.0, 600.0))
    max_requests_per_connection: int = dataclasses.field(metadata=constraint(1, 100_000))
    max_requests: int = dataclasses.field(metadata=constraint(1, 1_000_000))
    request_timeout: float = dataclasses.field(metadata=constraint(0.0, 86_400.0))
    idle_timeout: float = dataclasses.field(metadata=constraint(0.0, 86_400.0))
    send_buffer_bytes: int = dataclasses.field(metadata=constraint(4096, 1 << 30))
    send_timeout: float = dataclasses.field(metadata=constraint(0.1, 3600.0))

    def socket_path(self) -> Path:
        """The configured socket, or the shared default clients also use."""
        return Path(self.socket) if self.socket else default_socket_path()


@dataclass(frozen=True)
class SynthesisSettings:
    default_voice: str
    sentence_silence: float = dataclasses.field(metadata=constraint(0.0, 5.0))
    fallback_voice: str
    clause_silence: float = dataclasses.field(metadata=constraint(0.0, 5.0))


@dataclass(frozen=True)
class CpuSettings:
    spin: bool
    huge_pages: bool
    affinity: str = dataclasses.field(metadata=constraint(check=_affinity_syntax))
    threads: int = dataclasses.field(metadata=constraint(0, 1024))

    def threads_setting(self) -> str:
        """``threads`` as the CPU planner takes it: "auto" or a count."""
        return str(self.threads) if self.threads else "auto"


@dataclass(frozen=True)
class VoicesSettings:
    paths: list[str]
    kokoro_voice_files: list[str]
    preload: list[str]


@dataclass(frozen=True)
class LexiconSettings:
    files: list[str]


def _importable(modules: list[str]) -> None:
    """``[plugins] load`` names modules that exist, so check-config and a reload catch a typo
    the daemon would refuse to start with. The module itself is found, not run; for a dotted
    name Python must import its parent packages to find it, and their failure is reported."""
    if not modules:
        return
    import importlib.util

    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a missing parent package, or an empty name
            found = False
        except Exception as exc:  # a parent package that fails to import
            raise ValueError(f"cannot look {module!r} up: {type(exc).__name__}: {exc}") from None
        if not found:
            raise ValueError(f"no module {module!r} on the Python path")


def _absolute_folder(value: str) -> None:
    """A folder setting must not depend on the working directory (``/`` under systemd)."""
    if value and not os.path.isabs(os.path.expanduser(value)):
        raise ValueError("must be an absolute path or start with ~/")


@dataclass(frozen=True)
class CacheSettings:
    dir: str = dataclasses.field(metadata=constraint(check=_absolute_folder))
    max_bytes: int = dataclasses.field(metadata=constraint(0, 1 << 40))
    phrases: list[str]

    def path(self) -> Path:
        """The cache folder, created on first use by whoever writes there."""
        if self.dir:
            return Path(self.dir).expanduser()
        if os.environ.get("CACHE_DIRECTORY"):  # systemd's CacheDirectory=
            return Path(os.environ["CACHE_DIRECTORY"].split(":")[0])
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "litettsd"


@dataclass(frozen=True)
class LogSettings:
    level: str = dataclasses.field(metadata=constraint(choices=LOG_LEVELS))


@dataclass(frozen=True)
class PluginsSettings:
    disabled: list[str]
    load: list[str] = dataclasses.field(metadata=constraint(check=_importable))
    tables: Mapping[str, Any] = dataclasses.field(metadata={"plugin_tables": True})
    """Not a key: the ``[plugins.<name>]`` tables, each built from its plugin's schema."""

    def table(self, name: str, schema: type[T]) -> T:
        """Plugin ``name``'s validated table, or the schema's defaults when no layer sets one."""
        return typing.cast(T, self.tables[name]) if name in self.tables else schema()


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


class Flag(NamedTuple):
    """A command-line option that sets one key, e.g. ``Flag("--socket", "server.socket", path)``."""

    option: str
    key: str
    value: Any


@dataclass(frozen=True)
class ConfigInputs:
    """Everything a load reads besides the files' contents, captured once at start-up.

    A reload passes the same inputs again, so it sees the same ``--config`` files, flags and
    environment as the start did, and only edited files change the result.
    """

    config_files: tuple[Path, ...]
    flags: tuple[Flag, ...]
    environ: Mapping[str, str]

    @classmethod
    def capture(cls, config_files: Iterable[Path] = (), flags: Iterable[Flag] = ()) -> ConfigInputs:
        """Inputs with a copy of the current environment."""
        return cls(tuple(config_files), tuple(flags), dict(os.environ))

    def system_dir(self) -> Path:
        """``/etc/litettsd``, unless ``LITETTSD_SYSTEM_CONFIG_DIR`` moves it (tests, packagers)."""
        return Path(self.environ.get(SYSTEM_DIR_ENV) or SYSTEM_DIR)

    def user_file(self) -> Path:
        """``$XDG_CONFIG_HOME/litettsd/litettsd.toml``; a relative or empty XDG value means ``~/.config``."""
        base = self.environ.get("XDG_CONFIG_HOME", "")
        if not os.path.isabs(base):
            base = os.path.join(self.environ.get("HOME") or os.path.expanduser("~"), ".config")
        return Path(base) / "litettsd" / "litettsd.toml"


@dataclass(frozen=True)
class LoadedConfig:
    """The settings, the source of every key (``file:line``, ``env NAME``, ``flag --x``,
    ``default (...)``) and the files read, plus the inputs that a reload repeats."""

    settings: Settings
    sources: Mapping[str, str]
    files: tuple[str, ...]
    inputs: ConfigInputs

    def changed_keys(self, previous: LoadedConfig) -> list[str]:
        """The keys whose values differ from ``previous``'s, for the reload's log line."""
        before = {_key_path(parts): value for parts, value in _leaves(previous.settings, ())}
        after = {_key_path(parts): value for parts, value in _leaves(self.settings, ())}
        changed = [key for key, value in after.items() if key not in before or before[key] != value]
        return changed + sorted(before.keys() - after.keys())  # a plugin table that went away

    def render(self) -> str:
        """One ``section.key = value  # source`` line per key: valid TOML that says where each value came from."""
        header = [f"# loaded {name}" for name in self.files]
        lines = []
        for parts, value in _leaves(self.settings, ()):
            path = _key_path(parts)
            lines.append(f"{path} = {_toml_value(value)}  # {self.sources[path]}")
        return "\n".join(header + lines) + "\n"


def load_settings(inputs: ConfigInputs | None = None) -> LoadedConfig:
    """Merge every layer and validate the result; ``load_settings(loaded.inputs)`` is a reload.

    ``None`` captures the current environment with no ``--config`` files and no flags.
    Raises ``ConfigError`` naming the file and line, variable or flag at fault.
    """
    if inputs is None:
        inputs = ConfigInputs.capture()
    merged: dict[str, Any] = {}
    where: dict[KeyPath, str] = {}
    defaults = typing.cast(_Layer, _read_file(DEFAULTS_FILE, required=True))
    in_defaults = _file_origin(DEFAULTS_LABEL, defaults.lines)
    _apply(merged, defaults.data, where, lambda parts: f"default ({in_defaults(parts)})")
    files = [str(DEFAULTS_FILE)]
    for path, required in _layer_files(inputs):
        layer = _read_file(path, required)
        if layer is not None:
            _apply(merged, layer.data, where, _file_origin(str(path), layer.lines))
            files.append(str(path))
    flags = [(f"flag {flag.option}", tuple(flag.key.split(".")), flag.value) for flag in inputs.flags]
    for label, parts, value in [*_environment(inputs.environ), *flags]:
        _apply(merged, _nest(parts, value), where, _always(label))

    def locate(parts: KeyPath) -> str:
        found = _nearest(where, parts)
        return where[found] if found else "configuration"

    settings = typing.cast(Settings, _build(Settings, merged, (), locate))
    plugins = dataclasses.replace(settings.plugins, tables=_plugin_tables(settings.plugins, locate))
    settings = dataclasses.replace(settings, plugins=plugins)
    sources = {
        _key_path(parts): where.get(parts) or f"default (plugin {parts[1]})" for parts, _ in _leaves(settings, ())
    }
    return LoadedConfig(settings, sources, tuple(files), inputs)


def watch_paths(inputs: ConfigInputs) -> list[Path]:
    """What a reload watcher should watch: the existing layer files and the folders that may gain one.

    A folder that does not exist yet cannot be watched; its first missing part is watched
    for instead, in the nearest folder that exists (``~/.config`` for a missing
    ``~/.config/litettsd``), so creating it counts as a change. Call this again after each
    reload, since the set changes when files or folders appear.
    """
    system = inputs.system_dir()
    # A --config file must exist, but one deleted while running (the reload then fails) is
    # still watched by name, so writing it again reloads without a SIGHUP.
    files = [path for path, required in _layer_files(inputs) if path.is_file() or (required and path.parent.is_dir())]
    watched = []
    for folder in (system, system / "conf.d", inputs.user_file().parent):
        if folder.is_dir():
            watched.append(folder)
            continue
        missing = folder
        while not missing.parent.is_dir() and missing.parent != missing:
            missing = missing.parent
        if missing.parent != missing:
            watched.append(missing)  # not a folder yet: watched by its name in its parent
    return files + list(dict.fromkeys(watched))


# --- reading layers -------------------------------------------------------------------------


class _Layer(NamedTuple):
    data: dict[str, Any]
    lines: dict[KeyPath, int]


def is_layer_name(name: str) -> bool:
    """Whether a file in ``conf.d`` is a layer; hidden names are editors' lock and backup files."""
    return name.endswith(".toml") and not name.startswith(".")


def _layer_files(inputs: ConfigInputs) -> list[tuple[Path, bool]]:
    """The layer files in precedence order, each with whether it must exist (only ``--config`` files)."""
    system = inputs.system_dir()
    conf_d = system / "conf.d"
    try:
        # Hidden names are skipped: editors keep lock and backup files there (Emacs ``.#x.toml``).
        dropins = sorted(p for p in conf_d.iterdir() if is_layer_name(p.name))
    except (FileNotFoundError, NotADirectoryError):
        dropins = []
    except OSError as exc:
        raise ConfigError(f"{conf_d}: cannot list: {exc.strerror}") from None
    optional = [system / "litettsd.toml", *dropins, inputs.user_file()]
    return [(path, False) for path in optional] + [(path, True) for path in inputs.config_files]


def _read_file(path: Path, required: bool) -> _Layer | None:
    """Parse one TOML file and find each key's line; a missing optional file gives None."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such file") from None
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
        return _Layer(tomllib.loads(text), _key_lines(text))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED_KEY = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER = re.compile(rf"\s*\[\[?\s*({_DOTTED_KEY})\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(rf"\s*({_DOTTED_KEY})\s*=")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _split_key(dotted: str) -> KeyPath:
    return tuple(part[1:-1] if part[0] in "\"'" else part for part in re.findall(_KEY_PART, dotted))


def _key_lines(text: str) -> dict[KeyPath, int]:
    """The line of every table header and ``key =`` line, by key path.

    tomllib reports no positions, and provenance only needs where each key is written, so
    a line scanner that follows ``[table]`` headers and skips multi-line strings suffices.
    """
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    open_string: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if open_string:
            if line.count(open_string) % 2:
                open_string = None
            continue
        if header := _HEADER.match(line):
            table = _split_key(header[1])
            lines.setdefault(table, number)
        elif assignment := _ASSIGNMENT.match(line):
            lines.setdefault((*table, *_split_key(assignment[1])), number)
            open_string = next((quote for quote in ('"""', "'''") if line.count(quote) % 2), None)
    return lines


def _file_origin(name: str, lines: Mapping[KeyPath, int]) -> Callable[[KeyPath], str]:
    """``name:line`` for a key path (its enclosing table's line if it has none of its own)."""

    def origin(parts: KeyPath) -> str:
        found = _nearest(lines, parts)
        return f"{name}:{lines[found]}" if found else name

    return origin


def _always(label: str) -> Callable[[KeyPath], str]:
    """The origin of every key an environment variable or flag sets: that variable or flag."""
    return lambda _: label


def _environment(environ: Mapping[str, str]) -> list[tuple[str, KeyPath, Any]]:
    """``LITETTSD_<SECTION>__<KEY>`` variables as (``env NAME``, key path, value), in name order.

    Only names with a double underscore are settings: ``LITETTSD_SOCKET`` belongs to the
    clients and ``LITETTSD_SYSTEM_CONFIG_DIR`` picks the system folder. A name that starts
    with a section and one underscore is a typo and an error rather than silently ignored.
    """
    found = []
    sections = [f.name for f in fields(Settings)]
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):]
        if "__" not in rest:
            section = next((s for s in sections if rest.lower() == s or rest.lower().startswith(f"{s}_")), None)
            if section:
                key = rest[len(section) + 1:] or "<KEY>"
                raise ConfigError(
                    f"env {name}: separate the section from the key with a double underscore: "
                    f"{ENV_PREFIX}{section.upper()}__{key}"
                )
            continue
        parts = tuple(rest.lower().split("__"))
        if not all(parts):
            raise ConfigError(f"env {name}: not a setting name; use {ENV_PREFIX}<SECTION>__<KEY>")
        found.append((f"env {name}", parts, _env_value(environ[name])))
    return found


def _env_value(text: str) -> Any:
    """A TOML value when the text is one (``500``, ``true``, ``["kokoro"]``), else the text itself."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


# --- merging --------------------------------------------------------------------------------


def _nest(parts: KeyPath, value: Any) -> dict[str, Any]:
    for part in reversed(parts[1:]):
        value = {part: value}
    return {parts[0]: value}


def _nearest(table: Mapping[KeyPath, Any], parts: KeyPath) -> KeyPath | None:
    """``parts`` or its closest ancestor present in ``table``: a key inside an inline table has no line of its own."""
    for end in range(len(parts), 0, -1):
        if parts[:end] in table:
            return parts[:end]
    return None


def _apply(
    merged: dict[str, Any], layer: Mapping[str, Any], where: dict[KeyPath, str], origin: Callable[[KeyPath], str],
    prefix: KeyPath = (),
) -> None:
    """Merge ``layer`` into ``merged`` key by key, recording each set key's source in ``where``.

    A table keeps the source of the layer that introduced it; a value replacing a table (or
    the reverse) drops the sources below it, so every recorded source is still true.
    """
    for key, value in layer.items():
        parts = (*prefix, key)
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            _apply(merged[key], value, where, origin, parts)
            continue
        for stale in [p for p in where if p[: len(parts)] == parts]:
            del where[stale]
        where[parts] = origin(parts)
        if isinstance(value, Mapping):
            merged[key] = {}
            _apply(merged[key], value, where, origin, parts)
        else:
            merged[key] = value


# --- validation -----------------------------------------------------------------------------


def _key_path(parts: KeyPath) -> str:
    """``plugins."my.module".rate``: dotted, quoting parts that are not bare TOML keys."""
    return ".".join(part if _BARE_KEY.fullmatch(part) else json.dumps(part) for part in parts)


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    import difflib  # only a bad configuration needs it

    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def _check_value(where: str, key: str, kind: Any, value: Any, meta: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(kind)
    if origin is list:
        (item,) = typing.get_args(kind)
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            raise ConfigError(f"{where}: {key} must be a list of {_type_name(item)}, got {value!r}")
        return _checked(where, key, list(value), meta)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} must be {_type_name(kind)}, got {type(value).__name__} {value!r}")
    if kind is float and not math.isfinite(value):  # TOML has nan and inf; no setting means them
        raise ConfigError(f"{where}: {key} = {value!r} is not a finite number")
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{where}: {key} = {value!r} is out of range [{low}, {high}]")
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: {key} = {value!r} is not one of {', '.join(choices)}")
    return _checked(where, key, value, meta)


def _checked(where: str, key: str, value: Any, meta: Mapping[str, Any]) -> Any:
    """``value`` once the field's own ``check`` (see :func:`constraint`) has accepted it."""
    check = meta.get("check")
    if check is not None:
        try:
            check(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {key} = {value!r}: {exc}") from None
    return value


def _build(cls: type, data: Mapping[str, Any], prefix: KeyPath, locate: Callable[[KeyPath], str]) -> Any:
    """Build dataclass ``cls`` from a table, checking keys, types, ranges and choices.

    A field with a default (plugin schemas) may be left out; the core settings have none,
    so every key must come from some layer, in practice the shipped defaults. The
    ``plugin_tables`` field collects the sub-tables its class does not know, unchecked:
    their plugins check them (see ``_plugin_tables``).
    """
    hints = typing.get_type_hints(cls)
    tables_field = next((f.name for f in fields(cls) if f.metadata.get("plugin_tables")), None)
    known = {f.name: f for f in fields(cls) if f.name != tables_field}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in known or (tables_field and isinstance(value, Mapping)):
            continue
        parts = (*prefix, key)
        raise ConfigError(f"{locate(parts)}: unknown key '{_key_path(parts)}'{_did_you_mean(key, known)}")
    for name, spec in known.items():
        parts = (*prefix, name)
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{locate(prefix)}: missing key '{_key_path(parts)}'")
            continue
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            if not isinstance(data[name], Mapping):
                raise ConfigError(f"{locate(parts)}: '{_key_path(parts)}' must be a table")
            values[name] = _build(typing.cast(type, kind), data[name], parts, locate)
        else:
            values[name] = _check_value(locate(parts), _key_path(parts), kind, data[name], spec.metadata)
    if tables_field:
        values[tables_field] = {key: value for key, value in data.items() if key not in known}
    return cls(**values)


def _plugin_tables(plugins: PluginsSettings, locate: Callable[[KeyPath], str]) -> dict[str, Any]:
    """Check each ``[plugins.<name>]`` table against the schema its plugin returns.

    Only plugins that have a table are imported, so a configuration without plugin tables
    (the usual case) costs no imports at all. Tables of disabled plugins are left out.
    """
    if not plugins.tables:
        return {}
    import importlib

    from .entry_points import EntryPoint, entry_points
    from .plugins import ENTRY_POINT_GROUP

    installed: dict[str, EntryPoint] = {}
    for entry in entry_points(ENTRY_POINT_GROUP):
        installed.setdefault(entry.name, entry)  # the first copy is the one registered
    built = {}
    for name, table in plugins.tables.items():
        where = locate(("plugins", name))
        if name not in installed and name not in plugins.load:
            known = [*installed, *plugins.load]
            raise ConfigError(f"{where}: no plugin named '{name}' for [plugins.{name}]{_did_you_mean(name, known)}")
        if name in plugins.disabled:
            continue
        try:
            plugin = installed[name].load() if name in installed else importlib.import_module(name)
        except Exception as exc:
            raise ConfigError(f"{where}: cannot import plugin '{name}' to check its table: {exc}") from None
        built[name] = _build(_plugin_schema(name, plugin, where), table, ("plugins", name), locate)
    return built


def _plugin_schema(name: str, plugin: object, where: str) -> type:
    """Ask one plugin, registered alone, for its table's dataclass."""
    from .plugins import new_plugin_manager

    manager = new_plugin_manager()
    try:
        manager.register(plugin, name=name)
        schemas = [schema for schema in manager.hook.litettsd_config_schema() if schema is not None]
    except Exception as exc:  # a broken plugin must give a config error, not a traceback
        raise ConfigError(f"{where}: plugin '{name}' cannot describe its settings: {exc}") from None
    if not schemas:
        raise ConfigError(f"{where}: plugin '{name}' takes no settings; remove [plugins.{name}]")
    if not (isinstance(schemas[0], type) and dataclasses.is_dataclass(schemas[0])):
        raise ConfigError(f"{where}: plugin '{name}' returned a config schema that is not a dataclass")
    return schemas[0]


# --- output ---------------------------------------------------------------------------------


def _leaves(obj: Any, prefix: KeyPath) -> Iterator[tuple[KeyPath, Any]]:
    """Every key of built settings with its value; plugin tables sit directly under ``plugins``."""
    for spec in fields(obj):
        value = getattr(obj, spec.name)
        if spec.metadata.get("plugin_tables"):
            for name, table in value.items():
                yield from _leaves(table, (*prefix, name))
        elif dataclasses.is_dataclass(value):
            yield from _leaves(value, (*prefix, spec.name))
        else:
            yield (*prefix, spec.name), value


def _toml_value(value: Any) -> str:
    """TOML for a setting's value; JSON spells strings, numbers, booleans and lists the same way."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # nan, inf, -inf: TOML's spelling, not JSON's
    return json.dumps(value, ensure_ascii=False)
