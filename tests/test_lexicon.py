"""User pronunciation lexicons: respellings and IPA, whole words, case rules, broken files."""

from __future__ import annotations

import subprocess

from .conftest import BIN

LEXICON = """
language = "en"
[words]
nginx = "engine x"
Kokoro = { ipa = "kˈoʊkəɹoʊ" }
"""
CASED = """
case_sensitive = true
[words]
IT = { say = "information technology" }
"""


def test_lexicon_respelling_and_ipa(start_daemon, tmp_path):
    (tmp_path / "a.toml").write_text(LEXICON)
    (tmp_path / "b.toml").write_text(CASED)
    private = start_daemon(f'[lexicon]\nfiles = ["{tmp_path}/*.toml"]\n')
    with private.connect() as conn:
        def norm(text, voice=None):
            reply = conn.request({"op": "normalize", "id": 1, "text": text, **({"voice": voice} if voice else {})})[0]
            assert reply["type"] == "normalized", reply
            return reply

        reply = norm("We run NGINX and nginxy tools with Kokoro.")
        assert "engine x" in reply["text"]  # case-insensitive by default
        assert "nginxy" in reply["text"]  # whole words only
        assert "kˈoʊkəɹoʊ" in reply["phonemes"]
        assert "information technology" in norm("IT works, it said.")["text"]
        assert "information technology" not in norm("it said")["text"]  # case-sensitive table
        frames = conn.request({"op": "synthesize", "id": 2, "text": "Kokoro runs nginx."})
        assert frames[-1]["type"] == "end"


def test_lexicon_language_filter(start_daemon, tmp_path):
    (tmp_path / "de.toml").write_text('language = "de"\n[words]\nhallo = "servus"\n')
    private = start_daemon(f'[lexicon]\nfiles = ["{tmp_path}/de.toml"]\n')
    with private.connect() as conn:
        reply = conn.request({"op": "normalize", "id": 1, "text": "hallo"})[0]
    assert "servus" not in reply["text"]


def test_broken_lexicon_stops_start_up_naming_the_file(tmp_path, model_cache):
    bad = tmp_path / "bad.toml"
    bad.write_text("[words]\nfoo = 3\n")
    config = tmp_path / "c.toml"
    config.write_text(f'[lexicon]\nfiles = ["{bad}"]\n[cache]\ndir = "{model_cache}"\n')
    result = subprocess.run(
        [str(BIN / "litettsd"), "--socket", str(tmp_path / "s.sock"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert str(bad) in result.stderr and "words.foo" in result.stderr


