"""Every hook is specified with a one-line docstring and documented in docs/plugins.md."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import pytest

from litettsd import hookspecs
from litettsd.plugins import build_plugin_manager

DOCS = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
HOOKS = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("litettsd_")]


def test_there_are_hooks():
    assert len(HOOKS) >= 5


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_one_line_docstring(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc and "\n" not in doc.strip()


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    assert f"### {hook}(" in DOCS


def test_plugin_manager_is_built_on_demand_with_first_party_plugins():
    first = build_plugin_manager()
    second = build_plugin_manager(disabled=["kokoro"])
    names = {name for name, _ in first.manager.list_name_plugin()}
    assert {"piper", "kokoro", "pcm", "wav", "mp3", "cpu-threads"} <= names
    assert first.manager is not second.manager
    assert "kokoro" not in {p["name"] for p in second.description}
    engines = [engine.name for _, engine in second.collect("litettsd_register_engines", settings=None)]
    assert "kokoro" not in engines and "piper" in engines


def test_disabling_a_plugin_that_is_not_installed_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="litettsd.plugins"):
        plugins = build_plugin_manager(disabled=["no-such-plugin", "kokoro"])
    assert "no-such-plugin" in caplog.text and "kokoro" not in caplog.text
    assert plugins.manager.is_blocked("kokoro")
