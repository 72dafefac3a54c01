"""onnxruntime through its C API (``litettsd.ort_capi``), checked against onnxruntime's own
Python module on real graphs: same outputs, same errors caught, options that take effect."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

from litettsd import ort_capi
from litettsd_client import Client

from .conftest import DaemonProcess


def _graph(folder: Path) -> Path:
    """``scaled = x * scale`` (float32) and ``count = Size(ids)`` (int64): two inputs, two outputs of two types."""
    nodes = [helper.make_node("Mul", ["x", "scale"], ["scaled"]), helper.make_node("Size", ["ids"], ["count"])]
    graph = helper.make_graph(
        nodes,
        "two",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info("ids", TensorProto.INT64, [None]),
        ],
        [
            helper.make_tensor_value_info("scaled", TensorProto.FLOAT, [None, 3]),
            helper.make_tensor_value_info("count", TensorProto.INT64, []),
        ],
    )
    path = folder / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


FEED = {
    "x": np.arange(6, dtype=np.float32).reshape(2, 3),
    "scale": np.array([0.5], dtype=np.float32),
    "ids": np.array([3, 1, 4, 1, 5], dtype=np.int64),
}


def test_a_session_gives_what_onnxruntimes_python_module_gives(tmp_path: Path) -> None:
    path = _graph(tmp_path)
    session = ort_capi.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x", "scale", "ids"]
    assert [o.name for o in session.get_outputs()] == ["scaled", "count"]
    ours = session.run(None, FEED)
    theirs = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, FEED)
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine.dtype == reference.dtype and mine.shape == reference.shape
        assert np.array_equal(mine, reference)
    (count,) = session.run(["count"], FEED)  # a subset, by name
    assert count.shape == () and int(count) == 5
    assert ort_capi.version() == onnxruntime.__version__


def test_outputs_are_copies_that_outlive_the_run(tmp_path: Path) -> None:
    session = ort_capi.InferenceSession(_graph(tmp_path))
    first = session.run(["scaled"], FEED)[0]
    session.run(["scaled"], {**FEED, "scale": np.array([9.0], dtype=np.float32)})
    assert first.tolist() == [[0.0, 0.5, 1.0], [1.5, 2.0, 2.5]]
    assert first.flags.owndata and first.flags.writeable


def test_onnxruntimes_refusals_come_back_as_errors_with_its_message(tmp_path: Path) -> None:
    with pytest.raises(ort_capi.OrtError, match="No such file|doesn't exist|not exist"):
        ort_capi.InferenceSession(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(ort_capi.OrtError):
        ort_capi.InferenceSession(tmp_path / "junk.onnx")
    session = ort_capi.InferenceSession(_graph(tmp_path))
    with pytest.raises(ort_capi.OrtError, match="wrong"):
        session.run(None, {**FEED, "wrong": FEED["x"]})
    with pytest.raises(ort_capi.OrtError, match="unsupported input type"):
        session.run(None, {**FEED, "x": FEED["x"].astype(np.complex64)})
    with pytest.raises(ort_capi.OrtError):  # int32 where the graph takes int64
        session.run(None, {**FEED, "ids": FEED["ids"].astype(np.int32)})
    with pytest.raises(ort_capi.OrtError, match="CPU"):
        ort_capi.InferenceSession(_graph(tmp_path), providers=["CUDAExecutionProvider"])
    assert session.run(["count"], FEED)[0] == 5  # and the session still works


def test_options_take_effect_when_the_session_opens(tmp_path: Path) -> None:
    options = ort_capi.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort_capi.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(tmp_path / "saved.onnx")
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    ort_capi.InferenceSession(_graph(tmp_path), options)
    assert onnx.load(str(tmp_path / "saved.onnx")).graph.node  # the optimized graph was written
    bad = ort_capi.SessionOptions()
    bad.graph_optimization_level = 7  # type: ignore[assignment]
    with pytest.raises(ort_capi.OrtError, match="not valid"):
        ort_capi.InferenceSession(_graph(tmp_path), bad)
    with pytest.raises(ort_capi.OrtError, match="never.set"):
        options.get_session_config_entry("never.set")
    with pytest.raises(AttributeError):  # not silently ignored
        options.enable_mem_reuse = False  # type: ignore[attr-defined]


def test_terminate_aborts_a_run_from_another_thread_and_can_be_unset(tmp_path: Path) -> None:
    """The flag is onnxruntime's own: set while ``run`` waits in native code, it stops it."""
    # A graph slow enough to be caught running: a long chain of matrix products.
    size, depth = 256, 400
    nodes, name = [], "x"
    for index in range(depth):
        nodes.append(helper.make_node("MatMul", [name, "w"], [f"m{index}"]))
        name = f"m{index}"
    weight = helper.make_tensor("w", TensorProto.FLOAT, [size, size], np.full(size * size, 1e-3, np.float32).tolist())
    graph = helper.make_graph(
        nodes, "slow", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [size, size])], [weight],
    )  # fmt: skip
    path = tmp_path / "slow.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    session = ort_capi.InferenceSession(path)
    feed = {"x": np.ones((size, size), np.float32)}
    started = time.perf_counter()
    session.run(None, feed)
    whole = time.perf_counter() - started
    run_options = ort_capi.RunOptions()
    threading.Timer(whole / 4, lambda: setattr(run_options, "terminate", True)).start()
    with pytest.raises(ort_capi.OrtError, match="terminate"):
        session.run(None, feed, run_options)
    assert run_options.terminate
    run_options.terminate = False
    assert session.run(None, feed, run_options)[0].shape == (size, size)


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def test_runs_release_what_they_allocate(tmp_path: Path) -> None:
    """Every run creates an OrtValue per output, holding onnxruntime's own copy of its data;
    each must be released once copied out. A leak would hold 300 x 400 KB here."""
    session = ort_capi.InferenceSession(_graph(tmp_path))
    feed = {**FEED, "x": np.ones((100_000 // 3, 3), np.float32)}
    for _ in range(20):
        session.run(None, feed, ort_capi.RunOptions())
    before = _resident_bytes()
    for _ in range(300):
        session.run(None, feed, ort_capi.RunOptions())
    assert _resident_bytes() - before < 30 << 20


def test_the_daemon_runs_on_the_c_library_and_never_loads_the_python_module(daemon: DaemonProcess) -> None:
    """The point of ``ort_capi``: onnxruntime's Python module (its pybind11 extension) stays
    out of the daemon, which synthesizes through ``libonnxruntime.so`` alone."""
    with Client(str(daemon.socket)) as client:
        assert b"".join(client.synthesize("Checking which library speaks."))
    maps = Path(f"/proc/{daemon.proc.pid}/maps").read_text()
    assert "libonnxruntime.so" in maps
    assert "onnxruntime_pybind11_state" not in maps


def test_what_would_crash_or_mislead_the_c_library_is_refused(tmp_path: Path) -> None:
    """A copied session would release its handle twice; a thread count past a C int would
    wrap; a NUL would cut a path short. Each is refused before it reaches onnxruntime."""
    import copy
    import pickle

    session = ort_capi.InferenceSession(_graph(tmp_path))
    for duplicate in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError):
            duplicate(session)
        with pytest.raises(TypeError):
            duplicate(ort_capi.RunOptions())
    options = ort_capi.SessionOptions()
    options.intra_op_num_threads = 2**32 + 1
    with pytest.raises(ort_capi.OrtError, match="out of range"):
        ort_capi.InferenceSession(tmp_path / "two.onnx", options)
    with pytest.raises(ort_capi.OrtError, match="NUL"):
        ort_capi.InferenceSession(str(tmp_path / "two.onnx") + "\0junk")
    assert session.run(["count"], FEED)[0] == 5
