"""The one synthesis pipeline every front end goes through.

normalize -> split into clauses -> phonemize -> chunk -> infer -> post-process -> encode.
Everything after normalization runs chunk by chunk on the inference thread, so the first
audio leaves as soon as the first clause is inferred; the event loop only forwards bytes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field

import numpy as np

from .api import Encoder, EncoderFactory, NormalizeContext, Normalizer, Voice
from .audio import Resampler, fade_edges, silence, to_int16
from .chunking import Chunk, plan_chunks, split_clauses
from .config import Settings
from .errors import ErrorCode, RequestError
from .messages import SynthesizeRequest
from .plugins import Plugins
from .scheduler import PRIORITIES, InferenceScheduler
from .voices import VoiceRegistry

log = logging.getLogger(__name__)

_INLINE_NORMALIZE_CHARS = 2000
"""Shorter texts are normalized on the event loop: a thread hop would cost more than the work."""


class Cancelled(Exception):
    """The request was cancelled; no more audio may be sent for it."""


class Cancellation:
    """Cancels one request: stops queued chunks and aborts the inference in progress."""

    def __init__(self) -> None:
        import onnxruntime

        self.cancelled = False
        self.run_options = onnxruntime.RunOptions()

    def cancel(self) -> None:
        """Idempotent; safe from the event loop while the inference thread runs."""
        self.cancelled = True
        self.run_options.terminate = True


@dataclass(frozen=True)
class Start:
    sample_rate: int
    format: str
    voice: str


@dataclass(frozen=True)
class Audio:
    data: bytes


@dataclass(frozen=True)
class Finished:
    samples: int
    sample_rate: int
    synth_seconds: float
    cached: bool = False

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate


Event = Start | Audio | Finished


@dataclass
class _Render:
    """Per-request state carried across chunks on the inference thread."""

    voice: Voice
    request: SynthesizeRequest
    chunks: Iterator[Chunk]
    encoder: Encoder
    resampler: Resampler | None
    cancellation: Cancellation
    previous: Chunk | None = None
    samples: int = 0
    synth_seconds: float = field(default=0.0)


class Pipeline:
    """Turns validated requests into audio events."""

    def __init__(
        self,
        settings: Settings,
        plugins: Plugins,
        voices: VoiceRegistry,
        scheduler: InferenceScheduler,
    ) -> None:
        self.settings = settings
        self.plugins = plugins
        self.voices = voices
        self.scheduler = scheduler
        self.encoders: dict[str, EncoderFactory] = {
            factory.format: factory for _, factory in plugins.collect("litettsd_register_encoders")
        }
        self.normalizers: list[tuple[str, Normalizer]] = sorted(
            plugins.collect("litettsd_register_normalizers", settings=settings), key=lambda pair: pair[1].order
        )

    def normalize_text(self, text: str, context: NormalizeContext) -> str:
        """Run the normalizer chain; a failing normalizer is skipped, logged and counted."""
        for plugin, normalizer in self.normalizers:
            try:
                text = normalizer.normalize(text, context)
            except Exception:
                self.plugins.errors[plugin] += 1
                log.exception("normalizer %s (plugin %s) failed; skipping it", normalizer.name, plugin)
        return text

    async def _normalize(self, text: str, context: NormalizeContext) -> str:
        if len(text) <= _INLINE_NORMALIZE_CHARS:
            return self.normalize_text(text, context)
        return await asyncio.to_thread(self.normalize_text, text, context)

    async def normalize(self, text: str, voice_id: str | None) -> tuple[str, str]:
        """What the pipeline would speak: normalized text and the phonemes of each chunk."""
        voice = await self.voices.get(voice_id or self.settings.synthesis.default_voice)
        normalized = await self._normalize(text, NormalizeContext(language=voice.info.language))

        def phonemes() -> str:
            return " ".join(chunk.phonemes for chunk in plan_chunks(split_clauses(normalized), voice))

        return normalized, await asyncio.to_thread(phonemes)

    async def synthesize(self, request: SynthesizeRequest, cancellation: Cancellation) -> AsyncGenerator[Event, None]:
        """Yield Start, then Audio pieces as chunks are made, then Finished."""
        factory = self.encoders.get(request.format)
        if factory is None:
            raise RequestError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"unsupported format {request.format!r}; available: {', '.join(sorted(self.encoders))}",
            )
        voice = await self.voices.get(request.voice or self.settings.synthesis.default_voice)
        text = await self._normalize(request.text, NormalizeContext(language=voice.info.language))
        native_rate = voice.info.sample_rate
        rate = request.sample_rate or native_rate
        render = _Render(
            voice=voice,
            request=request,
            chunks=plan_chunks(split_clauses(text), voice),
            encoder=factory.open(rate, request.stream),
            resampler=Resampler(native_rate, rate) if rate != native_rate else None,
            cancellation=cancellation,
        )
        yield Start(sample_rate=rate, format=factory.format, voice=voice.info.id)
        priority = PRIORITIES[request.priority]
        held: list[bytes] = []

        def next_piece() -> bytes | None:
            return self._render_next(render)

        # The next chunk is queued before this one is sent, so the inference thread never
        # idles while the event loop writes audio to a slow socket.
        pending = self.scheduler.submit(priority, next_piece)
        try:
            while (piece := await pending) is not None:
                pending = self.scheduler.submit(priority, next_piece)
                if piece and request.stream:
                    yield Audio(piece)
                elif piece:
                    held.append(piece)
        finally:
            pending.cancel()
        tail = await asyncio.to_thread(self._finish, render)
        if request.stream:
            if tail or render.samples == 0:
                yield Audio(tail)
        else:
            yield Audio(b"".join(held) + tail)
        yield Finished(samples=render.samples, sample_rate=rate, synth_seconds=render.synth_seconds)

    def _render_next(self, render: _Render) -> bytes | None:
        """Infer and encode the next chunk (inference thread); ``None`` when the text is done."""
        if render.cancellation.cancelled:
            raise Cancelled()
        started = time.perf_counter()
        chunk = next(render.chunks, None)
        if chunk is None:
            return None
        try:
            audio = render.voice.infer(chunk.phonemes, render.request.speed, render.cancellation.run_options)
        except Exception:
            if render.cancellation.cancelled:
                raise Cancelled() from None
            raise
        rate = render.voice.info.sample_rate
        audio = fade_edges(audio, rate) * np.float32(render.request.volume)
        if render.previous is not None:
            synthesis = self.settings.synthesis
            gap = synthesis.sentence_silence if render.previous.ends_sentence else synthesis.clause_silence
            audio = np.concatenate([silence(gap, rate), audio])
        render.previous = chunk
        if render.resampler is not None:
            audio = render.resampler.process(audio)
        pcm = to_int16(audio)
        render.samples += pcm.size
        encoded = render.encoder.encode(pcm)
        render.synth_seconds += time.perf_counter() - started
        return encoded

    @staticmethod
    def _finish(render: _Render) -> bytes:
        tail = b""
        if render.resampler is not None:
            pcm = to_int16(render.resampler.process(np.zeros(0, dtype=np.float32), last=True))
            render.samples += pcm.size
            tail = render.encoder.encode(pcm)
        return tail + render.encoder.finish()

    def describe_formats(self) -> list[str]:
        """Format names for ``hello``."""
        return sorted(self.encoders)


