"""Building the plugin manager and calling hooks so one faulty plugin cannot sink a request."""

from __future__ import annotations

import functools
import importlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs, logs
from .errors import StartupError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "litettsd"


@dataclass
class Plugins:
    """The plugin manager plus bookkeeping of which plugin failed how often."""

    manager: pluggy.PluginManager
    errors: Counter[str] = field(default_factory=Counter)

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of a hook separately; a raising plugin is logged and skipped.

        pluggy stops at the first exception, which would let one broken plugin silence all
        the others; the daemon must keep serving, so each implementation runs on its own.
        """
        results = []
        caller = getattr(self.manager.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):  # pluggy's own order: last registered first
            try:
                result = impl.function(**{name: kwargs[name] for name in impl.argnames})
            except Exception as exc:
                self.errors[impl.plugin_name] += 1
                logs.failure(log, exc, "plugin %s failed in %s", impl.plugin_name, hook_name)
                continue
            results.append((impl.plugin_name, result))
        return results

    def collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Flatten the iterables that ``register_*`` hooks return, tagged with the plugin name."""
        return [
            (plugin, item)
            for plugin, items in self.call_each(hook_name, **kwargs)
            if items is not None
            for item in items
        ]

    @functools.cached_property
    def description(self) -> list[dict[str, str]]:
        """Name and version of each registered plugin, for ``status``.

        Computed once: plugins are only registered while the manager is built, and reading
        every distribution's metadata cost about 6 ms per ``status`` call.
        """
        versions = {
            self.manager.get_name(plugin): dist.version
            for plugin, dist in self.manager.list_plugin_distinfo()
        }
        return [
            {"name": name, "version": versions.get(name, "")}
            for name in sorted(n for n, _ in self.manager.list_name_plugin())
            if not self.manager.is_blocked(name)
        ]


def build_plugin_manager(disabled: Iterable[str] = (), modules: Iterable[str] = ()) -> Plugins:
    """Create the plugin manager: the ``litettsd`` entry points minus ``disabled``, plus ``modules``.

    ``modules`` are dotted module names imported and registered under their own name, for
    plugins that are not installed as distributions (and for the tests' faulty plugins).
    """
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    blocked = set(disabled)
    for name in blocked:
        manager.set_blocked(name)
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for module in modules:
        if not manager.is_blocked(module):
            try:
                manager.register(importlib.import_module(module), name=module)
            except ImportError as exc:
                raise StartupError(f"cannot import plugin module {module!r} ([plugins] load): {exc}") from None
    if blocked:  # another scan of every installed distribution (~5 ms of start-up)
        unknown = blocked - {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
        if unknown:
            log.warning("disabled plugins not installed: %s", ", ".join(sorted(unknown)))
    return Plugins(manager)
