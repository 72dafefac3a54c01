"""Regular expressions compiled on first use instead of at import.

The text normalizers hold about a hundred patterns, many of them long alternations, and
Python compiles a pattern in pure Python: compiling them all when the plugins are imported
cost some 15-20 ms of the daemon's time to READY. A ``LazyPattern`` compiles on its first
match, and right after READY the daemon calls ``compile_pending`` on a worker thread, so the
patterns a text never triggered are ready too before most first requests.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterator

_PENDING: list[LazyPattern] = []
"""Every pattern made so far and not yet compiled by ``compile_pending``."""


def compile_pending() -> None:
    """Compile every lazy pattern made so far.

    A pattern that does not compile is skipped: it raises where it is first used, in the
    plugin that made it, rather than here.
    """
    while _PENDING:
        pattern = _PENDING.pop()
        if pattern._compiled is None:
            with contextlib.suppress(re.error):
                pattern._compiled = re.compile(pattern.pattern, pattern.flags)


class LazyPattern:
    """A compiled pattern's matching methods, compiling ``pattern`` the first time one is called."""

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None
        _PENDING.append(self)

    @property
    def compiled(self) -> re.Pattern[str]:
        # Two threads may both compile the first time; either result is the same pattern.
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str:
        return self.compiled.sub(repl, string, count)

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.search(string, pos, endpos)

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.match(string, pos, endpos)

    def fullmatch(self, string: str) -> re.Match[str] | None:
        return self.compiled.fullmatch(string)

    def finditer(self, string: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(string)

    def findall(self, string: str) -> list[str]:
        return self.compiled.findall(string)

    def split(self, string: str, maxsplit: int = 0) -> list[str]:
        return self.compiled.split(string, maxsplit)
