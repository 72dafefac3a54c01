"""A bounded LRU cache of finished syntheses, replayed through the same frames.

Synthesis is deterministic (see model_prep), so a request that matches an earlier one in
every input that shapes the audio gets exactly the audio the pipeline would make again.
The key holds the voice, the prepared script (normalized text, IPA, marks, breaks,
prosody), speed, pitch, volume, format, output rate and streaming mode (streamed WAV and
FLAC headers differ from one-shot ones). Screen readers repeat the same short phrases
("button", "link") all day; those come back in well under a millisecond.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedSynthesis:
    """Everything needed to replay a synthesis: ordered outputs and the totals."""

    events: tuple[object, ...]
    """The pipeline's audio and mark events, in the order they were produced."""
    samples: int
    synth_seconds: float

    @property
    def size(self) -> int:
        return sum(map(event_size, self.events))


def event_size(event: object) -> int:
    """What one stored event counts against the cache: its audio bytes plus a fixed overhead."""
    return len(getattr(event, "data", b"")) + 64


class AudioCache:
    """LRU by total encoded bytes; safe to use from the event loop and worker threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, CachedSynthesis] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.generation = 0
        """Bumped by :meth:`clear`: audio begun before a clear must not be stored after it."""

    def get(self, key: Hashable, count: bool = True) -> CachedSynthesis | None:
        """The cached synthesis, marked as most recently used; counts a hit or a miss unless
        ``count`` is false (the daemon's own pre-caching is not a client's lookup)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            if count:
                self.hits += entry is not None
                self.misses += entry is None
            return entry

    @property
    def largest_entry(self) -> int:
        """Bytes above which an entry is not kept: a quarter of the cache."""
        return self.max_bytes // 4

    def put(self, key: Hashable, entry: CachedSynthesis, generation: int) -> None:
        """Store an entry made since ``generation``, evicting the least recently used.

        Entries over a quarter of the cache are not kept, nor entries begun before the last
        :meth:`clear` (a reload's new pauses or lexicon are not part of the key).
        """
        if entry.size > self.largest_entry:
            return
        with self._lock:
            if generation != self.generation:
                return
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous.size
            self._entries[key] = entry
            self._bytes += entry.size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def clear(self) -> None:
        """Drop every entry (the counters stay)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.generation += 1

    def resize(self, max_bytes: int) -> None:
        """Apply a new size limit, evicting as needed."""
        with self._lock:
            self.max_bytes = max_bytes
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def stats(self) -> dict[str, int]:
        """Counters for ``status`` and metrics."""
        with self._lock:
            return {
                "entries": len(self._entries),
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
                "hits": self.hits,
                "misses": self.misses,
            }
