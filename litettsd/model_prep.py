"""Derived model files: deterministic copies of models whose graphs draw random numbers.

Piper's VITS graphs call ``RandomNormalLike`` with no seed, so onnxruntime gives different
audio for the same phonemes on every run. That would make streamed and one-shot requests
differ, make the cache unsound and make tests and benchmarks irreproducible. We replace each
random node with a slice of one fixed noise table (same distribution, same cost), once, and
keep the result in the cache folder keyed by the source file and onnxruntime version.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PREP_VERSION = "1"
_NOISE_LENGTH = 1 << 20
_NOISE_SEED = 0x5EED
_RANDOM_OPS = {"RandomNormalLike", "RandomUniformLike"}


def _cache_key(source: Path) -> str:
    import onnxruntime

    stat = source.stat()
    ident = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{onnxruntime.__version__}|{PREP_VERSION}"
    return hashlib.sha256(ident.encode()).hexdigest()[:20]


def deterministic_model(source: Path, cache_dir: Path) -> Path:
    """The path of a model equivalent to ``source`` but free of unseeded random nodes."""
    target = cache_dir / "models" / f"{source.stem}.{_cache_key(source)}.onnx"
    if target.exists():
        return target
    import onnx

    model = onnx.load(str(source))
    if not any(node.op_type in _RANDOM_OPS for node in model.graph.node):
        return source
    _replace_random_nodes(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(f".tmp{os.getpid()}")
    onnx.save(model, str(temporary))
    os.replace(temporary, target)
    log.info("prepared deterministic model %s", target)
    return target


def _replace_random_nodes(model: object) -> None:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    assert isinstance(model, onnx.ModelProto)
    graph = model.graph
    rng = np.random.default_rng(_NOISE_SEED)
    tables = {
        "RandomNormalLike": numpy_helper.from_array(
            rng.standard_normal(_NOISE_LENGTH).astype(np.float32), "litettsd_noise_normal"
        ),
        "RandomUniformLike": numpy_helper.from_array(
            rng.random(_NOISE_LENGTH).astype(np.float32), "litettsd_noise_uniform"
        ),
    }
    constants = {
        "litettsd_zero": np.array([0], dtype=np.int64),
        "litettsd_noise_len": np.array([_NOISE_LENGTH], dtype=np.int64),
        "litettsd_noise_len_m1": np.array([_NOISE_LENGTH - 1], dtype=np.int64),
    }
    used_tables = set()
    new_nodes = []
    for index, node in enumerate(graph.node):
        if node.op_type not in _RANDOM_OPS:
            new_nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "RandomNormalLike":
            scale, offset = float(attrs.get("scale", 1.0)), float(attrs.get("mean", 0.0))
        else:
            low, high = float(attrs.get("low", 0.0)), float(attrs.get("high", 1.0))
            scale, offset = high - low, low
        table = tables[node.op_type].name
        used_tables.add(node.op_type)
        p = f"litettsd_rand{index}_"
        dtype = int(attrs.get("dtype", onnx.TensorProto.FLOAT))
        new_nodes += [
            helper.make_node("Shape", [node.input[0]], [p + "shape"]),
            helper.make_node("ReduceProd", [p + "shape"], [p + "count"], keepdims=1),
            helper.make_node("Add", [p + "count", "litettsd_noise_len_m1"], [p + "ceil"]),
            helper.make_node("Div", [p + "ceil", "litettsd_noise_len"], [p + "reps"]),
            helper.make_node("Tile", [table, p + "reps"], [p + "tiled"]),
            helper.make_node("Slice", [p + "tiled", "litettsd_zero", p + "count"], [p + "flat"]),
            helper.make_node("Reshape", [p + "flat", p + "shape"], [p + "unit"]),
            helper.make_node(
                "Constant", [], [p + "scale"], value=numpy_helper.from_array(np.array(scale, np.float32))
            ),
            helper.make_node(
                "Constant", [], [p + "offset"], value=numpy_helper.from_array(np.array(offset, np.float32))
            ),
            helper.make_node("Mul", [p + "unit", p + "scale"], [p + "scaled"]),
            helper.make_node("Add", [p + "scaled", p + "offset"], [p + "sample"]),
            helper.make_node("Cast", [p + "sample"], [node.output[0]], to=dtype),
        ]
    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.initializer.extend(tables[op] for op in sorted(used_tables))
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
