"""User pronunciation lexicons: respellings and IPA, whole words, case rules, broken files."""

from __future__ import annotations

import subprocess

from .conftest import BIN, REPO

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


def test_editing_or_adding_a_lexicon_file_reloads_without_a_signal(start_daemon, tmp_path):
    import time

    folder = tmp_path / "lexicon.d"
    folder.mkdir()
    (folder / "a.toml").write_text('[words]\nnginx = "engine x"\n')
    private = start_daemon(f'[lexicon]\nfiles = ["{folder}/*.toml"]\n')

    def spoken(text):
        with private.connect() as conn:
            return conn.request({"op": "normalize", "id": 1, "text": text})[0]["text"]

    def eventually(text, expected):
        deadline = time.monotonic() + 30
        while expected not in spoken(text):
            assert time.monotonic() < deadline, spoken(text)
            time.sleep(0.1)

    assert "engine x" in spoken("nginx")
    time.sleep(0.5)  # let the watcher start
    (folder / "a.toml").write_text('[words]\nnginx = "engine ex"\n')  # an edit
    eventually("nginx", "engine ex")
    (folder / "b.toml").write_text('[words]\nsqlite = "S Q lite"\n')  # a new file the pattern matches
    eventually("sqlite", "S Q lite")


def test_lexicon_words_keep_their_context_and_stay_out_of_addresses(start_daemon, tmp_path):
    (tmp_path / "a.toml").write_text('[words]\napples = "apples"\nnginx = "engine x"\nHenry = "Henry"\n')
    (tmp_path / "b.toml").write_text('[words]\nengine = "motor"\nnginx = "N G"\n')
    plain = start_daemon()
    private = start_daemon(f'[lexicon]\nfiles = ["{tmp_path}/*.toml"]\n')

    def norm(daemon, text):
        with daemon.connect() as conn:
            return conn.request({"op": "normalize", "id": 1, "text": text})[0]["text"]

    # An entry that changes nothing changes nothing: same numbers, same full stop.
    for text in ("I have 1999 apples.", "Henry VIII was king."):
        assert norm(private, text) == norm(plain, text), text
    assert "engine x" in norm(private, "Compare nginx/apache.")  # a slash joins words
    visit = norm(private, "Visit www.nginx.org or edit nginx.conf, then run nginx.")
    assert visit.count("nginx") == 2 and visit.count("engine x") == 1, visit  # only the bare word
    # The first file's entry wins, and the second file does not rewrite its respelling.
    assert "engine x" in norm(private, "We run nginx.") and "motor" not in norm(private, "We run nginx.")


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




def test_documented_lexicon_example_loads_and_the_config_points_at_it(tmp_path):
    from litettsd.lexicon import Lexicon

    document = (REPO / "docs" / "lexicon.md").read_text()
    assert "docs/lexicon.md" in (REPO / "config" / "litettsd.toml").read_text()
    (tmp_path / "example.toml").write_text(document.split("```toml\n", 1)[1].split("```", 1)[0])
    assert len(Lexicon.load([str(tmp_path / "example.toml")])) == 4
