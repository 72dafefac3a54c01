"""onnxruntime threading for a daemon that must be fast when busy and silent when idle.

Intra-op threads follow the daemon's CPU plan (``litettsd/cpu.py``): one per physical core
among the CPUs the process is pinned to (systemd's ``CPUAffinity=``, ``taskset`` and
``[cpu] affinity`` narrow them), capped by the cgroup quota, not every CPU in the machine.

Spinning follows ``[cpu] spin``. Measured on the 2-core CI machine (onnxruntime 1.32):
spinning workers make a Piper synthesis about 5% faster, then spin for roughly 40 ms of CPU
after the last run of a burst and sleep; over 5 s of idleness the process used 1.2 ms of
CPU with spinning and without. So spinning costs nothing while idle and is on by default.
Inter-op threads are unused (sequential execution) and never spin.
"""

from __future__ import annotations

from typing import Any

from litettsd.config import Settings
from litettsd.hookspecs import hookimpl


@hookimpl
def litettsd_session_options(options: Any, settings: Settings, threads: int) -> None:
    import onnxruntime

    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if settings.cpu.spin else "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
