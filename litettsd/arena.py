"""One onnxruntime CPU memory arena for every session of the process."""

from __future__ import annotations

import threading

_FIRST_REGION = 64 << 20
_SHARED = False
_LOCK = threading.Lock()


def share_arena() -> None:
    """Register one CPU memory arena for every session of the process, once.

    Each session would otherwise grow an arena of its own to the activations of its longest
    chunk and keep it: with Piper and Kokoro loaded that is two peaks side by side, though
    inferences run one at a time (peak RSS 602 MB -> 436 MB after a 20 s text each). The
    arena grows by regions that double in size, and freed blocks merge only within a region,
    so the size of the first one decides how scattered the activations get. Daemon peak after
    ``bench_core``'s 20 s text, Piper voice, by first region: 1 MB (the default) 319 MB, 16 MB
    314, 32 MB 298, 64 MB 282, 96 MB 294, 128 MB 286, 192 MB 282. An unused region costs
    address space, not memory.
    """
    global _SHARED
    from . import ort_capi

    with _LOCK:
        if _SHARED:
            return
        ort_capi.share_arena(_FIRST_REGION)
        _SHARED = True
