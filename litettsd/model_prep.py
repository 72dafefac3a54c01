"""Derived model files: graphs made deterministic, and made to say how long each phoneme lasts.

Piper's VITS graphs call ``RandomNormalLike`` with no seed, so onnxruntime gives different
audio for the same phonemes on every run. That would make streamed and one-shot requests
differ, make the cache unsound and make tests and benchmarks irreproducible. We replace each
random node with a slice of one fixed noise table (same distribution, same cost). Where the
slice starts depends on the input ids: were it the table's head for every sentence, every
sentence would draw the same values at the same positions, and one draw's bias would be every
sentence's (the first seed's made the joe voice's durations 1.3% longer than the average of
random draws, sentence after sentence). Per-ids windows are independent draws, as random
nodes give, while the same ids still give the same audio.

Piper's and Kokoro's graphs compute every phoneme's duration in frames and throw it away.
We add it as an output, ``DURATIONS_OUTPUT``: with it an SSML ``<mark/>`` inside a
sentence gets its exact sample offset from one inference of the whole sentence, where
without it the sentence would have to be cut at the mark, which breaks its intonation (and
Orca marks every word). The same durations before rounding, ``RAW_DURATIONS_OUTPUT``, tell
the engines how far rounding to whole frames kept them from the speed asked for.

Both changes are made once and the result kept in the cache folder, keyed by the source
file and the onnxruntime version. ``drop_shape_annotations`` also edits a graph with ``onnx``,
for the session factory's cache, in a child process for the same reason.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .audio import speed_shortfall, time_stretch
from .derived import flush_to_disk, mark_used, prune_unused
from .sdnotify import child_environment

log = logging.getLogger(__name__)

PREP_VERSION = "5"
_NOISE_LENGTH = 1 << 20
_NOISE_SEED = 0x5EED
_RANDOM_OPS = {"RandomNormalLike", "RandomUniformLike"}
_NOISE_KEY = "litettsd_noise_key"
_KEY_SCALE = 7919
DURATIONS_OUTPUT = "litettsd_durations"
"""The added output: frames per input id, shaped like the input ids."""
RAW_DURATIONS_OUTPUT = "litettsd_raw_durations"
"""The durations before the graph rounds them to whole frames (``audio.speed_shortfall``)."""
_DROP_SHAPES = "--drop-shape-annotations"
"""The child's first argument when it strips a graph rather than preparing a model."""


def cache_key(source: Path, *extra: str) -> str:
    """A short hash naming a file derived from ``source``.

    It changes when the source file is replaced or touched (path, size, mtime), when
    onnxruntime is upgraded (derived graphs may depend on what it supports) and when our own
    derivation changes (``PREP_VERSION``); ``extra`` carries whatever else the derived file
    depends on.
    """
    from .ort_capi import version

    stat = source.stat()
    ident = "|".join(
        (str(source.resolve()), str(stat.st_size), str(stat.st_mtime_ns), version(), PREP_VERSION, *extra)
    )
    return hashlib.sha256(ident.encode()).hexdigest()[:20]


def prepared_outputs(session: Any) -> list[str]:
    """What to ask a prepared graph's session for: its audio, then its durations after and
    before rounding when it has them (a graph without them just speaks)."""
    names = [output.name for output in session.get_outputs()]
    if DURATIONS_OUTPUT in names and RAW_DURATIONS_OUTPUT in names:
        return [names[0], DURATIONS_OUTPUT, RAW_DURATIONS_OUTPUT]
    return names[:1]


def run_prepared(
    session: Any,
    outputs: list[str],
    inputs: dict[str, np.ndarray],
    speed: float,
    run_options: Any,
    frames: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray | None]:
    """The audio of one inference at the speed asked for, even where rounding to whole frames
    (``frames``, the graph's own rounding) kept the model from it (``audio.speed_shortfall``),
    and each input's frames when the graph gives them."""
    results = session.run(outputs, inputs, run_options)
    audio = np.asarray(results[0], dtype=np.float32).reshape(-1)
    if len(results) == 1:
        return audio, None
    durations, raw = results[1], results[2]
    if speed != 1.0:
        audio = time_stretch(audio, speed_shortfall(durations, raw, speed, frames))
    return audio, durations


def prepared_model(source: Path, cache_dir: Path) -> Path:
    """The path of a model equivalent to ``source`` but free of unseeded random nodes, with
    its phoneme durations as an output when its graph has them (``source`` itself when there
    is nothing to change).

    The surgery runs once per source, in a child process: it needs the ``onnx`` package and
    the whole graph in memory (about 120 MB more peak RSS for a Piper voice), which would
    otherwise stay in the daemon's footprint until it restarts. A marker file records that a
    source needs no change, so that is not checked again on every start either.
    """
    target = cache_dir / "models" / f"{source.stem}.{cache_key(source)}.onnx"
    unchanged = target.with_suffix(".unchanged")
    if target.exists() or unchanged.exists():
        mark_used(target if target.exists() else unchanged)
    else:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # said here in one line, rather than as the child's traceback
            raise RuntimeError(
                f"cannot write to the cache folder {target.parent}: {exc.strerror}; "
                "set [cache] dir (or CACHE_DIRECTORY) to a writable folder"
            ) from None
        try:
            _in_child(str(source), str(target))
        except RuntimeError as exc:
            raise RuntimeError(f"cannot prepare {source}: {exc}") from None
        log.info("prepared %s", target if target.exists() else f"{source} (nothing to change, used as is)")
        made = target if target.exists() else unchanged
        # (not the source itself, which may live in the same folder: Kokoro's joined model)
        siblings = [path for path in target.parent.glob(f"{source.stem}.*") if path != source]
        prune_unused(made, siblings, "prepared model")
    return target if target.exists() else source


def drop_shape_annotations(graph: Path) -> None:
    """Remove the inferred shapes of intermediate values (``value_info``) saved with ``graph``.

    They are hints: loading the graph infers every value's type and shape again, and the
    audio is bit for bit the same without them (Piper's and Kokoro's graphs). Parsing them is
    not free: the constructor of ``InferenceSession`` on Piper's graph took 21-24 ms instead
    of 27-29 (4 fresh processes each, through onnxruntime's Python module), and start-up
    waits for that session (see ``prefetch``). Done in a child process, as
    ``onnx`` would otherwise stay in the daemon's memory; the graph is replaced in one step,
    so a failure leaves it as it was. Raises ``RuntimeError`` when the child fails.
    """
    _in_child(_DROP_SHAPES, str(graph))


def _in_child(*arguments: str) -> None:
    """Run this module with ``arguments`` in a child process; when it fails, raise
    ``RuntimeError`` with the last line of its traceback, which says what went wrong (the
    rest is logged for debugging)."""
    child = subprocess.run(
        [sys.executable, "-m", __name__, *arguments],
        capture_output=True, text=True, check=False, env=child_environment(),
    )  # fmt: skip
    if child.returncode != 0:
        log.debug("%s %s failed:\n%s", __name__, " ".join(arguments), child.stderr)
        lines = child.stderr.strip().splitlines() or ["(no message)"]
        raise RuntimeError(lines[-1])


def _drop_shape_annotations_here(graph: Path) -> None:
    import onnx

    model = onnx.load(str(graph), load_external_data=False)  # the weights stay where they are
    del model.graph.value_info[:]
    temporary = graph.with_name(f"{graph.name}.tmp{os.getpid()}")
    try:
        onnx.save(model, str(temporary))
        os.replace(temporary, graph)
    except BaseException:  # the graph stays as it was, and nothing is left beside it
        temporary.unlink(missing_ok=True)
        raise


def _prepare(source: Path, target: Path) -> None:
    """Write the changed graph to ``target``, or the marker if there is nothing to change."""
    import onnx

    model = onnx.load(str(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    random = any(node.op_type in _RANDOM_OPS for node in model.graph.node)
    timed = _expose_durations(model)
    if not (random or timed):
        target.with_suffix(".unchanged").touch()
        return
    if random:
        _replace_random_nodes(model)
    temporary = target.with_suffix(f".tmp{os.getpid()}")
    onnx.save(model, str(temporary))
    flush_to_disk(temporary)
    os.replace(temporary, target)


def _expose_durations(model: object) -> bool:
    """Add ``DURATIONS_OUTPUT`` when the graph holds the frames of each input id; True if added."""
    import onnx
    from onnx import helper

    assert isinstance(model, onnx.ModelProto)
    graph = model.graph
    tensors = _durations_tensors(graph)
    if tensors is None or any(output.name == DURATIONS_OUTPUT for output in graph.output):
        return False
    for tensor, name in zip(tensors, (DURATIONS_OUTPUT, RAW_DURATIONS_OUTPUT), strict=True):
        graph.node.append(helper.make_node("Identity", [tensor], [name]))
        graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return True


def _durations_tensors(graph: Any) -> tuple[str, str] | None:
    """VITS's ``w_ceil`` (the graph's one ``Ceil``), or Kokoro's ``round(duration).clamp(min=1)``
    (the ``Clip`` of its one ``Round``), each with the tensor it rounds. Engines use the figures
    as proportions of the audio's length, so a graph whose tensors are something else only
    misplaces its marks and misjudges its speed."""
    ceilings = [node for node in graph.node if node.op_type == "Ceil"]
    if len(ceilings) == 1:
        return str(ceilings[0].output[0]), str(ceilings[0].input[0])
    rounds = [node for node in graph.node if node.op_type == "Round"]
    if len(rounds) == 1:
        clips = [node for node in graph.node if node.op_type == "Clip" and node.input[0] == rounds[0].output[0]]
        if len(clips) == 1:
            return str(clips[0].output[0]), str(rounds[0].input[0])
    return None


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
        "litettsd_one": np.array([1], dtype=np.int64),
        "litettsd_noise_len": np.array([_NOISE_LENGTH], dtype=np.int64),
        "litettsd_noise_len_m1": np.array([_NOISE_LENGTH - 1], dtype=np.int64),
    }
    used_tables = set()
    new_nodes = _noise_key_nodes(graph, constants)
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
            # Tile copies its whole input even once: cut the table to the count first, so a
            # short phrase copies its own few thousand values and not the 4 MB table.
            helper.make_node("Min", [p + "count", "litettsd_noise_len"], [p + "head_len"]),
            # The window starts where the ids' key says, as far in as leaves room for it.
            helper.make_node("Sub", ["litettsd_noise_len", p + "head_len"], [p + "room"]),
            helper.make_node("Add", [p + "room", "litettsd_one"], [p + "starts"]),
            helper.make_node("Mod", [_NOISE_KEY, p + "starts"], [p + "start"]),
            helper.make_node("Add", [p + "start", p + "head_len"], [p + "end"]),
            helper.make_node("Slice", [table, p + "start", p + "end"], [p + "head"]),
            helper.make_node("Add", [p + "count", "litettsd_noise_len_m1"], [p + "ceil"]),
            helper.make_node("Div", [p + "ceil", "litettsd_noise_len"], [p + "reps"]),
            helper.make_node("Tile", [p + "head", p + "reps"], [p + "tiled"]),
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


def _noise_key_nodes(graph: Any, constants: dict[str, np.ndarray]) -> list[Any]:
    """Nodes computing ``_NOISE_KEY`` from the graph's phoneme ids (its first 2-D int64 input):
    the sum of their running sums, so that order counts and not just which ids, times a
    large odd number that spreads neighbouring keys over the table. A graph without such an
    input gets key 0: the table's head."""
    from onnx import TensorProto, helper

    ids = next(
        (
            tensor.name
            for tensor in graph.input
            if tensor.type.tensor_type.elem_type == TensorProto.INT64 and len(tensor.type.tensor_type.shape.dim) == 2
        ),
        None,
    )
    if ids is None:
        return [helper.make_node("Identity", ["litettsd_zero"], [_NOISE_KEY])]
    constants["litettsd_axis"] = np.array(1, dtype=np.int64)
    constants["litettsd_key_scale"] = np.array(_KEY_SCALE, dtype=np.int64)
    return [
        helper.make_node("CumSum", [ids, "litettsd_axis"], ["litettsd_ids_running"]),
        helper.make_node("ReduceSum", ["litettsd_ids_running"], ["litettsd_ids_sum"], keepdims=0),
        helper.make_node("Mul", ["litettsd_ids_sum", "litettsd_key_scale"], [_NOISE_KEY]),
    ]


if __name__ == "__main__":
    if sys.argv[1] == _DROP_SHAPES:
        _drop_shape_annotations_here(Path(sys.argv[2]))
    else:
        _prepare(Path(sys.argv[1]), Path(sys.argv[2]))
