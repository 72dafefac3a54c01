"""An idle daemon sleeps: once nobody asks for anything, none of its threads wakes up.

Counted from the kernel's per-thread context switches rather than timed, so a busy machine
does not make it flaky: a thread that sleeps until an event makes no switches at all.
"""

from __future__ import annotations

import os
import time

import pytest

from .conftest import audio_of


def _switches(pid: int) -> dict[str, int]:
    counts = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            status = open(f"/proc/{pid}/task/{tid}/status").read()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines())
        name = f"{fields['Name'].strip()}[{tid}]"
        counts[name] = int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])
    return counts


def test_no_thread_wakes_while_the_daemon_is_idle(start_daemon) -> None:
    # The configuration watcher is on (the test's config file is watched); the cache
    # warming list is empty so that no background synthesis is still running.
    private = start_daemon("[cache]\nphrases = []\n")
    with private.connect() as conn:
        assert audio_of(conn.request({"op": "synthesize", "id": 1, "text": "Wake every thread once."}))
    time.sleep(1.0)  # the after-READY warm-ups and the reply's last writes settle
    before = _switches(private.proc.pid)
    time.sleep(3.0)
    after = _switches(private.proc.pid)
    woke = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    assert sum(woke.values()) <= 2, f"threads woke while idle: {woke}"


def _cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads, from the scheduler's nanosecond counters."""
    counters = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            counters.append(int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0]))
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    assert counters, "no thread's schedstat could be read"
    return sum(counters) / 1e9


def test_no_inference_thread_spins_once_a_request_is_done(start_daemon) -> None:
    """onnxruntime's workers, left to themselves, spin after every run (~27 ms of CPU here);
    the daemon stops them when a run returns (see ``optimizers.cpu_threads``)."""
    private = start_daemon("[cache]\nphrases = []\nmax_bytes = 0\n[cpu]\nspin = true\n")
    with private.connect() as conn:
        assert audio_of(conn.request({"op": "synthesize", "id": 1, "text": "Wake every thread once."}))
        threads = conn.request({"op": "status", "id": 2})[-1]["threads"]
        if max(threads.values()) < 2:
            pytest.skip(f"one inference thread ({threads}): no worker to spin")
        time.sleep(1.0)  # the after-READY warm-ups settle
        spent = []
        for request in range(3, 6):
            assert audio_of(conn.request({"op": "synthesize", "id": request, "text": "Then rest."}))
            before = _cpu_seconds(private.proc.pid)
            time.sleep(0.3)
            spent.append(_cpu_seconds(private.proc.pid) - before)
    assert min(spent) < 0.01, f"CPU seconds used in the 0.3 s after each request: {spent}"
