"""onnxruntime threading for a daemon that must be fast when busy and silent when idle.

Intra-op threads follow the daemon's CPU plan (``litettsd/cpu.py``): one per physical core
among the CPUs the process is pinned to (systemd's ``CPUAffinity=``, ``taskset`` and
``[cpu] affinity`` narrow them), capped by the cgroup quota, not every CPU in the machine.

Spinning follows ``[cpu] spin``. Measured on the 2-core CI machine (onnxruntime 1.32):
without it, Piper's corpus took 1.09x as long, so it is on by default. But a worker left to
itself spins for tens of milliseconds whenever it runs out of work: ~60 ms from the moment
the pool is created, while start-up still imports and opens the session on both cores (a
third busy thread on two cores), and ~27 ms of CPU after every request. So a worker spins at
most 1 ms (``spin_duration_us``), which is plenty between the parallel sections of one run,
and stops as soon as a run returns (``force_spinning_stop``). With the spin bounded, exec to
READY took 0.93x as long (13 alternating starts, median 244 -> 226 ms) and the corpus as long
(0.99-1.00x, 9 rounds). Inter-op threads are unused (sequential execution) and never spin.

Kokoro's weights are pre-packed on all intra-op threads (``session.prepack.enable_parallel``):
its int8 matrices take ~80 ms to pack, and packing them on two threads made its lazy first
load 0.89x as long (197 -> 176 ms, 9 paired fresh processes, same audio bit for bit). Piper's
few weights pack slower that way (85 -> 92 ms), so Piper packs on one.
"""

from __future__ import annotations

from typing import Any

from litettsd.config import Settings
from litettsd.hookspecs import hookimpl

_PARALLEL_PREPACK_ENGINES = frozenset({"kokoro"})
_SPIN_MICROSECONDS = "1000"
"""Longest an idle intra-op worker spins before it sleeps (an onnxruntime without the entry
ignores it, and spins as before)."""


@hookimpl
def litettsd_session_options(engine: str, options: Any, settings: Settings, threads: int) -> None:
    from litettsd.ort_capi import ExecutionMode, GraphOptimizationLevel

    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if settings.cpu.spin else "0")
    options.add_session_config_entry("session.intra_op.spin_duration_us", _SPIN_MICROSECONDS)
    options.add_session_config_entry("session.force_spinning_stop", "1")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if engine in _PARALLEL_PREPACK_ENGINES and threads > 1:
        options.add_session_config_entry("session.prepack.enable_parallel", "1")
