"""Hook specifications: every way a plugin can extend litettsd.

Plugins implement these with ``pluggy.HookimplMarker("litettsd")`` (exported here as
``hookimpl``) and register through the ``litettsd`` entry-point group. First-party
plugins in ``litettsd_plugins`` use exactly the same route.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .api import EncoderFactory, Engine, NormalizeContext, Normalizer, RequestRecord
    from .config import Settings
    from .ort_capi import SessionOptions

hookspec = pluggy.HookspecMarker("litettsd")
hookimpl = pluggy.HookimplMarker("litettsd")

__all__ = ["hookimpl", "hookspec"]


@hookspec
def litettsd_register_engines(settings: Settings) -> Iterable[Engine] | None:
    """Return voice engines (objects following ``litettsd.api.Engine``)."""


@hookspec
def litettsd_register_normalizers(settings: Settings) -> Iterable[Normalizer] | None:
    """Return text normalizers; the pipeline runs all of them in ``order``."""


@hookspec(firstresult=True)
def litettsd_say_as(text: str, interpret_as: str, format: str | None, context: NormalizeContext) -> str | None:
    """Return the words for SSML ``say-as`` text (or a ``char``/``key`` request), or None if unknown; firstresult."""


@hookspec
def litettsd_register_encoders() -> Iterable[EncoderFactory] | None:
    """Return audio output formats (objects following ``litettsd.api.EncoderFactory``)."""


@hookspec
def litettsd_session_options(
    engine: str, options: SessionOptions, settings: Settings, threads: int
) -> None:
    """Adjust onnxruntime session options for an engine's model; ``threads`` is the CPU plan's intra-op count."""


@hookspec
def litettsd_request_finished(record: RequestRecord) -> None:
    """Observe one finished request (timings, sizes, outcome)."""


@hookspec
def litettsd_metrics(status: dict[str, Any]) -> dict[str, Any] | None:
    """Return this plugin's metrics for the ``metrics`` op, given the daemon's current ``status``."""


@hookspec
def litettsd_config_schema() -> type | None:
    """Return a dataclass for this plugin's ``[plugins.<name>]`` table; litettsd checks the table against it."""
