"""The one synthesis pipeline every front end goes through.

document (plain text or SSML) -> lexicon -> normalize -> runs -> clauses -> phonemize ->
chunk -> infer -> post-process -> encode. Everything from phonemization on runs step by
step on the inference thread, so the first audio leaves as soon as the first clause is
inferred; the event loop only forwards bytes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from . import logs, ssml
from .api import Encoder, EncoderFactory, MarkingVoice, NormalizeContext, Normalizer, Voice
from .audio import Resampler, fade_edges, shift_pitch, silence, time_stretch, to_int16
from .cache import AudioCache, CachedSynthesis, event_size
from .chunking import Chunk, spoken_length
from .config import Settings
from .document import Break, Document, Mark, Phonemes, Text, plain
from .errors import ErrorCode, RequestError
from .lexicon import Lexicon
from .messages import MAX_SPEED, MAX_VOLUME, MIN_SPEED, SynthesizeRequest
from .plugins import Plugins
from .scheduler import PRIORITIES, InferenceScheduler
from .script import Item, Run, Speak, Step, build_script, display, normalize_across_marks, steps, without_marks
from .voices import VoiceRegistry

log = logging.getLogger(__name__)

_INLINE_NORMALIZE_CHARS = 2000
"""Shorter texts are prepared on the event loop: a thread hop would cost more than the work."""
_MIN_PITCH, _MAX_PITCH = 0.5, 2.0


def _text_length(segment: object) -> int:
    """Characters of text (or IPA) a document segment holds; breaks and marks hold none."""
    if isinstance(segment, Text):
        return len(segment.text)
    return len(segment.ipa) if isinstance(segment, Phonemes) else 0


class Cancelled(Exception):
    """The request was cancelled; no more audio may be sent for it."""


class _Preempted(Exception):
    """A more urgent request aborted this chunk's inference; it will run again."""


class Cancellation:
    """Cancels one request: stops queued chunks and aborts the inference in progress."""

    def __init__(self) -> None:
        from .ort_capi import RunOptions

        self.cancelled = False
        self.run_options = RunOptions()
        self.on_progress: Callable[[], None] | None = None
        """Called on the event loop after each chunk: the server's request deadline counts from the last one."""

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
    progress: float = 1.0
    """Share of the request's text spoken once this audio is: 0 to 1, for progress displays."""


@dataclass(frozen=True)
class MarkReached:
    name: str
    offset: int
    """Sample index (at the output rate) where the mark falls."""


@dataclass(frozen=True)
class Finished:
    samples: int
    sample_rate: int
    synth_seconds: float
    warnings: list[str]
    cached: bool = False
    fallback: dict[str, str] | None = None
    """Set when the fallback voice spoke instead of the requested one: requested id and reason."""

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate


Event = Start | Audio | MarkReached | Finished
Output = bytes | MarkReached


def _carried_rate(factory: EncoderFactory, wanted: int) -> int:
    """``wanted``, or the nearest rate the format can carry (see ``EncoderFactory``)."""
    rates: tuple[int, ...] | None = getattr(factory, "sample_rates", None)
    if not rates or wanted in rates:
        return wanted
    return min(rates, key=lambda rate: (abs(rate - wanted), -rate))


@dataclass
class _Render:
    """Per-request state carried across steps on the inference thread."""

    voice: Voice
    request: SynthesizeRequest
    steps: Iterator[Step]
    encoder: Encoder
    resampler: Resampler | None
    cancellation: Cancellation
    pause: float = 0.0
    """Seconds of silence owed before the next chunk: the pause after the last one spoken."""
    retry: Speak | None = None
    """A chunk whose inference a more urgent request preempted; it runs first next time."""
    samples: int = 0
    """Samples sent, at the output rate."""
    fed: int = 0
    """Samples made, at the voice's rate: with a resampler, ``samples`` lags its share of them."""
    early: list[MarkReached] = field(default_factory=list)
    """Marks whose offset the resampler's output has not reached yet; sent once it has."""
    synth_seconds: float = field(default=0.0)
    text_chars: int = 0
    """How much normalized text the request speaks (``chunking.spoken_length``), for ``progress``."""
    spoken_chars: float = 0.0
    """Of that, how much has its audio made (``Chunk.letters``)."""

    def progress(self) -> float:
        # (rounded: shares of a cut clause may add up to a hair under the whole)
        return min(1.0, round(self.spoken_chars / self.text_chars, 6)) if self.text_chars else 1.0


class Pipeline:
    """Turns validated requests into audio events."""

    def __init__(
        self,
        settings: Settings,
        plugins: Plugins,
        voices: VoiceRegistry,
        scheduler: InferenceScheduler,
        cache: AudioCache,
    ) -> None:
        self.settings = settings
        self.plugins = plugins
        self.voices = voices
        self.scheduler = scheduler
        self.lexicon = Lexicon.load(settings.lexicon.files)
        self.cache = cache
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
            except Exception as exc:
                self.plugins.errors[plugin] += 1
                logs.failure(log, exc, "normalizer %s (plugin %s) failed; skipping it", normalizer.name, plugin)
        return text

    def _words_for(self, segment: Text, context: NormalizeContext, warnings: list[str]) -> str:
        if segment.say_as is None:
            return segment.text if segment.normalized else self.normalize_text(segment.text, context)
        words = self.plugins.manager.hook.litettsd_say_as(
            text=segment.text, interpret_as=segment.say_as, format=segment.say_as_format, context=context
        )
        if words is None:
            warnings.append(f"say-as interpret-as={segment.say_as!r} is not supported for {context.language}; read as text")
            return self.normalize_text(segment.text, context)
        if words == segment.text:  # it does not fit that reading ("$1,000" as a cardinal): read it as usual
            return self.normalize_text(segment.text, context)
        return str(words)

    def document(self, request: SynthesizeRequest) -> Document:
        """Plain text, SSML, or a single character or key, as segments."""
        if request.say_as is not None:
            return Document([Text(request.text, say_as=request.say_as)])
        if request.ssml:
            document = ssml.parse(request.text, request.ssml_strict)
            spoken = sum(_text_length(segment) for segment in document.segments)
            limit = self.settings.server.max_text_chars
            if spoken > limit:
                raise RequestError(
                    ErrorCode.TEXT_TOO_LONG, f"the SSML holds {spoken} characters of text; the limit is {limit}"
                )
            return document
        return plain(request.text)

    def _script(self, document: Document, context: NormalizeContext) -> list[Item]:
        segments = self.lexicon.apply(document.segments, context.language)
        segments = normalize_across_marks(segments, lambda text: self.normalize_text(text, context))
        return build_script(
            Document(segments, document.warnings), lambda s: self._words_for(s, context, document.warnings)
        )

    async def prepare(self, request: SynthesizeRequest, context: NormalizeContext) -> tuple[Document, list[Item]]:
        """The request's document (SSML parsed) and its script (lexicon and normalizers
        applied); on a worker thread for long texts, so other clients' requests go on."""

        def prepared() -> tuple[Document, list[Item]]:
            document = self.document(request)
            return document, self._script(document, context)

        if len(request.text) <= _INLINE_NORMALIZE_CHARS:
            return prepared()
        return await asyncio.to_thread(prepared)

    async def normalize(self, request: SynthesizeRequest) -> tuple[str, str]:
        """What the pipeline would speak: normalized text and the phonemes of each chunk."""
        voice = await self.voices.get(request.voice or self.settings.synthesis.default_voice)
        context = request.normalize_context(voice.info.language)
        _, script = await self.prepare(request, context)
        text = " ".join(display(without_marks(item.text)) for item in script if isinstance(item, Run))

        def phonemes() -> str:
            spoken = (step.chunk.phonemes for step in steps(script, voice) if isinstance(step, Speak))
            return " ".join(without_marks(chunk) for chunk in spoken)

        return text, await asyncio.to_thread(phonemes)

    async def synthesize(
        self, request: SynthesizeRequest, cancellation: Cancellation, warming: bool = False
    ) -> AsyncGenerator[Event, None]:
        """Yield Start, then Audio pieces and marks as chunks are made, then Finished.

        ``warming``: the daemon filling its own cache, whose lookups are not counted as misses.
        """
        # Before any await: a reload or flush_cache while this request waits for its voice or
        # its normalization empties the cache, and the audio it then makes (under the old
        # settings, for a reload) must stay out of it. Callers start iterating at once.
        generation = self.cache.generation
        factory = self.encoders.get(request.format)
        if factory is None:
            raise RequestError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"unsupported format {request.format!r}; available: {', '.join(sorted(self.encoders))}",
            )
        voice, fallback = await self._voice_or_fallback(request.voice or self.settings.synthesis.default_voice)
        document, script = await self.prepare(request, request.normalize_context(voice.info.language))
        native_rate = voice.info.sample_rate
        rate = _carried_rate(factory, request.sample_rate or native_rate)
        key = (
            voice.info.id, tuple(script), request.speed, request.pitch, request.volume,
            factory.format, rate, request.stream,
        )
        cached = self.cache.get(key, count=not warming) if request.cache and self.cache.max_bytes else None
        yield Start(sample_rate=rate, format=factory.format, voice=voice.info.id)
        if cached is not None:
            for event in cached.events:
                yield event  # type: ignore[misc]  # only Audio and MarkReached are stored
            yield Finished(cached.samples, rate, cached.synth_seconds, document.warnings, True, fallback)
            return
        render = _Render(
            voice=voice,
            request=request,
            steps=steps(script, voice),
            encoder=factory.open(rate, request.stream),
            resampler=Resampler(native_rate, rate) if rate != native_rate else None,
            cancellation=cancellation,
            text_chars=sum(spoken_length(item.text) for item in script if isinstance(item, Run)),
        )
        produced: list[Audio | MarkReached] | None = [] if request.cache and self.cache.max_bytes else None
        kept = 0
        async for event in self._render(render):
            if produced is not None:
                produced.append(event)
                kept += event_size(event)
                if kept > self.cache.largest_entry:
                    produced = None  # too big to cache: a long document's audio is not held twice
            yield event
        if produced is not None:
            entry = CachedSynthesis(tuple(produced), render.samples, render.synth_seconds)
            self.cache.put(key, entry, generation)
        yield Finished(render.samples, rate, render.synth_seconds, document.warnings, False, fallback)

    async def _voice_or_fallback(self, requested: str) -> tuple[Voice, dict[str, str] | None]:
        """The requested voice, or the configured fallback when the requested one is broken."""
        try:
            return await self.voices.get(requested), None
        except RequestError as exc:
            fallback = self.settings.synthesis.fallback_voice
            if exc.code == ErrorCode.UNKNOWN_VOICE.value or not fallback or fallback == requested:
                raise
            log.warning("voice %s unavailable (%s); using fallback %s", requested, exc.message, fallback)
            return await self.voices.get(fallback), {"requested": requested, "reason": exc.message}

    async def _render(self, render: _Render) -> AsyncGenerator[Audio | MarkReached, None]:
        """Run the steps on the inference thread, yielding audio and marks in order."""
        request = render.request
        priority = PRIORITIES[request.priority]
        held: list[bytes] = []
        marks: list[MarkReached] = []

        def next_outputs() -> tuple[list[Output], float] | None:
            # The progress read here, on the inference thread, is that of these outputs: the
            # next chunk may be running by the time the event loop sends them.
            outputs = self._render_next(render)
            return None if outputs is None else (outputs, render.progress())

        def preempt() -> None:
            # terminate is set only by cancel() and by this; a run it aborts without a
            # cancellation was preempted, and is redone (see _speak).
            render.cancellation.run_options.terminate = True

        # The inference thread runs the next chunk while this one is sent (see InferenceScheduler.stream).
        chunks = self.scheduler.stream(priority, next_outputs, preempt)
        progress = 0.0
        try:
            async for outputs, progress in chunks:
                if render.cancellation.on_progress is not None:
                    render.cancellation.on_progress()
                for output in outputs:
                    if isinstance(output, MarkReached):
                        if request.stream:
                            yield output
                        else:
                            marks.append(output)
                    elif output and request.stream:
                        yield Audio(output, progress)
                    elif output:
                        held.append(output)
        finally:
            chunks.close()
        tail = await asyncio.to_thread(self._finish, render)
        # Marks the resampler's output has not reached by rounding: at the very end.
        marks += [MarkReached(mark.name, min(mark.offset, render.samples)) for mark in render.early]
        if request.stream:
            # The last frame says 1.0 (``Audio.progress``): an empty one if the text's last
            # letters were in words with nothing to say.
            if tail or render.samples == 0 or progress < 1.0:
                yield Audio(tail)
            for mark in marks:
                yield mark
        else:
            yield Audio(b"".join(held) + tail)
            for mark in marks:
                yield mark

    def _render_next(self, render: _Render) -> list[Output] | None:
        """Perform steps up to and including the next inference (inference thread).

        Returns the encoded audio and marks in order, or ``None`` when the text is done.
        """
        if render.cancellation.cancelled:
            raise Cancelled()
        started = time.perf_counter()
        outputs: list[Output] = []
        rate = render.voice.info.sample_rate
        if render.retry is not None:
            retry, render.retry = render.retry, None
            return self._speak_or_defer(render, retry, outputs, started)
        for step in render.steps:
            if isinstance(step, Mark):
                outputs.extend(self._mark(render, step.name))
            elif isinstance(step, Break):
                # An explicit break replaces the automatic pause after the previous chunk.
                outputs.extend(self._emit(render, silence(max(step.seconds, render.pause), rate)))
                render.pause = 0.0
            else:
                return self._speak_or_defer(render, step, outputs, started)
        render.synth_seconds += time.perf_counter() - started
        return outputs or None

    def _speak_or_defer(self, render: _Render, step: Speak, outputs: list[Output], started: float) -> list[Output]:
        """Infer ``step``; if a more urgent request preempted it, keep it for the next turn."""
        try:
            outputs.extend(self._speak(render, step))
            render.spoken_chars += step.chunk.letters
        except _Preempted:
            render.retry = step
        render.synth_seconds += time.perf_counter() - started
        return outputs

    def _pause_after(self, chunk: Chunk, pace: float) -> float:
        """The configured pause after ``chunk``, shortened like the speech at ``pace`` (the
        request's speed times the chunk's SSML rate): fast speech with slow pauses between its
        sentences is not fast. An SSML ``<break>`` keeps the length it asks for."""
        if not chunk.pause:
            return 0.0
        synthesis = self.settings.synthesis
        return (synthesis.sentence_silence if chunk.ends_sentence else synthesis.clause_silence) / pace

    def _speak(self, render: _Render, step: Speak) -> list[Output]:
        """The chunk's audio, split at the marks inside it (each reported after the audio before it)."""
        request = render.request
        pitch = min(_MAX_PITCH, max(_MIN_PITCH, request.pitch * step.prosody.pitch))
        pace = min(MAX_SPEED, max(MIN_SPEED, request.speed * step.prosody.rate))
        # The pitch shift plays the audio ``pitch`` times faster, so the voice synthesizes that
        # much slower; within the speeds a model takes (what it cannot reach is stretched below).
        speed = min(MAX_SPEED, max(MIN_SPEED, pace / pitch))
        offsets: list[int] = []
        try:
            if step.marks:  # only voices that place marks get them inside a chunk (script.steps)
                voice = cast(MarkingVoice, render.voice)
                audio, offsets = voice.infer_marked(step.chunk.phonemes, speed, render.cancellation.run_options)
            else:
                audio = render.voice.infer(step.chunk.phonemes, speed, render.cancellation.run_options)
        except Exception:
            if render.cancellation.cancelled:
                raise Cancelled() from None
            if render.cancellation.run_options.terminate:
                render.cancellation.run_options.terminate = False
                raise _Preempted() from None
            raise
        rate = render.voice.info.sample_rate
        if pitch != 1.0:
            synthesized = audio.size
            audio = time_stretch(shift_pitch(audio, rate, pitch), pace / (speed * pitch))
            offsets = [round(offset * audio.size / synthesized) for offset in offsets] if synthesized else offsets
        # The request's volume is held to 0..4; SSML prosody multiplies into it, so bound the product too.
        audio = fade_edges(audio, rate)
        audio *= np.float32(min(MAX_VOLUME, request.volume * step.prosody.volume))
        lead = 0
        if render.pause:
            pause = silence(render.pause, rate)
            lead = pause.size
            audio = np.concatenate([pause, audio])
        render.pause = self._pause_after(step.chunk, pace)
        outputs: list[Output] = []
        start = 0
        for name, offset in zip(step.marks, offsets, strict=True):
            # A mark before the chunk's first phoneme falls before the pause, as between chunks.
            at = min(audio.size, lead + offset) if offset > 0 else 0
            if at > start:
                outputs.extend(self._emit(render, audio[start:at]))
                start = at
            outputs.extend(self._mark(render, name))
        outputs.extend(self._emit(render, audio[start:]))
        return outputs

    @staticmethod
    def _emit(render: _Render, audio: np.ndarray) -> list[Output]:
        """Encode the next audio, with each waiting mark it reaches after the samples before it."""
        render.fed += audio.size
        if render.resampler is not None:
            audio = render.resampler.process(audio)
        pcm = to_int16(audio)
        outputs: list[Output] = []
        done = 0
        while render.early and render.early[0].offset <= render.samples + pcm.size:
            cut = render.early[0].offset - render.samples
            if cut > done:
                outputs.append(render.encoder.encode(pcm[done:cut]))
                done = cut
            outputs.append(render.early.pop(0))
        outputs.append(render.encoder.encode(pcm[done:]))
        render.samples += pcm.size
        return outputs

    @staticmethod
    def _mark(render: _Render, name: str) -> list[MarkReached]:
        """A mark at the audio made so far: at once, or once a resampler's output reaches it."""
        if render.resampler is None:
            return [MarkReached(name, render.samples)]
        mark = MarkReached(name, round(render.fed * render.resampler.ratio))
        if render.early or mark.offset > render.samples:
            render.early.append(mark)
            return []
        return [mark]

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
