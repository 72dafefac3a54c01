"""A test-only plugin whose normalizer and metrics hook always raise."""

from __future__ import annotations

from litettsd.api import NormalizeContext, RequestRecord
from litettsd.hookspecs import hookimpl


class BrokenNormalizer:
    name = "broken"
    order = 50

    def normalize(self, text: str, context: NormalizeContext) -> str:
        raise RuntimeError("this normalizer is broken on purpose")


@hookimpl
def litettsd_register_normalizers() -> list[BrokenNormalizer]:
    return [BrokenNormalizer()]


@hookimpl
def litettsd_request_finished(record: RequestRecord) -> None:
    raise RuntimeError("this metrics plugin is broken on purpose")
