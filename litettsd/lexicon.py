"""User pronunciation lexicons: words said as given IPA, or as other words.

Lexicon files are TOML, found through ``[lexicon] files`` (paths or globs)::

    language = "en"            # optional: only voices whose language starts with this
    case_sensitive = false     # optional, default false
    [words]
    Kokoro = { ipa = "kˈoʊkəɹoʊ" }
    nginx = { say = "engine x" }
    SQL = "sequel"             # shorthand for { say = "sequel" }

Matching is whole-word only, and never inside a host name, an e-mail address or a file name
(``www.nginx.org``, ``nginx.conf``); words joined by a slash still match (``SQL/NoSQL``). Entries apply before the normalizers run, so an entry
for "SQL" wins over the rule that reads capitals as letters; a respelling replaces the word
in place, so the normalizers still read the words around it in context ("1999 apples" stays
a count, not a year). Where tables disagree, the first file's entry wins. See docs/lexicon.md.
"""

from __future__ import annotations

import glob
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .config import ConfigError
from .document import Phonemes, Segment, Text


@dataclass(frozen=True)
class _Table:
    language: str
    case_sensitive: bool
    entries: dict[str, Segment]
    pattern: re.Pattern[str]

    def lookup(self, word: str) -> Segment:
        return self.entries[word if self.case_sensitive else word.casefold()]


def _entry(path: Path, word: str, value: Any) -> Segment:
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, dict) and set(value) == {"ipa"} and isinstance(value["ipa"], str):
        return Phonemes(value["ipa"])
    if isinstance(value, dict) and set(value) == {"say"} and isinstance(value["say"], str):
        return Text(value["say"])
    raise ConfigError(f"{path}: words.{word} must be a string, {{ ipa = \"...\" }} or {{ say = \"...\" }}")


def _table(path: Path) -> _Table:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read lexicon: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    unknown = set(data) - {"language", "case_sensitive", "words"}
    if unknown:
        raise ConfigError(f"{path}: unknown lexicon keys {sorted(unknown)}; expected language, case_sensitive, words")
    case_sensitive = data.get("case_sensitive", False)
    language = data.get("language", "")
    words = data.get("words", {})
    if not isinstance(case_sensitive, bool) or not isinstance(language, str) or not isinstance(words, dict):
        raise ConfigError(f"{path}: language must be a string, case_sensitive a boolean, words a table")
    entries = {
        (word if case_sensitive else word.casefold()): _entry(path, word, value) for word, value in words.items()
    }
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)) or r"(?!x)x"
    flags = 0 if case_sensitive else re.IGNORECASE
    # Whole words, not parts of a host, an address or a file name: nothing like "www." or "@"
    # before, nothing like ".org" or "@" after (a sentence's own full stop is fine). A slash
    # joins words too ("SQL/NoSQL"), so it does not count.
    pattern = re.compile(rf"(?<![\w@.])(?:{alternatives})(?![\w@]|\.\w)", flags)
    return _Table(language.lower().replace("_", "-"), case_sensitive, entries, pattern)


def watch_paths(patterns: Iterable[str]) -> list[Path]:
    """What a reload watcher should watch for the lexicon: each pattern's folder when its name
    has wildcards (a file added there counts), else the file itself (``config.watch_paths``)."""
    paths: list[Path] = []
    for pattern in patterns:
        path = Path(pattern).expanduser()
        if glob.has_magic(path.name) and not glob.has_magic(str(path.parent)):
            if path.parent.is_dir():
                paths.append(path.parent)
        else:
            paths.extend(Path(found) for found in sorted(glob.glob(str(path))))
    return paths


class Lexicon:
    """All loaded lexicon tables, applied in file order (the first matching table wins)."""

    def __init__(self, tables: Iterable[_Table] = ()) -> None:
        self._tables = list(tables)

    @classmethod
    def load(cls, patterns: Iterable[str]) -> Lexicon:
        """Read every file the patterns name; a broken file is a ``ConfigError`` naming it."""
        files: list[Path] = []
        for pattern in patterns:
            files.extend(Path(p) for p in sorted(glob.glob(str(Path(pattern).expanduser()))))
        return cls(_table(path) for path in files)

    def __len__(self) -> int:
        return sum(len(table.entries) for table in self._tables)

    def apply(self, segments: list[Segment], language: str) -> list[Segment]:
        """Replace lexicon words in text segments by their IPA or respelling."""
        tables = [t for t in self._tables if language.lower().startswith(t.language)]
        if not tables:
            return segments
        out: list[Segment] = []
        for segment in segments:
            if isinstance(segment, Text) and segment.say_as is None:
                out.extend(self._split(segment, tables))
            else:
                out.append(segment)
        return out

    def _split(self, segment: Text, tables: list[_Table]) -> list[Segment]:
        """``segment`` with its lexicon words replaced: respellings in place, IPA as its own segment.

        All tables are matched against the original text, so one table never rewrites
        another's respelling; of overlapping matches the earlier table's is kept.
        """
        if segment.normalized:
            return [segment]
        text = segment.text
        taken: list[tuple[int, int, Segment]] = []
        for table in tables:
            for match in table.pattern.finditer(text):
                if not any(start < match.end() and match.start() < end for start, end, _ in taken):
                    taken.append((match.start(), match.end(), table.lookup(match.group())))
        if not taken:
            return [segment]
        out: list[Segment] = []
        pending, position = "", 0
        for start, end, replacement in sorted(taken, key=lambda item: item[0]):
            pending += text[position:start]
            if isinstance(replacement, Phonemes):
                if pending:
                    out.append(Text(pending, segment.prosody))
                    pending = ""
                out.append(Phonemes(replacement.ipa, segment.prosody))
            else:
                assert isinstance(replacement, Text)
                pending += replacement.text
            position = end
        pending += text[position:]
        if pending:
            out.append(Text(pending, segment.prosody))
        return out
