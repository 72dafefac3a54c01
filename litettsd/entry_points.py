"""Installed plugins' entry points, read straight from their distributions' metadata folders.

pluggy finds plugins through importlib.metadata. Importing it costs ~14 ms on the 2-core CI
machine, because it brings in ``email``, ``zipfile`` and more for features the daemon never
uses. Its scan then parses every installed distribution's entry points. Together that was ~5%
of the daemon's time from exec to READY.

The format is fixed by the PyPA's entry points specification: an INI-style
``entry_points.txt`` in each ``*.dist-info`` folder (or legacy ``*.egg-info``) found on
``sys.path``. Distributions are visited in ``sys.path`` order, as importlib.metadata and pluggy
visit them, so when two copies of a plugin are installed the same one wins. Distributions
inside zip archives (old zipped eggs; pip never makes them) are not searched.
``tests/test_entry_points.py`` checks that both readers give the same answer.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_METADATA_FOLDERS = (".dist-info", ".egg-info")

_OBJECT_REFERENCE = re.compile(r"(?P<module>[\w.]+)\s*(?::\s*(?P<attribute>[\w.]+)\s*)?(?:\[[^\]]*\]\s*)?$")
"""``module``, ``module:attribute.path``, either optionally followed by ``[extras]``."""


@dataclass(frozen=True)
class EntryPoint:
    """One ``name = value`` line of an entry point group."""

    name: str
    value: str
    """What to load: ``module`` or ``module:attribute.path``, as the distribution wrote it."""
    distribution: str
    """The normalized name of the distribution that provides it, e.g. ``litettsd_plugins``."""
    version: str
    """That distribution's version, or "" when its metadata does not say."""

    def load(self) -> Any:
        """Import the module and follow the attribute path (``ImportError``, ``AttributeError`` on failure)."""
        match = _OBJECT_REFERENCE.match(self.value)
        if match is None:
            raise ImportError(f"{self.value!r} is not a module or module:attribute reference")
        target: Any = importlib.import_module(match["module"])
        for attribute in match["attribute"].split(".") if match["attribute"] else ():
            target = getattr(target, attribute)
        return target


def entry_points(group: str, path: Iterable[str] | None = None) -> list[EntryPoint]:
    """``group``'s entry points of every distribution on ``path`` (default ``sys.path``).

    A distribution installed twice counts once, in its first place on the path; within one
    distribution the lines keep their order.
    """
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for folder, distribution in _metadata_folders(sys.path if path is None else path):
        if distribution in seen:
            continue
        seen.add(distribution)
        try:
            with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as handle:
                text = handle.read()
        except OSError:  # most distributions have no entry points
            continue
        lines = list(_group_lines(text, group))
        if lines:
            version = _version(folder)
            found.extend(EntryPoint(name, value, distribution, version) for name, value in lines)
    return found


def _normalize(name: str) -> str:
    """A distribution name as importlib.metadata compares them: ``Foo.Bar-baz`` -> ``foo_bar_baz``."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _metadata_folders(path: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(folder, normalized distribution name)`` of every metadata folder, in path order."""
    for entry in path:
        directory = entry or "."  # "" on sys.path is the working directory
        try:
            names = sorted(name for name in os.listdir(directory) if name.lower().endswith(_METADATA_FOLDERS))
        except OSError:  # missing, not a folder (a zip archive), or unreadable
            continue
        for name in names:
            yield os.path.join(directory, name), _normalize(name.rpartition(".")[0].partition("-")[0])


def _group_lines(text: str, group: str) -> Iterator[tuple[str, str]]:
    """``(name, value)`` of each entry in the ``[group]`` section(s) of an ``entry_points.txt``."""
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            inside = line[1:-1].strip() == group
        elif inside:
            name, equals, value = line.partition("=")
            if equals:
                yield name.strip(), value.strip()


def _version(folder: str) -> str:
    """The version in a metadata folder's name (``name-1.2.dist-info``), else its ``Version:`` field."""
    stem = os.path.basename(folder).rpartition(".")[0]
    version = stem.partition("-")[2].partition("-")[0]  # egg-info may end in -py3.11
    if version:
        return version
    for metadata in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(folder, metadata), encoding="utf-8") as handle:
                for line in handle:
                    if line.startswith("Version:"):
                        return line.partition(":")[2].strip()
                    if not line.strip():  # end of the header block
                        break
        except OSError:
            continue
    return ""
