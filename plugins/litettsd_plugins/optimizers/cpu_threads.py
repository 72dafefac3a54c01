"""onnxruntime threading for a daemon that must be fast when busy and silent when idle.

Intra-op threads are sized to the CPUs this process may run on (its affinity mask, which
systemd's ``CPUAffinity=`` and ``taskset`` set), not to every CPU in the machine. Spinning
is switched off: by default onnxruntime's workers busy-wait after each run, which would
burn a core while a screen reader sits idle between utterances.
"""

from __future__ import annotations

import os
from typing import Any

from litettsd.hookspecs import hookimpl


def usable_cpus() -> int:
    """How many CPUs the process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


@hookimpl
def litettsd_session_options(options: Any) -> None:
    import onnxruntime

    options.intra_op_num_threads = usable_cpus()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
