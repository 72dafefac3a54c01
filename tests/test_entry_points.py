"""Plugins are found without importlib.metadata (``litettsd.entry_points``), with the same result.

The reader exists for start-up time, so these tests hold it to importlib.metadata's answers:
on the test environment's real ``sys.path`` and on made-up installs that exercise the corner
cases (a plugin installed twice, legacy egg-info, comments, extras, attribute paths).
"""

from __future__ import annotations

import re
import textwrap
from importlib import metadata
from pathlib import Path

import pluggy
import pytest

from litettsd import hookspecs
from litettsd.entry_points import EntryPoint, entry_points
from litettsd.errors import StartupError
from litettsd.plugins import ENTRY_POINT_GROUP, build_plugin_manager, new_plugin_manager


def _per_importlib_metadata(group: str, path: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(name, value, version) of each entry point that would be registered, by importlib.metadata.

    A distribution counts once, in its first place on the path, as in
    ``importlib.metadata.entry_points()`` (which takes no path); the first entry point of a
    name wins, as pluggy registers them.
    """
    dists = metadata.distributions() if path is None else metadata.distributions(path=path)
    names: set[str] = set()
    seen: set[str] = set()
    found = []
    for dist in dists:
        name = re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower()
        if name in names:
            continue
        names.add(name)
        for entry in dist.entry_points:
            if entry.group == group and entry.name not in seen:
                seen.add(entry.name)
                found.append((entry.name, entry.value, dist.version))
    return found


def _first_copies(found: list[EntryPoint]) -> list[tuple[str, str, str]]:
    seen: set[str] = set()
    first = []
    for entry in found:
        if entry.name not in seen:
            seen.add(entry.name)
            first.append((entry.name, entry.value, entry.version))
    return first


def test_the_installed_plugins_are_what_importlib_metadata_finds() -> None:
    ours = entry_points(ENTRY_POINT_GROUP)
    assert sorted(_first_copies(ours)) == sorted(_per_importlib_metadata(ENTRY_POINT_GROUP))
    assert {"piper", "kokoro", "wav", "cpu-threads"} <= {entry.name for entry in ours}
    piper = next(entry for entry in ours if entry.name == "piper")
    assert piper.distribution == "litettsd_plugins"
    assert piper.version == metadata.version("litettsd-plugins")


def _dist(folder: Path, name: str, entry_points_txt: str | None, metadata_file: str = "METADATA", version: str = "") -> None:
    folder.mkdir(parents=True)
    (folder / metadata_file).write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nA description.\n")
    if entry_points_txt is not None:
        (folder / "entry_points.txt").write_text(textwrap.dedent(entry_points_txt))


def test_corner_cases_match_importlib_metadata(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(
        first / "Foo_Bar-1.0.dist-info",
        "Foo.Bar",
        """
        [console_scripts]
        foo = foo.cli:main

        [litettsd]
        # a comment
        alpha = pkg.alpha
        beta = pkg.beta:Plugin.instance [extra1, extra2]

        [other]
        gamma = pkg.gamma
        """,
        version="1.0",
    )
    _dist(first / "legacy.egg-info", "legacy", "[litettsd]\ndelta=pkg.delta\n", metadata_file="PKG-INFO", version="2.0")
    _dist(first / "nothing-3.0.dist-info", "nothing", None, version="3.0")
    # The same distribution again, further down the path: shadowed, as importlib.metadata does.
    _dist(second / "foo_bar-9.9.dist-info", "foo-bar", "[litettsd]\nalpha = elsewhere.alpha\nepsilon = pkg.epsilon\n", version="9.9")
    _dist(second / "other_dist-1.1.dist-info", "other-dist", "[litettsd]\nalpha = third.alpha\n", version="1.1")
    path = [str(first), str(tmp_path / "missing"), str(second)]

    ours = entry_points(ENTRY_POINT_GROUP, path)

    # importlib.metadata lists one folder's distributions in directory order, we by name.
    assert sorted(_first_copies(ours)) == sorted(_per_importlib_metadata(ENTRY_POINT_GROUP, path))
    assert [(entry.name, entry.distribution, entry.version) for entry in ours] == [
        ("alpha", "foo_bar", "1.0"),
        ("beta", "foo_bar", "1.0"),
        ("delta", "legacy", "2.0"),
        ("alpha", "other_dist", "1.1"),
    ]


def test_load_follows_the_attribute_path_like_importlib_metadata() -> None:
    value = "litettsd.plugins:ENTRY_POINT_GROUP.upper [unused_extra]"
    ours = EntryPoint("x", value, "d", "1").load()
    theirs = metadata.EntryPoint("x", value, ENTRY_POINT_GROUP).load()
    assert ours == theirs
    with pytest.raises(ImportError):
        EntryPoint("x", "not a reference!", "d", "1").load()


def test_a_plugin_that_fails_to_import_stops_start_up_with_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dist(tmp_path / "bad_plugin-0.1.dist-info", "bad-plugin", "[litettsd]\nbad = bad_plugin_module\n", version="0.1")
    (tmp_path / "bad_plugin_module.py").write_text("raise RuntimeError('this plugin is broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    expected = r"cannot load plugin 'bad' \(bad_plugin_module, from bad_plugin 0\.1\): this plugin is broken"
    with pytest.raises(StartupError, match=expected):
        build_plugin_manager()
    # Disabled, it is never imported, so the rest start.
    manager = build_plugin_manager(disabled=["bad"]).manager
    assert manager.get_plugin("bad") is None and manager.get_plugin("piper") is not None


def test_module_plugins_register_the_same_hooks_as_with_pluggys_own_lookup() -> None:
    """``new_plugin_manager`` reads a module's namespace instead of ``inspect.getattr_static``."""
    stock = pluggy.PluginManager(ENTRY_POINT_GROUP)
    stock.add_hookspecs(hookspecs)
    ours = new_plugin_manager()
    for entry in entry_points(ENTRY_POINT_GROUP):
        module = entry.load()
        stock.register(module, name=entry.name)
        ours.register(module, name=entry.name)

    def hooks(manager: pluggy.PluginManager) -> dict[str, list[tuple[str, bool, bool]]]:
        return {
            name: [(impl.plugin_name, impl.wrapper, impl.tryfirst) for impl in caller.get_hookimpls()]
            for name, caller in vars(manager.hook).items()
            if isinstance(caller, pluggy.HookCaller)
        }

    assert hooks(ours) == hooks(stock)
    assert sum(len(impls) for impls in hooks(ours).values()) >= 20
