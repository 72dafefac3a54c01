"""A test-only plugin that blocks the event loop for 3 s after each ``ping`` (a hung daemon)."""

from __future__ import annotations

import time

from litettsd.api import RequestRecord
from litettsd.hookspecs import hookimpl


@hookimpl
def litettsd_request_finished(record: RequestRecord) -> None:
    if record.op == "ping":
        time.sleep(3.0)  # deliberately on the event loop: the watchdog pings must stop
