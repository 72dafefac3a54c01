"""Priorities: an urgent request preempts a long one, which resumes with identical audio."""

from __future__ import annotations

import time

from .conftest import audio_of

LONG = " ".join(f"Paragraph sentence {n} is long enough to take a while to synthesize, with clauses." for n in range(12))


def test_message_preempts_running_text_and_long_audio_is_unchanged(start_daemon):
    private = start_daemon("[cache]\nphrases = []\nmax_bytes = 0\n")
    with private.connect() as conn:
        alone = conn.request({"op": "synthesize", "id": 1, "text": LONG, "priority": "text"})
        conn.send({"op": "synthesize", "id": 2, "text": LONG, "priority": "text"})
        frames = {2: [], 3: []}
        order = []
        while True:
            frame = conn.recv()
            frames[frame["id"]].append(frame)
            order.append((frame["id"], frame["type"]))
            if frame["id"] == 2 and frame["type"] == "audio" and frame["seq"] == 0:
                # The first frame is the short lead; wait until the next chunk (a whole
                # sentence) is surely inferring, so the message has something to preempt.
                time.sleep(0.05)
                conn.send({"op": "synthesize", "id": 3, "text": "Important notice.", "priority": "message"})
            if frames[2] and frames[2][-1]["type"] == "end":
                break
        status = conn.request({"op": "status", "id": 4})[0]
    assert frames[3][-1]["type"] == "end"
    # The urgent request finished while the long one was still streaming...
    assert order.index((3, "end")) < order.index((2, "end"))
    long_audio_after = [i for i, (rid, kind) in enumerate(order) if rid == 2 and kind == "audio"]
    assert order.index((3, "end")) < long_audio_after[-1]
    # ...by preempting it, and the long request's audio is byte for byte what it is alone.
    assert status["queue"]["preemptions"] >= 1
    assert audio_of(frames[2]) == audio_of(alone)
