"""Which voices exist, which are loaded, and loading each one exactly once."""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from collections.abc import Iterable

from . import logs
from .api import Engine, EngineContext, Voice, VoiceInfo
from .errors import ErrorCode, RequestError

log = logging.getLogger(__name__)


MAX_BLENDS = 8
"""Blended voices kept loaded at once; another is mixed again (cheaply) when asked for."""


def _is_blend(voice_id: str) -> bool:
    return "+" in voice_id or "*" in voice_id


def blend_id(parts: list[str]) -> str:
    """One id for equal mixes however written ("a*1+b*1", "b*0.5+a*0.5" -> "a*0.5+b*0.5"), so
    they share one loaded voice and one cache entry: names sorted, repeats summed, parts of
    weight 0 dropped, weights normalised. An id made here comes out of it unchanged (weights
    that already add up to 1 are not divided again, which would drift in the last digit).
    Weights that are not numbers of 0 or more are left as written for the engine to refuse
    with its own message."""
    weights: dict[str, float] = {}
    for part in parts:
        name, star, written = part.partition("*")
        try:
            weight = float(written) if star else 1.0
        except ValueError:
            return "+".join(parts)
        if not math.isfinite(weight) or weight < 0:
            return "+".join(parts)
        weights[name.strip()] = weights.get(name.strip(), 0.0) + weight
    total = sum(weights.values())
    if not 0 < total < math.inf:
        return "+".join(parts)
    if abs(total - 1) < _NORMALISED:
        total = 1.0
    return "+".join(f"{name}*{weight / total:.6g}" for name, weight in sorted(weights.items()) if weight > 0)


_NORMALISED = 1e-4
"""Weights adding up to 1 within this are taken as normalised (rounding to 6 digits moves each by under 5e-7)."""


class VoiceRegistry:
    """Maps voice ids to engines and keeps loaded voices warm."""

    def __init__(self, engines: Iterable[Engine], context: EngineContext) -> None:
        self._engines = {engine.name: engine for engine in engines}
        self._context = context
        self._loaded: dict[str, Voice] = {}
        self._blends: OrderedDict[str, None] = OrderedDict()
        """Loaded blends, least recently used first; only ``MAX_BLENDS`` stay loaded."""
        self._loading: dict[str, asyncio.Task[Voice]] = {}
        self.failed: dict[str, str] = {}
        """Voices whose load failed, with the reason; not retried until the next reload."""
        self._offered: dict[str, list[VoiceInfo]] = {}

    def catalogue(self) -> list[VoiceInfo]:
        """Every voice every engine offers (each engine is asked once; cheap to call again)."""
        return [info for engine_name in self._engines for info in self._offered_by(engine_name)]

    def _offered_by(self, engine_name: str) -> list[VoiceInfo]:
        """One engine's voices, asked for on first need.

        Engine by engine, so that a full id (``piper:en_US-joe-medium``) is checked against its
        own engine's list alone: the default voice at start-up then never waits for Kokoro's,
        which opens its voice archive and imports importlib.metadata (~20 ms together).
        """
        offered = self._offered.get(engine_name)
        if offered is None:
            try:
                offered = list(self._engines[engine_name].discover(self._context))
            except Exception as exc:
                logs.failure(log, exc, "engine %s failed to list its voices", engine_name)
                offered = []
            self._offered[engine_name] = offered
        return offered

    @property
    def loaded(self) -> list[str]:
        """Ids of the voices loaded so far."""
        return sorted(self._loaded)

    def adopt(self, previous: VoiceRegistry) -> None:
        """Keep the previous registry's warm voices that this one still offers (same engines)."""
        for voice_id, voice in previous._loaded.items():
            try:
                engine, canonical = self.canonical(voice_id)
            except RequestError:
                continue  # removed by the new configuration; in-flight requests keep their reference
            if canonical == voice_id and previous._engines.get(engine.name) is engine:
                self._loaded[voice_id] = voice
                if voice_id in previous._blends:
                    self._blends[voice_id] = None

    def canonical(self, requested: str) -> tuple[Engine, str]:
        """The engine and full id for a requested id, bare name or blend."""
        requested = requested.strip()
        if not requested:
            raise RequestError(ErrorCode.INVALID_VALUE, "voice must not be empty")
        if "+" in requested or "*" in requested:
            engine_name = requested.split(":", 1)[0] if ":" in requested else "kokoro"
            parts = [part.strip() for part in requested.split("+")]
            requested = blend_id([p if ":" in p else f"{engine_name}:{p}" for p in parts])
        else:
            engine_name, colon, _ = requested.partition(":")
            offered = self._offered_by(engine_name) if colon and engine_name in self._engines else self.catalogue()
            known = {info.id: info for info in offered}
            if requested not in known:
                by_name = [info for info in known.values() if info.name == requested]
                if len(by_name) != 1:
                    raise RequestError(ErrorCode.UNKNOWN_VOICE, f"unknown voice {requested!r} (see `litetts voices`)")
                requested = by_name[0].id
            engine_name = requested.split(":", 1)[0]
        engine = self._engines.get(engine_name)
        if engine is None:
            raise RequestError(ErrorCode.UNKNOWN_VOICE, f"no engine {engine_name!r} for voice {requested!r}")
        return engine, requested

    async def get(self, requested: str) -> Voice:
        """The loaded voice, loading it in a worker thread on first use."""
        engine, voice_id = self.canonical(requested)
        voice = self._loaded.get(voice_id)
        if voice is not None:
            if voice_id in self._blends:
                self._blends.move_to_end(voice_id)
            return voice
        if voice_id in self.failed:
            raise RequestError(ErrorCode.INTERNAL, f"voice {voice_id} is disabled: {self.failed[voice_id]}")
        task = self._loading.get(voice_id)
        if task is None:
            task = asyncio.ensure_future(asyncio.to_thread(engine.load, voice_id, self._context))
            self._loading[voice_id] = task
            task.add_done_callback(lambda _: self._loading.pop(voice_id, None))
        try:
            voice = await asyncio.shield(task)
        except RequestError as exc:
            if exc.code in (ErrorCode.UNKNOWN_VOICE.value, ErrorCode.INVALID_VALUE.value):
                raise  # the request's mistake (a typo, a bad blend weight), not a broken voice
            self.failed[voice_id] = exc.message
            raise
        except Exception as exc:
            # A corrupt model or voice file disables that voice only; the others serve on.
            reason = f"{type(exc).__name__}: {exc}"
            self.failed[voice_id] = reason
            logs.failure(log, exc, "voice %s failed to load; disabled", voice_id)
            raise RequestError(ErrorCode.INTERNAL, f"voice {voice_id} failed to load: {reason}") from None
        self._loaded[voice_id] = voice
        if _is_blend(voice_id):
            # Every weight is a new blend: keep the recent few, so a client sweeping weights
            # cannot grow the daemon (each holds its own style table; the model is shared).
            self._blends[voice_id] = None
            while len(self._blends) > MAX_BLENDS:
                oldest, _ = self._blends.popitem(last=False)
                self._loaded.pop(oldest, None)
        return voice
