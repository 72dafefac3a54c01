"""Logs one line per finished request: what was asked, how it ended, how fast."""

from __future__ import annotations

import logging

from litettsd.api import RequestRecord
from litettsd.hookspecs import hookimpl

log = logging.getLogger("litettsd.requests")


@hookimpl
def litettsd_request_finished(record: RequestRecord) -> None:
    if record.op != "synthesize":
        return
    first = f"{record.first_audio_seconds * 1000:.0f}ms" if record.first_audio_seconds is not None else "-"
    rtf = record.synth_seconds / record.audio_seconds if record.audio_seconds else 0.0
    # Only a request that ended is told its audio's length; one cut short says what it sent.
    audio = f"audio={record.audio_seconds:.2f}s" if record.outcome == "ok" else f"sent={record.bytes_sent}B"
    log.info(
        "synthesize %s voice=%s format=%s chars=%d %s first=%s rtf=%.3f%s%s",
        record.outcome,
        record.voice,
        record.format,
        record.text_chars,
        audio,
        first,
        rtf,
        " cached" if record.cached else "",
        f" code={record.error_code}" if record.error_code else "",
    )
