"""Client side of litettsd: the wire codec, sync and async clients, the ``litetts`` CLI.

Names are imported on first use, so the daemon (which needs only the codec and the
socket path) and the CLI's start-up do not pay for the parts they do not touch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aio import AsyncClient
    from .client import Client, SynthesisResult
    from .paths import default_socket_path
    from .protocol import PROTOCOL_VERSION, ErrorCode, LitettsError

__version__ = "0.1.0"

_LAZY = {
    "AsyncClient": "aio",
    "Client": "client",
    "SynthesisResult": "client",
    "default_socket_path": "paths",
    "PROTOCOL_VERSION": "protocol",
    "ErrorCode": "protocol",
    "LitettsError": "protocol",
}

__all__ = [
    "AsyncClient",
    "Client",
    "ErrorCode",
    "LitettsError",
    "PROTOCOL_VERSION",
    "SynthesisResult",
    "default_socket_path",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
