"""The one exception type the daemon turns into ``{type: "error", code, message}`` replies."""

from __future__ import annotations

from litettsd_client.protocol import ErrorCode, LitettsError

__all__ = ["ErrorCode", "RequestError", "StartupError"]


class RequestError(LitettsError):
    """A request failed in a way the client should be told about, with a protocol code."""


class StartupError(Exception):
    """The daemon cannot start; the message says why and what to do."""
