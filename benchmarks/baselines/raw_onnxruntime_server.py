"""Plain onnxruntime as a baseline: ``raw_onnxruntime_server.py MODEL.onnx FEEDS.pkl RATE [--optimized]``.

Runs with litettsd's own interpreter. FEEDS.pkl maps a text's key to the exact per-chunk
model inputs the daemon feeds for that text (captured by ``bench_core.raw_feeds``); a
request ``{"text": KEY}`` runs them in order through a session with onnxruntime's default
options and the daemon's thread count. What is left is the floor: no text processing, no
socket, no encoding.

``--optimized`` says MODEL is already an optimized graph (the daemon's cached one), so it is
loaded with graph optimization off, as the daemon loads it: the start-up floor, the least any
Python process needs to import onnxruntime, open that graph and synthesize once.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from collections.abc import Iterator
from typing import Any

from _serve import Synthesizer, serve

import numpy as np
import onnxruntime

IMPORTED = time.perf_counter()


def load() -> tuple[Synthesizer, int]:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    if "--optimized" in sys.argv[4:]:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(sys.argv[1], sess_options=options, providers=["CPUExecutionProvider"])
    with open(sys.argv[2], "rb") as handle:
        feeds: dict[str, list[dict[str, np.ndarray]]] = pickle.load(handle)

    def synthesize(request: dict[str, Any]) -> Iterator[int]:
        for feed in feeds[request["text"]]:
            yield int(np.asarray(session.run(None, feed)[0]).size)

    return synthesize, int(sys.argv[3])


if __name__ == "__main__":
    serve(IMPORTED, load)
