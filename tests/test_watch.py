"""The configuration watcher on real inotify: which edits count, debouncing, and closing cleanly."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from litettsd.watch import ConfigWatcher

DEBOUNCE = 0.2
QUIET = 1.0
"""How long a test waits to conclude that nothing was reported."""


def changes_after(paths: list[Path], edit: Callable[[], None], wait: float = 5.0) -> list[list[str]]:
    """Start watching ``paths``, make ``edit``, and collect what the watcher reports within ``wait`` seconds."""

    async def run() -> list[list[str]]:
        watcher = ConfigWatcher(paths)
        reported: list[list[str]] = []

        async def collect() -> None:
            async for names in watcher.changes(DEBOUNCE):
                reported.append(names)

        task = asyncio.ensure_future(collect())
        await asyncio.sleep(0.05)  # the reader is registered once the generator first runs
        edit()
        deadline = asyncio.get_running_loop().time() + wait
        while not reported and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(DEBOUNCE * 2)  # anything the same edit would still report
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        watcher.close()
        return reported

    return asyncio.run(run())


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    path = tmp_path / "etc" / "litettsd.toml"
    path.parent.mkdir()
    path.write_text("[server]\nmax_text_chars = 100\n")
    return path


def test_writing_a_watched_file_in_place_is_reported_once(layer: Path) -> None:
    def edit() -> None:
        for value in (200, 300, 400):  # one save, several writes: one report
            layer.write_text(f"[server]\nmax_text_chars = {value}\n")

    assert changes_after([layer], edit) == [["litettsd.toml"]]


def test_an_editor_that_saves_by_renaming_a_new_file_over_the_old_is_reported(layer: Path) -> None:
    def edit() -> None:
        temporary = layer.with_name(".litettsd.toml.swp")
        temporary.write_text("[server]\nmax_text_chars = 500\n")
        temporary.replace(layer)

    assert changes_after([layer], edit) == [["litettsd.toml"]]


def test_saving_twice_after_a_rename_is_still_reported(layer: Path) -> None:
    """The watch is on the folder, so the file's new inode is seen as well as the old one."""

    async def run() -> list[list[str]]:
        watcher = ConfigWatcher([layer])
        changes = watcher.changes(DEBOUNCE)
        reported = []
        replacement = layer.with_name("new.tmp")
        replacement.write_text("[server]\n")
        first = asyncio.ensure_future(anext(changes))
        await asyncio.sleep(0.05)
        replacement.replace(layer)
        reported.append(await asyncio.wait_for(first, 5))
        layer.write_text("[server]\nmax_text_chars = 700\n")
        reported.append(await asyncio.wait_for(anext(changes), 5))
        watcher.close()
        return reported

    assert asyncio.run(run()) == [["litettsd.toml"], ["litettsd.toml"]]


def test_editing_the_target_of_a_symlinked_layer_is_reported(tmp_path: Path) -> None:
    """As with /etc managed by a configuration system: the layer is a link to a file elsewhere."""
    target = tmp_path / "store" / "litettsd-site.toml"
    target.parent.mkdir()
    target.write_text("[server]\n")
    link = tmp_path / "etc" / "litettsd.toml"
    link.parent.mkdir()
    link.symlink_to(target)
    assert changes_after([link], lambda: target.write_text("[log]\n")) == [["litettsd-site.toml"]]


def test_one_folder_reached_by_two_paths_keeps_every_rule(tmp_path: Path) -> None:
    """inotify gives one watch per folder, whatever path named it: the rules must be merged, not replaced."""
    real = tmp_path / "etc"
    real.mkdir()
    alias = tmp_path / "etc-link"
    alias.symlink_to(real)
    site = real / "site.conf"
    site.write_text("[server]\n")
    assert changes_after([alias, site], lambda: (real / "10-voice.toml").write_text("[log]\n")) == [["10-voice.toml"]]


def test_other_files_beside_a_watched_file_do_not_count(layer: Path) -> None:
    assert changes_after([layer], lambda: layer.with_name("other.toml").write_text("x"), wait=QUIET) == []


def test_in_a_watched_folder_layers_count_and_hidden_or_foreign_files_do_not(tmp_path: Path) -> None:
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()

    def ignored() -> None:
        (conf_d / ".#voice.toml").write_text("lock")
        (conf_d / "notes.txt").write_text("notes")

    assert changes_after([conf_d], ignored, wait=QUIET) == []
    assert changes_after([conf_d], lambda: (conf_d / "10-voice.toml").write_text("[synthesis]\n")) == [
        ["10-voice.toml"]
    ]
    assert changes_after([conf_d], lambda: (conf_d / "10-voice.toml").unlink()) == [["10-voice.toml"]]


def test_a_watched_folder_that_goes_away_counts(tmp_path: Path) -> None:
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    assert changes_after([conf_d], lambda: conf_d.rename(tmp_path / "conf.d.old")) == [["conf.d"]]


def test_a_file_named_on_the_command_line_counts_whatever_its_name(tmp_path: Path) -> None:
    """A ``--config`` file need not end in .toml, even inside a watched folder."""
    odd = tmp_path / "site.conf"
    odd.write_text("[server]\n")
    assert changes_after([tmp_path, odd], lambda: odd.write_text("[log]\n")) == [["site.conf"]]


def test_closing_releases_the_descriptor_and_the_loop_reader(layer: Path) -> None:
    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def run() -> None:
        before = open_descriptors()
        for _ in range(50):
            watcher = ConfigWatcher([layer])
            changes = watcher.changes(DEBOUNCE)
            pending = asyncio.ensure_future(anext(changes))
            await asyncio.sleep(0)
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            watcher.close()
            watcher.close()  # idempotent
        assert open_descriptors() == before

    asyncio.run(run())


def test_a_folder_that_cannot_be_watched_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="cannot watch"):
        ConfigWatcher([tmp_path / "missing" / "litettsd.toml"])
