"""One inference thread fed in priority order.

Inference is CPU-bound and already parallel inside onnxruntime, so running two models at
once would only make both slower. A single worker takes jobs (one chunk each) from a
priority queue. A job may come with a ``preempt`` callback: when a more urgent job arrives
while it runs, the callback aborts its inference (onnxruntime's ``RunOptions.terminate``)
and the job queues itself again, so a screen reader's ``important`` or ``message`` request
waits neither for a long ``text`` request nor for the chunk it is in the middle of.
Inference is deterministic, so the re-run gives the same audio. The worker blocks on the
queue when idle; it never polls.

A request's chunks run as a stream: the worker queues the next chunk itself as soon as one
is done, instead of waiting for the event loop to ask, so a busy or slow-to-wake loop never
leaves the inference thread idle between chunks. It stops queueing once ``ahead`` results
are waiting unread (a slow client), and the reader resumes it.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

PRIORITIES = {"important": 0, "message": 1, "text": 2, "notification": 3, "progress": 4, "background": 9}
"""speech-dispatcher's message classes, most urgent first, then ``background`` (cache warming)."""


class _Job:
    """What the worker runs: ``body`` on the inference thread, then ``deliver`` its outcome."""

    def __init__(self, body: Callable[[], Any], preempt: Callable[[], None] | None) -> None:
        self.body = body
        self.preempt = preempt

    def wanted(self) -> bool:
        """False once nobody waits for the result: the worker skips the job."""
        return True

    def deliver(self, result: Any, error: BaseException | None) -> None:
        """Hand the outcome over (called on the inference thread)."""


class _FutureJob(_Job):
    """A single run whose outcome settles an asyncio future."""

    def __init__(self, body: Callable[[], Any], preempt: Callable[[], None] | None, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(body, preempt)
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()

    def wanted(self) -> bool:
        return not self.future.cancelled()

    def deliver(self, result: Any, error: BaseException | None) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, result, error)


class JobStream(_Job, Generic[T]):
    """Runs ``body`` again and again until it returns ``None`` or raises; read with ``async for``."""

    def __init__(
        self,
        scheduler: InferenceScheduler,
        priority: int,
        body: Callable[[], T | None],
        preempt: Callable[[], None] | None,
        ahead: int,
    ) -> None:
        super().__init__(body, preempt)
        self._scheduler = scheduler
        self._priority = priority
        self._ahead = ahead
        self._loop = asyncio.get_running_loop()
        self._results: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()
        self._lock = threading.Lock()
        self._unread = 0
        self._queued = True
        self._ended = False
        self._closed = False
        scheduler._put(priority, self)

    def wanted(self) -> bool:
        return not self._closed

    def deliver(self, result: Any, error: BaseException | None) -> None:
        with self._lock:
            self._unread += 1
            self._ended = error is not None or result is None
            self._queued = not self._ended and not self._closed and self._unread < self._ahead
            again = self._queued
        self._loop.call_soon_threadsafe(self._results.put_nowait, (result, error))
        if again:
            self._scheduler._put(self._priority, self)

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        result, error = await self._results.get()
        with self._lock:
            self._unread -= 1
            resume = not (self._queued or self._ended or self._closed)
            if resume:
                self._queued = True
        if resume:
            self._scheduler._put(self._priority, self)
        if error is not None:
            raise error
        if result is None:
            raise StopAsyncIteration
        return result  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop running: a queued run is skipped, results not yet read are dropped."""
        self._closed = True


class InferenceScheduler:
    """Runs callables on the inference thread, most urgent first, FIFO within a priority."""

    def __init__(self, before_each: Callable[[], None] | None = None) -> None:
        self._before_each = before_each
        """Called on the inference thread before each job (``huge_pages`` advising new memory)."""
        self._queue: queue.PriorityQueue[tuple[float, int, _Job | None]] = queue.PriorityQueue()
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
        entry = _FutureJob(job, preempt, asyncio.get_running_loop())
        self._put(priority, entry)
        return entry.future

    def stream(
        self, priority: int, job: Callable[[], T | None], preempt: Callable[[], None] | None = None, ahead: int = 2
    ) -> JobStream[T]:
        """Run ``job`` repeatedly until it returns ``None``, at most ``ahead`` results unread."""
        return JobStream(self, priority, job, preempt, ahead)

    async def run(self, priority: int, job: Callable[[], T]) -> T:
        """Queue ``job`` and wait for its result."""
        return await self.submit(priority, job)

    def _put(self, priority: int, job: _Job) -> None:
        self._queue.put((priority, next(self._order), job))
        with self._lock:
            running = self._running
        if running is not None and priority < running[0] and running[1] is not None:
            self.preemptions += 1
            running[1]()

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
        self._queue.put((float("inf"), 0, None))
        self._thread.join(timeout)
        self._thread = None

    def _work(self) -> None:
        while True:
            priority, _, job = self._queue.get()
            if job is None:
                return
            if not job.wanted():
                continue
            with self._lock:
                self._running = (priority, job.preempt)
            self.busy = True
            try:
                if self._before_each is not None:
                    self._before_each()
                result = job.body()
            except BaseException as exc:  # handed to the waiting coroutine, which decides
                outcome: tuple[Any, BaseException | None] = (None, exc)
            else:
                outcome = (result, None)
            finally:
                with self._lock:
                    self._running = None
                self.busy = False
            job.deliver(*outcome)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
