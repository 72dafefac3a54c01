"""Lazily compiled patterns (``litettsd.patterns``): the start-up work they keep out of READY."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from litettsd.patterns import LazyPattern, compile_pending


def test_compiles_on_first_use_not_before() -> None:
    broken = LazyPattern("(unclosed")  # constructing it must not compile
    assert broken.pattern == "(unclosed"
    with pytest.raises(re.error):
        broken.search("anything")


def test_every_method_matches_the_compiled_pattern() -> None:
    source, flags = r"(?P<word>[a-z]+)(?P<digits>[0-9]*)", re.IGNORECASE
    lazy, compiled = LazyPattern(source, flags), re.compile(source, flags)
    text = "Alpha12 beta, GAMMA3 delta"
    assert lazy.sub(r"<\g<word>>", text) == compiled.sub(r"<\g<word>>", text)
    assert lazy.sub(lambda m: m.group("digits") or "-", text, count=2) == compiled.sub(
        lambda m: m.group("digits") or "-", text, count=2
    )
    assert lazy.search(text, 8, 14).span() == compiled.search(text, 8, 14).span()  # type: ignore[union-attr]
    assert lazy.match(text, 8).group() == compiled.match(text, 8).group()  # type: ignore[union-attr]
    assert lazy.fullmatch("abc9") is not None and lazy.fullmatch("abc 9") is None
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in compiled.finditer(text)]
    assert lazy.findall(text) == compiled.findall(text)
    assert LazyPattern(r",\s*").split(text, 1) == re.split(r",\s*", text, 1)
    assert lazy.compiled is lazy.compiled  # compiled once, then kept


def test_normalizer_plugins_compile_no_pattern_at_import() -> None:
    """Regex compilation at import was ~15-20 ms of the time to READY; keep it out."""
    probe = """
import importlib, pkgutil, re, sys
callers = []
original = re.compile
def recording(*args, **kwargs):
    callers.append(sys._getframe(1).f_code.co_filename)
    return original(*args, **kwargs)
re.compile = recording
import litettsd_plugins.normalizers as package
for module in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"{package.__name__}.{module.name}")
print("\\n".join(name for name in callers if "normalizers" in name))
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"compiled at import by: {result.stdout}"


def test_after_compile_pending_no_normalization_compiles_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon calls ``compile_pending`` right after READY: no request compiles a pattern then."""
    from tests.test_normalizer_cases import CASES, normalize

    compile_pending()
    compiled: list[str] = []
    original = re.compile

    def recording(pattern: str, flags: int = 0) -> re.Pattern[str]:
        compiled.append(pattern)
        return original(pattern, flags)

    monkeypatch.setattr(re, "compile", recording)
    for case in CASES:
        text = case.values[0]
        assert isinstance(text, str)
        normalize(text)
    assert compiled == []
