"""Where the daemon's socket lives when nobody says otherwise."""

from __future__ import annotations

import os
from pathlib import Path

SOCKET_ENV = "LITETTSD_SOCKET"
SOCKET_NAME = "litettsd.sock"


def default_socket_path(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """The socket path both daemon and clients agree on (see docs/protocol.md)."""
    env = os.environ if environ is None else environ
    override = env.get(SOCKET_ENV)
    if override:
        return Path(override)
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "litettsd" / SOCKET_NAME
    if os.geteuid() == 0:
        return Path("/run/litettsd") / SOCKET_NAME
    return Path(f"/tmp/litettsd-{os.geteuid()}") / SOCKET_NAME
