"""The ``litettsd`` command's entry point: start-up runs with the cyclic garbage collector off.

Start-up creates some 300,000 objects (modules, classes, compiled patterns, plugin tables) and
nearly all of them live as long as the process. With the collector on, it walks them over and
over while they are being created: about 15 ms of a 0.35 s start to READY on a 2-core machine.
Once the daemon is READY, ``startup_finished`` moves them into the collector's permanent
generation, so the collections that follow (which may land in the middle of someone's speech)
only walk objects made since, and turns collection back on.

The daemon imports asyncio without TLS (``import_asyncio_without_tls``). Its event loop
imports ``ssl`` for TLS transports, and ``ssl`` loads and initialises OpenSSL: 5-8 ms of
start-up on a 2-core machine (medians of importing asyncio with and without it). The daemon
serves Unix sockets only, so it never needs TLS from its loop. ``ssl`` itself stays importable
afterwards for any code that wants it; only the daemon's asyncio refuses TLS connections
("Python ssl module is not available"). It is imported late in start-up, once the voice's
session is opening ahead (see ``prefetch``).
"""

from __future__ import annotations

import gc
import sys
from types import ModuleType


def main() -> int:
    """``litettsd``: see ``cli.main``."""
    gc.disable()
    from .cli import main as cli_main

    return cli_main()


def import_asyncio_without_tls() -> ModuleType:
    """asyncio, imported while ``import ssl`` fails (asyncio then goes without TLS) unless
    something imported either already; ``ssl`` is importable again afterwards."""
    if "ssl" in sys.modules or "asyncio" in sys.modules:  # too late to matter, or someone wants TLS
        import asyncio

        return asyncio
    sys.modules["ssl"] = None  # type: ignore[assignment]  # None makes the import system raise ImportError
    try:
        import asyncio
    finally:
        del sys.modules["ssl"]
    return asyncio


def startup_finished() -> None:
    """Freeze what start-up built and resume collection (a no-op when ``main`` did not start us)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
