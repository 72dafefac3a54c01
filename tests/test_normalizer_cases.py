"""Table-driven cases for the English normalizer chain, run exactly as the pipeline runs it."""

from __future__ import annotations

import pytest

from litettsd.api import NormalizeContext, Normalizer
from litettsd.config import load_settings
from litettsd.plugins import build_plugin_manager

CHAIN: list[Normalizer] = [
    normalizer
    for _, normalizer in sorted(
        build_plugin_manager().collect("litettsd_register_normalizers", settings=load_settings()),
        key=lambda pair: pair[1].order,
    )
]


def normalize(text: str, context: NormalizeContext | None = None) -> str:
    """Run the registered normalizers in order, as ``Pipeline.normalize_text`` does."""
    context = context or NormalizeContext()
    for normalizer in CHAIN:
        text = normalizer.normalize(text, context)
    return text
