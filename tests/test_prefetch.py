"""Sessions opened ahead at start-up (``litettsd.prefetch``): taken only when they are exactly
what the session factory would open, with real onnxruntime sessions and real daemons."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from litettsd.ort_capi import ExecutionMode, GraphOptimizationLevel, SessionOptions
from litettsd.prefetch import RECORD, Prefetch, Snapshot, remember, replay, snapshot

from .conftest import BIN, DaemonProcess, audio_of

KEY = {"voices": ["piper:test"], "threads": 2}
"""A start-up key (``start_up_key`` makes them from the settings; any JSON value will do here)."""


def _options(entries: dict[str, str] | None = None) -> Any:
    """Options as the session factory and the threads plugin make them."""
    options = SessionOptions()
    options.enable_mem_pattern = False
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.execution_mode = ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = GraphOptimizationLevel.ORT_DISABLE_ALL
    options.add_session_config_entry("session.use_env_allocators", "1")
    for key, value in (entries or {}).items():
        options.add_session_config_entry(key, value)
    return options


def _graph(cache: Path, name: str = "entry") -> Path:
    """A real (tiny) cached graph: y = x + 1."""
    import onnx
    from onnx import TensorProto, helper

    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    node = helper.make_node("Add", ["x", "one"], ["y"])
    graph = helper.make_graph(
        [node],
        "plus_one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
        [one],
    )
    path = cache / "optimized" / name / "model.onnx"
    path.parent.mkdir(parents=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _recorded(cache: Path) -> tuple[Path, Snapshot]:
    """A cached graph in ``cache``, and a record saying start-up opened it with ``_options()``."""
    graph = _graph(cache)
    recorded = snapshot(_options())
    assert recorded is not None
    remember(cache, KEY, [(graph, recorded)])
    return graph, recorded


def test_options_replay_from_their_snapshot_through_json() -> None:
    options = _options({"session.intra_op.allow_spinning": "0"})
    options.log_severity_level = 3
    recorded = snapshot(options)
    assert recorded is not None
    assert recorded["entries"]["session.intra_op.allow_spinning"] == "0"
    assert recorded["fields"]["graph_optimization_level"] == int(GraphOptimizationLevel.ORT_DISABLE_ALL)
    through_json = json.loads(json.dumps(recorded))
    again = replay(through_json)
    assert snapshot(again) == recorded
    assert again.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert again.execution_mode == ExecutionMode.ORT_SEQUENTIAL


def test_options_refuse_what_they_cannot_hold_and_records_naming_it_are_not_opened(tmp_path: Path) -> None:
    """Options are only fields and config entries, so a snapshot holds all of them; anything
    else onnxruntime's Python module offers (a free dimension override, deterministic
    compute) is refused when set, not silently dropped, and a record naming a field we lack
    is ignored."""
    options = _options()
    with pytest.raises(AttributeError):
        options.add_free_dimension_override_by_name("batch", 1)  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        options.use_deterministic_compute = True  # type: ignore[attr-defined]
    _recorded(tmp_path)
    record = json.loads((tmp_path / RECORD).read_text())
    record["sessions"][0]["options"]["fields"]["use_deterministic_compute"] = True
    (tmp_path / RECORD).write_text(json.dumps(record))
    assert Prefetch.start(tmp_path, KEY) is None


def test_options_that_make_opening_a_session_write_files_are_never_recorded(tmp_path: Path) -> None:
    """Profiling and saving the optimized graph write files: a record must not be able to ask
    for either, so neither is recorded, and a record holding them is not opened."""
    profiling = _options()
    profiling.enable_profiling = True
    saving = _options()
    saving.optimized_model_filepath = str(tmp_path / "written.onnx")
    assert snapshot(profiling) is None and snapshot(saving) is None
    _recorded(tmp_path)
    record = json.loads((tmp_path / RECORD).read_text())
    record["sessions"][0]["options"]["fields"]["optimized_model_filepath"] = str(tmp_path / "written.onnx")
    (tmp_path / RECORD).write_text(json.dumps(record))
    assert Prefetch.start(tmp_path, KEY) is None


def test_a_recorded_session_is_opened_ahead_and_taken_only_with_the_same_graph_and_options(tmp_path: Path) -> None:
    graph, recorded = _recorded(tmp_path)
    prefetch = Prefetch.start(tmp_path, KEY)
    assert prefetch is not None
    other = snapshot(_options({"session.intra_op.allow_spinning": "0"}))
    assert other is not None
    assert prefetch.take(graph, other) is None  # different options: the factory opens its own
    assert prefetch.take(tmp_path / "optimized" / "other" / "model.onnx", recorded) is None
    session = prefetch.take(graph, recorded)
    assert session is not None
    (result,) = session.run(None, {"x": np.array([1.0, 2.0], dtype=np.float32)})
    assert result.tolist() == [2.0, 3.0]
    assert prefetch.take(graph, recorded) is None  # taken once
    prefetch.close()


def test_nothing_is_opened_ahead_for_another_start_up_or_a_stale_or_foreign_record(tmp_path: Path) -> None:
    graph, recorded = _recorded(tmp_path)
    assert Prefetch.start(tmp_path, {**KEY, "voices": ["piper:other"]}) is None
    assert Prefetch.start(tmp_path, {**KEY, "threads": 1}) is None

    record = json.loads((tmp_path / RECORD).read_text())
    record["onnxruntime"] = "0.0.0"
    (tmp_path / RECORD).write_text(json.dumps(record))
    stale = Prefetch.start(tmp_path, KEY)  # the version is checked on the thread
    assert stale is not None and stale.take(graph, recorded) is None
    stale.close(wait=True)

    # A graph outside the cache's own folder of optimized graphs is never opened.
    elsewhere = _graph(tmp_path / "elsewhere")
    remember(tmp_path, KEY, [(elsewhere, recorded)])
    assert Prefetch.start(tmp_path, KEY) is None
    sneaky = tmp_path / "optimized" / ".." / "elsewhere" / "optimized" / "entry" / "model.onnx"
    remember(tmp_path, KEY, [(sneaky, recorded)])
    assert Prefetch.start(tmp_path, KEY) is None
    (tmp_path / "optimized" / "link").symlink_to(elsewhere.parent)  # an entry that leads outside
    remember(tmp_path, KEY, [(tmp_path / "optimized" / "link" / "model.onnx", recorded)])
    assert Prefetch.start(tmp_path, KEY) is None

    good = {"graph": str(graph), "options": recorded}
    for broken in (
        "{",
        "[]",
        b"\xff\xfe{",
        {"format": 1, "key": KEY, "sessions": [good]},  # an older format
        {"format": 2, "key": KEY, "sessions": [good, {"graph": 3, "options": recorded}]},
        {"format": 2, "key": KEY, "sessions": [good, {"graph": str(graph), "options": {"fields": {}}}]},
        {"format": 2, "key": KEY, "sessions": [{"graph": str(graph), "options": {"fields": {}, "entries": {"a": 1}}}]},
        {"format": 2, "key": KEY, "sessions": [{"graph": "/nul\u0000/model.onnx", "options": recorded}]},
    ):
        if isinstance(broken, bytes):
            (tmp_path / RECORD).write_bytes(broken)
        else:
            (tmp_path / RECORD).write_text(broken if isinstance(broken, str) else json.dumps(broken))
        assert Prefetch.start(tmp_path, KEY) is None, broken
    # ... and the next record replaces a broken one, even one that is not text.
    remember(tmp_path, KEY, [(graph, recorded)])
    assert json.loads((tmp_path / RECORD).read_text())["sessions"] == [good]


def test_a_graph_that_fails_to_open_ahead_leaves_the_factory_to_open_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken, sound = _graph(tmp_path, "broken"), _graph(tmp_path, "sound")
    recorded = snapshot(_options())
    assert recorded is not None
    remember(tmp_path, KEY, [(broken, recorded), (sound, recorded)])
    broken.write_bytes(b"not a graph")
    prefetch = Prefetch.start(tmp_path, KEY)
    assert prefetch is not None
    assert prefetch.take(broken, recorded) is None
    assert f"opening {broken} ahead failed" in caplog.text
    session = prefetch.take(sound, recorded)  # the one after it still opened
    assert session is not None and session.get_inputs()[0].name == "x"
    prefetch.close(wait=True)


def test_a_cache_folder_reached_through_a_link_is_the_same_folder(tmp_path: Path) -> None:
    """Opened ahead under one name of the folder, taken under the other."""
    graph, recorded = _recorded(tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    prefetch = Prefetch.start(tmp_path / "link", KEY)
    assert prefetch is not None
    assert prefetch.take(tmp_path / "link" / graph.relative_to(tmp_path / "real"), recorded) is not None
    prefetch.close(wait=True)


def test_the_record_is_removed_when_start_up_opened_nothing_it_can_hold(tmp_path: Path) -> None:
    graph, recorded = _recorded(tmp_path)
    assert (tmp_path / RECORD).exists()
    remember(tmp_path, KEY, [])
    assert not (tmp_path / RECORD).exists()


def _record_after(daemon: DaemonProcess, cache: Path, previous: str) -> str:
    """The record once the daemon wrote it (after READY, on a thread): its text differs from
    ``previous`` or the daemon's log says start-up opened what the record holds."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = (cache / RECORD).read_text() if (cache / RECORD).exists() else ""
        if text and (text != previous or "opened ahead" in daemon.log.read_text()):
            return text
        time.sleep(0.05)
    raise AssertionError(f"no record written:\n{daemon.log.read_text()}")


def _speak(daemon: DaemonProcess, text: str) -> bytes:
    with daemon.connect() as conn:
        frames = conn.request({"op": "synthesize", "id": 1, "text": text, "cache": False})
    assert frames[-1]["type"] == "end", frames[-1]
    return audio_of(frames)


def test_the_next_start_takes_the_default_voice_opened_ahead_and_speaks_the_same(start_daemon: Any, model_cache: Path) -> None:
    """Start, stop, start again: the second start opens the voice's session ahead and the
    factory takes it; its audio is the same, sample for sample. A changed ``[cpu] spin`` is
    another start-up (nothing is opened ahead); the start after it takes what it recorded."""
    text = "The quick brown fox jumps over the lazy dog."
    record = (model_cache / RECORD).read_text() if (model_cache / RECORD).exists() else ""

    first = start_daemon()
    record = _record_after(first, model_cache, record)
    heard = _speak(first, text)
    first.stop()

    second = start_daemon()
    _record_after(second, model_cache, record)
    assert "(opened ahead, during start-up)" in second.log.read_text()
    assert _speak(second, text) == heard
    second.stop()

    changed = start_daemon("[cpu]\nspin = false\n")
    record = _record_after(changed, model_cache, record)
    assert "opened ahead" not in changed.log.read_text()
    assert json.loads(record)["sessions"][0]["options"]["entries"]["session.intra_op.allow_spinning"] == "0"
    assert _speak(changed, text) == heard
    changed.stop()

    again = start_daemon("[cpu]\nspin = false\n")
    _record_after(again, model_cache, record)
    assert "(opened ahead, during start-up)" in again.log.read_text()
    assert _speak(again, text) == heard


def test_a_broken_record_does_not_stop_the_daemon_and_is_replaced(start_daemon: Any, model_cache: Path) -> None:
    (model_cache / RECORD).write_text('{"format": 1, "key": ')
    daemon = start_daemon()
    record = _record_after(daemon, model_cache, '{"format": 1, "key": ')
    assert json.loads(record)["sessions"], record
    assert "Traceback" not in daemon.log.read_text()


def test_a_start_that_fails_while_a_session_opens_ahead_exits_with_its_own_status(
    start_daemon: Any, model_cache: Path, tmp_path: Path
) -> None:
    """A broken lexicon stops start-up (exit 2) while sessions are still opening ahead; the
    process waits for the one being opened rather than aborting in onnxruntime. The record
    names the default voice's graph twenty times, so the thread is surely still at work."""
    (model_cache / RECORD).unlink(missing_ok=True)  # so the record read below is this start's
    daemon = start_daemon()
    record = json.loads(_record_after(daemon, model_cache, ""))
    daemon.stop()
    record["sessions"] *= 20
    (model_cache / RECORD).write_text(json.dumps(record))
    try:
        _start_with_a_broken_lexicon(model_cache, tmp_path)
    finally:
        (model_cache / RECORD).unlink()  # twenty sessions would be opened by every later start


def _start_with_a_broken_lexicon(model_cache: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[words]\nfoo = 3\n")
    config = tmp_path / "c.toml"
    config.write_text(f'[lexicon]\nfiles = ["{bad}"]\n[cache]\ndir = "{model_cache}"\n')
    environment = {**os.environ, "LITETTSD_SYSTEM_CONFIG_DIR": str(tmp_path / "etc"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    result = subprocess.run(
        [str(BIN / "litettsd"), "--socket", str(tmp_path / "s.sock"), "--config", str(config), "--log-level", "debug"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert result.returncode == 2, result.stderr
    assert "words.foo" in result.stderr and "terminate called" not in result.stderr
    assert re.search(r"opening \S+ ahead$", result.stderr, re.MULTILINE)  # the thread was at work
    assert "sessions opened ahead and not used" in result.stderr
