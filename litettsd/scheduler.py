"""One inference thread fed in priority order.

Inference is CPU-bound and already parallel inside onnxruntime, so running two models at
once would only make both slower. A single worker takes jobs (one chunk each) from a
priority queue. A job may come with a ``preempt`` callback: when a more urgent job arrives
while it runs, the callback aborts its inference (onnxruntime's ``RunOptions.terminate``)
and the job queues itself again, so a screen reader's ``important`` or ``message`` request
waits neither for a long ``text`` request nor for the chunk it is in the middle of.
Inference is deterministic, so the re-run gives the same audio. The worker blocks on the
queue when idle; it never polls.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

PRIORITIES = {"important": 0, "message": 1, "text": 2, "notification": 3, "progress": 4, "background": 9}
"""speech-dispatcher's message classes, most urgent first, then ``background`` (cache warming)."""

_STOP = (float("inf"), 0, None, None, None)


class InferenceScheduler:
    """Runs callables on the inference thread, most urgent first, FIFO within a priority."""

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue[tuple[float, int, Any, Any, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._running: tuple[float, Callable[[], None] | None] | None = None
        """Priority and preempt callback of the job on the worker now."""
        self.busy = False
        self.preemptions = 0

    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._work, name="litettsd-inference", daemon=True)
        self._thread.start()

    def submit(
        self, priority: int, job: Callable[[], T], preempt: Callable[[], None] | None = None
    ) -> asyncio.Future[T]:
        """Queue ``job``; cancelling the returned future drops the job if it has not started.

        A less urgent job running now is preempted through its own ``preempt`` callback.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((priority, next(self._order), (job, preempt), future, loop))
        with self._lock:
            running = self._running
        if running is not None and priority < running[0] and running[1] is not None:
            self.preemptions += 1
            running[1]()
        return future

    async def run(self, priority: int, job: Callable[[], T]) -> T:
        """Queue ``job`` and wait for its result."""
        return await self.submit(priority, job)

    def alive(self) -> bool:
        """The inference thread is running (the watchdog's health check)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def depth(self) -> int:
        """Jobs waiting (not counting the one running)."""
        return self._queue.qsize()

    def stop(self, timeout: float = 5.0) -> None:
        """Let the running job finish, then end the thread; queued jobs behind it are dropped."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def _work(self) -> None:
        while True:
            priority, _, entry, future, loop = self._queue.get()
            if entry is None:
                return
            if future.cancelled():
                continue
            job, preempt = entry
            with self._lock:
                self._running = (priority, preempt)
            self.busy = True
            try:
                result = job()
            except BaseException as exc:  # handed to the waiting coroutine, which decides
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)
            finally:
                with self._lock:
                    self._running = None
                self.busy = False


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
