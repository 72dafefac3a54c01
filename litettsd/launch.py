"""The ``litettsd`` command's entry point: start-up runs with the cyclic garbage collector off.

Start-up creates some 300,000 objects (modules, classes, compiled patterns, plugin tables) and
nearly all of them live as long as the process. With the collector on, it walks them over and
over while they are being created: about 15 ms of a 0.35 s start to READY on a 2-core machine.
Once the daemon is READY, ``startup_finished`` moves them into the collector's permanent
generation, so the collections that follow (which may land in the middle of someone's speech)
only walk objects made since, and turns collection back on.
"""

from __future__ import annotations

import gc


def main() -> int:
    """``litettsd``: see ``cli.main``."""
    gc.disable()
    from .cli import main as cli_main

    return cli_main()


def startup_finished() -> None:
    """Freeze what start-up built and resume collection (a no-op when ``main`` did not start us)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
