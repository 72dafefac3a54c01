"""Configuration layers, provenance, validation and ``litettsd check-config``, without a daemon.

Every test points the system folder (``LITETTSD_SYSTEM_CONFIG_DIR``), ``XDG_CONFIG_HOME`` and
``HOME`` into its own temporary folder, so nothing on the machine running the tests is read.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from litettsd.config import (
    DEFAULTS_FILE,
    ConfigError,
    ConfigInputs,
    Flag,
    LoadedConfig,
    load_settings,
    watch_paths,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "config" / "litettsd.toml"
LITETTSD = Path(sys.executable).parent / "litettsd"
SHIPPED_TEXT = SHIPPED.read_text()
DEFAULTS: dict[str, dict[str, Any]] = tomllib.loads(SHIPPED_TEXT)
SHIPPED_KEYS = [f"{section}.{key}" for section, table in DEFAULTS.items() for key in table]

PLUGIN = "cfgtest_plugins.echo"
PLUGIN_SOURCE = '''
from dataclasses import dataclass, field

from litettsd.config import constraint
from litettsd.hookspecs import hookimpl


@dataclass(frozen=True)
class Limits:
    burst: int = 3


@dataclass(frozen=True)
class EchoSettings:
    rate: float = field(default=1.0, metadata=constraint(0.5, 2.0))
    mode: str = field(default="plain", metadata=constraint(choices=("plain", "loud")))
    words: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)


@hookimpl
def litettsd_config_schema():
    return EchoSettings
'''


# --- helpers --------------------------------------------------------------------------------


def shipped_line(key: str) -> int:
    """The line of ``section.key`` in the shipped file, found independently of the code under test."""
    section, name = key.split(".")
    in_section = False
    for number, line in enumerate(SHIPPED_TEXT.splitlines(), 1):
        if line.startswith("["):
            in_section = line.strip() == f"[{section}]"
        elif in_section and line.startswith(f"{name} ="):
            return number
    raise AssertionError(f"{key} not in {SHIPPED}")


def isolated_env(root: Path, **extra: str) -> dict[str, str]:
    """The caller's environment minus its LITETTSD_ settings, with every layer folder under ``root``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LITETTSD_")}
    env.update(
        LITETTSD_SYSTEM_CONFIG_DIR=str(root / "etc"),
        XDG_CONFIG_HOME=str(root / "xdg"),
        HOME=str(root / "home"),
        PYTHONPATH=os.pathsep.join([str(REPO), str(root / "pylib")]),
    )
    env.update(extra)
    return env


def toml_text(values: dict[str, Any]) -> tuple[str, dict[str, int]]:
    """TOML setting dotted keys to values, and the line each key lands on."""
    lines: list[str] = []
    where: dict[str, int] = {}
    section = None
    for key in sorted(values):
        table, name = key.rsplit(".", 1)
        if table != section:
            lines.append(f"[{table}]")
            section = table
        lines.append(f"{name} = {json.dumps(values[key])}")
        where[key] = len(lines)
    return "\n".join(lines) + "\n", where


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def value_at(settings: Any, key: str) -> Any:
    for part in key.split("."):
        settings = getattr(settings, part)
    return settings


def load(root: Path, text: str | None = None, flags: tuple[Flag, ...] = (), **env: str) -> LoadedConfig:
    """Load with ``text`` as the only --config file (``root/test.toml``)."""
    files = (write(root / "test.toml", text),) if text is not None else ()
    return load_settings(ConfigInputs(files, flags, isolated_env(root, **env)))


def error_of(root: Path, text: str | None = None, flags: tuple[Flag, ...] = (), **env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(root, text, flags, **env)
    return str(caught.value)


def check_config(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LITETTSD), "check-config", *args], env=isolated_env(root, **env), capture_output=True, text=True, timeout=60
    )


def parse_check_config(stdout: str) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """check-config's output as (nested values, source per key, files loaded); it must be valid TOML."""
    sources = {}
    for line in stdout.splitlines():
        if not line.startswith("#"):
            sources[line.partition(" = ")[0]] = line.rsplit("  # ", 1)[1]
    files = [line.removeprefix("# loaded ") for line in stdout.splitlines() if line.startswith("# loaded ")]
    return tomllib.loads(stdout), sources, files


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin package with a schema, importable as ``cfgtest_plugins.echo`` (for [plugins] load)."""
    root = tmp_path_factory.mktemp("plugin")
    write(root / "pylib" / "cfgtest_plugins" / "__init__.py", "")
    write(root / "pylib" / "cfgtest_plugins" / "echo.py", PLUGIN_SOURCE)
    return root


@pytest.fixture
def with_plugin(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(plugin_dir / "pylib"))
    return plugin_dir


# --- precedence across every layer -------------------------------------------------------------

# Layer i sets the keys KEYS[i:], so KEYS[i] is won by layer i and every layer beats the one
# before it on some key. The flag layer can only set what flags set, hence server.socket last.
LAYERS = ["system", "conf.d/10", "conf.d/20", "user", "config a", "config b", "env", "flag"]
KEYS = [
    "voices.paths",
    "voices.kokoro_voice_files",
    "voices.preload",
    "lexicon.files",
    "cache.phrases",
    "cache.dir",
    "synthesis.default_voice",
    "server.socket",
]


def layer_value(key: str, layer: int) -> Any:
    section, name = key.split(".")
    return [f"/L{layer}"] if isinstance(DEFAULTS[section][name], list) else f"/L{layer}"


class Staircase:
    """Every layer present, each winning one key; ``expected`` maps key to (value, source)."""

    def __init__(self, root: Path) -> None:
        etc, xdg = root / "etc", root / "xdg"
        file_layers = {
            "system": etc / "litettsd.toml",
            # written out of order: conf.d is read in lexical order, not creation order
            "conf.d/20": etc / "conf.d" / "20-late.toml",
            "conf.d/10": etc / "conf.d" / "10-early.toml",
            "user": xdg / "litettsd" / "litettsd.toml",
            "config a": root / "a.toml",
            "config b": root / "b.toml",
        }
        write(etc / "conf.d" / ".#10-early.toml", "not = [valid")  # an editor's lock file: skipped
        self.env: dict[str, str] = {}
        self.expected: dict[str, tuple[Any, str]] = {"cpu.spin": (True, f"default (config/litettsd.toml:{shipped_line('cpu.spin')})")}
        for index, layer in enumerate(LAYERS):
            values = {key: layer_value(key, index) for key in KEYS[index:]}
            if layer in file_layers:
                text, lines = toml_text(values)
                write(file_layers[layer], text)
                source = {key: f"{file_layers[layer]}:{lines[key]}" for key in values}
            elif layer == "env":
                source = {}
                for key, value in values.items():
                    name = "LITETTSD_" + key.upper().replace(".", "__")
                    # lists as TOML values; strings bare, exercising the plain-string fallback
                    self.env[name] = json.dumps(value) if isinstance(value, list) else value
                    source[key] = f"env {name}"
            else:
                source = {"server.socket": "flag --socket"}
            self.expected[KEYS[index]] = (layer_value(KEYS[index], index), source[KEYS[index]])
        self.config_files = [file_layers["config a"], file_layers["config b"]]
        self.flags = (Flag("--socket", "server.socket", layer_value("server.socket", LAYERS.index("flag"))),)
        self.files = [str(DEFAULTS_FILE)] + [
            str(file_layers[name]) for name in ("system", "conf.d/10", "conf.d/20", "user", "config a", "config b")
        ]


def test_every_layer_beats_the_one_before_through_the_api(tmp_path: Path) -> None:
    stairs = Staircase(tmp_path)
    loaded = load_settings(ConfigInputs(tuple(stairs.config_files), stairs.flags, isolated_env(tmp_path, **stairs.env)))
    for key, (value, source) in stairs.expected.items():
        assert (key, value_at(loaded.settings, key)) == (key, value)
        assert (key, loaded.sources[key]) == (key, source)
    assert list(loaded.files) == stairs.files


def test_every_layer_beats_the_one_before_through_check_config(tmp_path: Path) -> None:
    stairs = Staircase(tmp_path)
    # --config before and after the subcommand both count, in order
    done = check_config(
        tmp_path, "--config", str(stairs.config_files[0]), "--socket", "/L7", "--config", str(stairs.config_files[1]), **stairs.env
    )
    # The staircase's values are markers ("/L6" as a voice): the keys are valid, start-up
    # would refuse that voice, and check-config says so after printing the configuration.
    assert done.returncode == 2 and "synthesis.default_voice" in done.stderr, done.stderr
    assert all("unknown voice" in line for line in done.stderr.splitlines()), done.stderr
    values, sources, files = parse_check_config(done.stdout)
    for key, (value, source) in stairs.expected.items():
        section, name = key.split(".")
        assert (key, values[section][name], sources[key]) == (key, value, source)
    assert files == stairs.files
    assert set(sources) >= set(SHIPPED_KEYS)


def test_check_config_output_is_a_config_file_giving_the_same_settings(tmp_path: Path) -> None:
    stairs = Staircase(tmp_path)
    done = check_config(tmp_path, "--config", str(stairs.config_files[0]), **stairs.env)
    again = check_config(tmp_path / "fresh", "--config", str(write(tmp_path / "out.toml", done.stdout)))
    assert tomllib.loads(again.stdout) == tomllib.loads(done.stdout)


def test_user_file_falls_back_to_home_config(tmp_path: Path) -> None:
    user = write(tmp_path / "home" / ".config" / "litettsd" / "litettsd.toml", '[cache]\ndir = "/home-cache"\n')
    for xdg in ("", "relative/path"):  # unset or relative XDG_CONFIG_HOME: ~/.config, as the spec says
        loaded = load(tmp_path, XDG_CONFIG_HOME=xdg)
        assert loaded.settings.cache.dir == "/home-cache"
        assert loaded.sources["cache.dir"] == f"{user}:2"


def test_missing_layer_files_are_skipped(tmp_path: Path) -> None:
    loaded = load(tmp_path)
    assert loaded.files == (str(DEFAULTS_FILE),)
    assert loaded.sources["log.level"] == f"default (config/litettsd.toml:{shipped_line('log.level')})"


@pytest.mark.parametrize("key", SHIPPED_KEYS)
def test_default_provenance_names_the_shipped_line(tmp_path: Path, key: str) -> None:
    assert load(tmp_path).sources[key] == f"default (config/litettsd.toml:{shipped_line(key)})"


def test_flags_and_env_record_their_source(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        flags=(Flag("--voice", "synthesis.default_voice", "piper:x"), Flag("--log-level", "log.level", "debug")),
        LITETTSD_SERVER__MAX_TEXT_CHARS="500",
        LITETTSD_PLUGINS__DISABLED='["kokoro"]',
        LITETTSD_CPU__SPIN="false",
        LITETTSD_SOCKET="/clients/only",  # the clients' variable: not a setting
    )
    settings = loaded.settings
    assert (settings.server.max_text_chars, settings.plugins.disabled, settings.cpu.spin) == (500, ["kokoro"], False)
    assert (settings.synthesis.default_voice, settings.log.level) == ("piper:x", "debug")
    assert loaded.sources["server.max_text_chars"] == "env LITETTSD_SERVER__MAX_TEXT_CHARS"
    assert loaded.sources["plugins.disabled"] == "env LITETTSD_PLUGINS__DISABLED"
    assert loaded.sources["synthesis.default_voice"] == "flag --voice"
    assert loaded.sources["log.level"] == "flag --log-level"
    assert settings.server.socket == ""


def test_file_provenance_follows_tables_dotted_keys_and_inline_tables(tmp_path: Path) -> None:
    text = (
        "# a comment\n"
        "log.level = 'debug'\n"
        'synthesis = { default_voice = "piper:x" }\n'
        "\n"
        "[server]  # trailing comment\n"
        'socket = """\n'
        "max_text_chars = 3\n"  # inside a multi-line string: not a key
        '"""\n'
        "max_text_chars = 7\n"
    )
    loaded = load(tmp_path, text)
    file = tmp_path / "test.toml"
    assert loaded.settings.server.socket == "max_text_chars = 3\n"
    assert loaded.sources["log.level"] == f"{file}:2"
    assert loaded.sources["synthesis.default_voice"] == f"{file}:3"
    assert loaded.sources["server.socket"] == f"{file}:6"
    assert loaded.sources["server.max_text_chars"] == f"{file}:9"


# --- validation errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nmax_text_char = 5\n", "{file}:2: unknown key 'server.max_text_char' (did you mean 'max_text_chars'?)"),
        ("[sever]\nsocket = ''\n", "{file}:1: unknown key 'sever' (did you mean 'server'?)"),
        ("[plugins]\ndisable = []\n", "{file}:2: unknown key 'plugins.disable' (did you mean 'disabled'?)"),
        ("[server]\nmax_text_chars = 'big'\n", "{file}:2: server.max_text_chars must be int, got str 'big'"),
        ("[server]\n\nmax_requests = true\n", "{file}:3: server.max_requests must be int, got bool True"),
        ("[cpu]\nspin = 1\n", "{file}:2: cpu.spin must be bool, got int 1"),
        ("[voices]\npaths = '/one'\n", "{file}:2: voices.paths must be a list of str, got '/one'"),
        ("[server]\nmax_frame_bytes = 10\n", "{file}:2: server.max_frame_bytes = 10 is out of range [1024, 1073741824]"),
        ("[synthesis]\nsentence_silence = 9\n", "{file}:2: synthesis.sentence_silence = 9.0 is out of range [0.0, 5.0]"),
        ("[log]\nlevel = 'loud'\n", "{file}:2: log.level = 'loud' is not one of debug, info, warning, error"),
        ("cpu = 5\n", "{file}:1: 'cpu' must be a table"),
        ("[plugins.kokor]\nx = 1\n", "{file}:1: no plugin named 'kokor' for [plugins.kokor] (did you mean 'kokoro'?)"),
        ("[plugins.piper]\nx = 1\n", "{file}:1: plugin 'piper' takes no settings; remove [plugins.piper]"),
        ("[server]\nsend_timeout = nan\n", "{file}:2: server.send_timeout = nan is not a finite number"),
        ("[server]\ngraceful_timeout = inf\n", "{file}:2: server.graceful_timeout = inf is not a finite number"),
        (
            "[cpu]\naffinity = 'a'\n",
            "{file}:2: cpu.affinity = 'a': expected all, performance, efficiency or a CPU list like 0-3,8 "
            "(bad CPU list 'a': 'a' is not a number or a range like 0-3)",
        ),
        (
            "[cpu]\naffinity = ''\n",
            "{file}:2: cpu.affinity = '': expected all, performance, efficiency or a CPU list like 0-3,8 (names no CPUs)",
        ),
        (
            "[cpu]\naffinity = '0-30000000'\n",
            "{file}:2: cpu.affinity = '0-30000000': expected all, performance, efficiency or a CPU list like 0-3,8 "
            "(bad CPU list '0-30000000': 30000000 is beyond the highest CPU number Linux has, 8191)",
        ),
        (
            "[plugins]\nload = ['no_such_mod']\n",
            "{file}:2: plugins.load = ['no_such_mod']: no module 'no_such_mod' on the Python path",
        ),
        ("[cache]\ndir = 'relative/cache'\n", "{file}:2: cache.dir = 'relative/cache': must be an absolute path or start with ~/"),
    ],
)
def test_bad_values_name_file_line_key_and_what_is_allowed(tmp_path: Path, text: str, message: str) -> None:
    assert error_of(tmp_path, text) == message.format(file=tmp_path / "test.toml")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    write(tmp_path / "etc" / "conf.d" / "50-broken.toml", "[server\n")
    message = error_of(tmp_path)
    assert message.startswith(f"{tmp_path / 'etc' / 'conf.d' / '50-broken.toml'}: invalid TOML: ")
    assert "line 1" in message


def test_non_utf8_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "test.toml").write_bytes(b"[log]\nlevel = '\xff'\n")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'test.toml'}: not UTF-8 text")):
        load_settings(ConfigInputs((tmp_path / "test.toml",), (), isolated_env(tmp_path)))


def test_unreadable_layer_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "etc" / "litettsd.toml").mkdir(parents=True)  # a folder where the file should be
    assert error_of(tmp_path).startswith(f"{tmp_path / 'etc' / 'litettsd.toml'}: cannot read: ")


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'nope.toml'}: no such file")):
        load_settings(ConfigInputs((tmp_path / "nope.toml",), (), isolated_env(tmp_path)))


def test_an_error_names_the_layer_that_set_the_bad_value(tmp_path: Path) -> None:
    write(tmp_path / "etc" / "litettsd.toml", "[server]\n\nmax_requests = 0\n")
    message = error_of(tmp_path, "[server]\nmax_text_chars = 9\n")  # a later layer, fine itself
    assert message == f"{tmp_path / 'etc' / 'litettsd.toml'}:3: server.max_requests = 0 is out of range [1, 1000000]"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"LITETTSD_SERVER__MAX_TEXT_CHAR": "5"},
            "env LITETTSD_SERVER__MAX_TEXT_CHAR: unknown key 'server.max_text_char' (did you mean 'max_text_chars'?)",
        ),
        (
            {"LITETTSD_SERVER__MAX_TEXT_CHARS": "lots"},
            "env LITETTSD_SERVER__MAX_TEXT_CHARS: server.max_text_chars must be int, got str 'lots'",
        ),
        (
            {"LITETTSD_LOG__LEVEL": "true"},
            "env LITETTSD_LOG__LEVEL: log.level must be str, got bool True",
        ),
        (
            {"LITETTSD_LOG_LEVEL": "debug"},
            "env LITETTSD_LOG_LEVEL: separate the section from the key with a double underscore: LITETTSD_LOG__LEVEL",
        ),
        ({"LITETTSD_SERVER____SOCKET": "/x"}, "env LITETTSD_SERVER____SOCKET: not a setting name; use LITETTSD_<SECTION>__<KEY>"),
        ({"LITETTSD_SEVER__SOCKET": "/x"}, "env LITETTSD_SEVER__SOCKET: unknown key 'sever' (did you mean 'server'?)"),
    ],
)
def test_bad_environment_variables_are_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    assert error_of(tmp_path, **env) == message


def test_bad_flag_value_is_named(tmp_path: Path) -> None:
    message = error_of(tmp_path, flags=(Flag("--log-level", "log.level", "loud"),))
    assert message == "flag --log-level: log.level = 'loud' is not one of debug, info, warning, error"


def test_check_config_reports_an_error_on_stderr_with_exit_2(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.toml", "[server]\nmax_text_char = 5\n")
    done = check_config(tmp_path, "--config", str(bad))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"litettsd: {bad}:2: unknown key 'server.max_text_char' (did you mean 'max_text_chars'?)\n"
    env_done = check_config(tmp_path, LITETTSD_SERVER__MAX_TEXT_CHARS="0")
    assert env_done.returncode == 2
    assert "env LITETTSD_SERVER__MAX_TEXT_CHARS: server.max_text_chars = 0 is out of range" in env_done.stderr


def test_check_config_refuses_what_start_up_would_refuse(tmp_path: Path) -> None:
    """Valid keys the daemon would still refuse: each reported with where it was set, exit 2."""
    lexicon = write(tmp_path / "broken-lexicon.toml", "[words\n")
    bad = write(
        tmp_path / "bad.toml",
        '[synthesis]\ndefault_voice = "nope:voice"\n[server]\ngroup = "no-such-group-here"\n'
        f'[cpu]\naffinity = "4000"\n[lexicon]\nfiles = ["{lexicon}"]\n'
        '[voices]\npreload = ["piper:en_US-joe-medium", "kokoro:nobody"]\n[plugins]\ndisabled = ["kokor"]\n',
    )
    done = check_config(tmp_path, "--config", str(bad))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    for key, line in [("server.group", 4), ("cpu.affinity", 6), ("lexicon.files", 8), ("synthesis.default_voice", 2)]:
        assert any(entry.startswith(f"litettsd: {key} ({bad}:{line}): ") for entry in lines), (key, lines)
    assert any("voices.preload" in entry and "kokoro:nobody" in entry for entry in lines)
    assert not any("en_US-joe-medium" in entry for entry in lines)
    assert "kokor (did you mean kokoro?)" in done.stderr
    good = check_config(tmp_path, "--config", str(write(tmp_path / "good.toml", "")))
    assert good.returncode == 0 and good.stderr == "", good.stderr


def test_version_and_help_still_work(tmp_path: Path) -> None:
    version = subprocess.run([str(LITETTSD), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("litettsd ")
    help_text = subprocess.run([str(LITETTSD), "--help"], capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0 and "check-config" in help_text.stdout


# --- plugin tables -----------------------------------------------------------------------------

PLUGIN_TABLE = f'[plugins]\nload = ["{PLUGIN}"]\n\n[plugins."{PLUGIN}"]\nrate = 1.5\nwords = ["a"]\n'


def test_plugin_table_is_built_from_the_plugin_schema(tmp_path: Path, with_plugin: Path) -> None:
    loaded = load(tmp_path, PLUGIN_TABLE + "limits.burst = 9\n")
    schema = type(loaded.settings.plugins.tables[PLUGIN])
    options = loaded.settings.plugins.table(PLUGIN, schema)
    assert (options.rate, options.mode, options.words, options.limits.burst) == (1.5, "plain", ["a"], 9)
    file = tmp_path / "test.toml"
    key = f'plugins."{PLUGIN}"'
    assert loaded.sources[f"{key}.rate"] == f"{file}:5"
    assert loaded.sources[f"{key}.limits.burst"] == f"{file}:7"
    assert loaded.sources[f"{key}.mode"] == f"default (plugin {PLUGIN})"


def test_plugin_without_a_table_gets_its_defaults(tmp_path: Path, with_plugin: Path) -> None:
    schema = type(load(tmp_path, PLUGIN_TABLE).settings.plugins.tables[PLUGIN])
    assert load(tmp_path).settings.plugins.table(PLUGIN, schema) == schema()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("rat = 1.0\n", f"{{file}}:7: unknown key 'plugins.\"{PLUGIN}\".rat' (did you mean 'rate'?)"),
        ("mode = 'quiet'\n", f"{{file}}:7: plugins.\"{PLUGIN}\".mode = 'quiet' is not one of plain, loud"),
        ("limits.burst = 'x'\n", f"{{file}}:7: plugins.\"{PLUGIN}\".limits.burst must be int, got str 'x'"),
    ],
)
def test_plugin_table_errors_name_file_line_and_key(tmp_path: Path, with_plugin: Path, extra: str, message: str) -> None:
    assert error_of(tmp_path, PLUGIN_TABLE + extra) == message.format(file=tmp_path / "test.toml")


def test_plugin_table_set_from_the_environment(tmp_path: Path, with_plugin: Path) -> None:
    name = f"LITETTSD_PLUGINS__{PLUGIN.upper()}__RATE"
    message = error_of(tmp_path, PLUGIN_TABLE, **{name: "7"})
    assert message == f'env {name}: plugins."{PLUGIN}".rate = 7.0 is out of range [0.5, 2.0]'


def test_disabled_plugin_table_is_not_checked(tmp_path: Path, with_plugin: Path) -> None:
    loaded = load(tmp_path, PLUGIN_TABLE.replace("[plugins]\n", f'[plugins]\ndisabled = ["{PLUGIN}"]\n') + "bogus = 1\n")
    assert loaded.settings.plugins.tables == {}


def test_check_config_prints_plugin_tables(tmp_path: Path, plugin_dir: Path) -> None:
    config = write(tmp_path / "plugin.toml", PLUGIN_TABLE)
    done = check_config(tmp_path, "--config", str(config), PYTHONPATH=str(plugin_dir / "pylib"))
    assert done.returncode == 0, done.stderr
    values, sources, _ = parse_check_config(done.stdout)
    assert values["plugins"][PLUGIN] == {"rate": 1.5, "mode": "plain", "words": ["a"], "limits": {"burst": 3}}
    assert sources[f'plugins."{PLUGIN}".rate'] == f"{config}:5"


# --- reload support ----------------------------------------------------------------------------


def test_reload_repeats_the_captured_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = write(tmp_path / "xdg" / "litettsd" / "litettsd.toml", "[log]\nlevel = 'debug'\n")
    for name, value in isolated_env(tmp_path, LITETTSD_SERVER__MAX_TEXT_CHARS="500").items():
        monkeypatch.setenv(name, value)
    loaded = load_settings(ConfigInputs.capture((), (Flag("--voice", "synthesis.default_voice", "piper:x"),)))
    monkeypatch.setenv("LITETTSD_SERVER__MAX_TEXT_CHARS", "9")  # after start-up: not seen by a reload
    write(user, "[log]\nlevel = 'warning'\n")
    write(tmp_path / "etc" / "conf.d" / "10-new.toml", "[cache]\ndir = '/new'\n")
    again = load_settings(loaded.inputs)
    settings = again.settings
    assert (settings.log.level, settings.cache.dir, settings.server.max_text_chars) == ("warning", "/new", 500)
    assert settings.synthesis.default_voice == "piper:x"
    write(user, "[log]\nlevel = 'loud'\n")
    with pytest.raises(ConfigError, match="is not one of"):
        load_settings(loaded.inputs)


def test_watch_paths_lists_existing_layer_files_and_folders(tmp_path: Path) -> None:
    inputs = ConfigInputs((), (), isolated_env(tmp_path))
    # Nothing exists yet: the first missing part of each folder, by name in its parent.
    assert watch_paths(inputs) == [tmp_path / "etc", tmp_path / "xdg"]
    (tmp_path / "etc").mkdir()
    assert watch_paths(inputs) == [tmp_path / "etc", tmp_path / "etc" / "conf.d", tmp_path / "xdg"]
    system = write(tmp_path / "etc" / "litettsd.toml", "")
    dropin = write(tmp_path / "etc" / "conf.d" / "10.toml", "")
    user = write(tmp_path / "xdg" / "litettsd" / "litettsd.toml", "")
    extra = write(tmp_path / "extra.toml", "")
    inputs = ConfigInputs((extra,), (), isolated_env(tmp_path))
    assert watch_paths(inputs) == [system, dropin, user, extra, tmp_path / "etc", tmp_path / "etc" / "conf.d", user.parent]


# --- the shipped file --------------------------------------------------------------------------


def test_every_shipped_key_has_a_comment_directly_above() -> None:
    lines = SHIPPED_TEXT.splitlines()
    assignments = [n for n, line in enumerate(lines) if re.match(r"[a-z_]+ = ", line)]
    assert len(assignments) == len(SHIPPED_KEYS)  # the pattern sees every key
    for n in assignments:
        assert lines[n - 1].startswith("# "), f"line {n + 1} ({lines[n]!r}) has no comment above it"


@pytest.mark.parametrize("key", SHIPPED_KEYS)
def test_every_shipped_key_is_checked_and_can_be_set_in_a_file(tmp_path: Path, key: str) -> None:
    section, name = key.split(".")
    default = DEFAULTS[section][name]
    loaded = load(tmp_path, f"[{section}]\n{name} = {json.dumps(default)}\n")
    assert value_at(loaded.settings, key) == default
    assert loaded.sources[key] == f"{tmp_path / 'test.toml'}:2"
    wrong = "not-a-number" if isinstance(default, (bool, int, float)) else 5
    message = error_of(tmp_path, f"[{section}]\n{name} = {json.dumps(wrong)}\n")
    assert message.startswith(f"{tmp_path / 'test.toml'}:2: {key} must be ")


def _section_aliases(tree: ast.AST, sections: set[str]) -> dict[str, set[str]]:
    """Local names bound to a settings section, e.g. ``limits = self.daemon.settings.server``."""
    aliases: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute) and node.value.attr in sections:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    aliases.setdefault(target.id, set()).add(node.value.attr)
    return aliases


def _keys_read(path: Path, sections: set[str]) -> set[str]:
    """``section.key`` for every read of a key: ``x.section.key``, ``alias.key``, or ``self.key`` in its class."""
    tree = ast.parse(path.read_text())
    aliases = _section_aliases(tree, sections)
    read = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name.endswith("Settings"):
            section = node.name.removesuffix("Settings").lower()
            for inner in ast.walk(node):
                if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) and inner.value.id == "self":
                    read.add(f"{section}.{inner.attr}")
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if isinstance(owner, ast.Attribute) and owner.attr in sections:
            read.add(f"{owner.attr}.{node.attr}")
        elif isinstance(owner, ast.Name):
            for section in aliases.get(owner.id, set()) | ({owner.id} & sections):
                read.add(f"{section}.{node.attr}")
    return read


def test_every_shipped_key_is_read_by_code() -> None:
    sections = set(DEFAULTS)
    sources = [*(REPO / "litettsd").glob("*.py"), *(REPO / "plugins" / "litettsd_plugins").rglob("*.py")]
    read = set().union(*(_keys_read(path, sections) for path in sources))
    assert sorted(set(SHIPPED_KEYS) - read) == []


def test_every_shipped_key_is_documented() -> None:
    docs = (REPO / "docs" / "configuration.md").read_text()
    assert [key for key in SHIPPED_KEYS if f"`{key}`" not in docs] == []


def test_cache_dir_expands_a_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    loaded = load(tmp_path, "[cache]\ndir = '~/tts-cache'\n")
    assert loaded.settings.cache.path() == tmp_path / "home" / "tts-cache"
