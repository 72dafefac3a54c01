"""Voice ids resolve against the engine they name: the default Piper voice never waits for Kokoro's list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from litettsd.api import Engine, EngineContext, VoiceInfo
from litettsd.config import load_settings
from litettsd.errors import RequestError
from litettsd.plugins import build_plugin_manager
from litettsd.voices import VoiceRegistry


class CountingDiscovery:
    """The real engine, counting how often it is asked for its voices."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.name = engine.name
        self.discoveries = 0

    def discover(self, context: EngineContext) -> list[VoiceInfo]:
        self.discoveries += 1
        return self.engine.discover(context)

    def load(self, voice_id: str, context: EngineContext) -> Any:
        return self.engine.load(voice_id, context)


@pytest.fixture
def registry(tmp_path: Path) -> tuple[VoiceRegistry, dict[str, CountingDiscovery]]:
    settings = load_settings().settings
    plugins = build_plugin_manager()
    engines = {
        engine.name: CountingDiscovery(engine)
        for _, engine in plugins.collect("litettsd_register_engines", settings=settings)
    }
    context = EngineContext(settings=settings, cache_dir=tmp_path, create_session=lambda model, engine: None)
    return VoiceRegistry(engines.values(), context), engines


def test_a_full_id_asks_only_its_own_engine(registry: tuple[VoiceRegistry, dict[str, CountingDiscovery]]) -> None:
    voices, engines = registry
    engine, voice_id = voices.canonical("piper:en_US-joe-medium")
    assert (engine.name, voice_id) == ("piper", "piper:en_US-joe-medium")
    assert engines["piper"].discoveries == 1 and engines["kokoro"].discoveries == 0
    with pytest.raises(RequestError, match="unknown voice 'piper:no-such-voice'"):
        voices.canonical("piper:no-such-voice")
    assert engines["kokoro"].discoveries == 0


def test_bare_names_and_the_catalogue_ask_every_engine_once(registry: tuple[VoiceRegistry, dict[str, CountingDiscovery]]) -> None:
    voices, engines = registry
    assert voices.canonical("jm_kumo")[1] == "kokoro:jm_kumo"
    assert voices.canonical("kokoro:jf_alpha")[1] == "kokoro:jf_alpha"
    assert voices.canonical("en_US-joe-medium")[1] == "piper:en_US-joe-medium"
    ids = {info.id for info in voices.catalogue()}
    assert {"piper:en_US-joe-medium", "kokoro:jm_kumo", "kokoro:jf_alpha"} <= ids
    assert [engines[name].discoveries for name in ("piper", "kokoro")] == [1, 1]


def test_equal_blends_written_differently_are_one_voice(registry: tuple[VoiceRegistry, dict[str, CountingDiscovery]]) -> None:
    voices, _ = registry
    same = {
        voices.canonical(written)[1]
        for written in (
            "kokoro:jm_kumo*0.5+kokoro:jf_alpha*0.5",
            "jf_alpha*1+jm_kumo*1",
            "kokoro:jf_alpha * 2 + jm_kumo*2",
            "jm_kumo*0.25+jf_alpha*0.5+jm_kumo*0.25",
        )
    }
    assert same == {"kokoro:jf_alpha*0.5+kokoro:jm_kumo*0.5"}
    assert voices.canonical("jm_kumo*0.7+jf_alpha*0.3")[1] == "kokoro:jf_alpha*0.3+kokoro:jm_kumo*0.7"
    assert voices.canonical("jm_kumo*-1")[1] == "kokoro:jm_kumo*-1"  # left for the engine to refuse
    assert voices.canonical("jf_alpha*1+jm_kumo*0")[1] == voices.canonical("jf_alpha*2")[1] == "kokoro:jf_alpha*1"


def test_blend_ids_are_fixed_points() -> None:
    import random

    from litettsd.voices import blend_id

    chooser = random.Random(7)
    names = ["kokoro:jf_alpha", "kokoro:jf_nezumi", "kokoro:jm_kumo", "kokoro:jf_tebukuro", "kokoro:jf_gongitsune"]
    for _ in range(20_000):
        parts = [f"{name}*{chooser.choice([chooser.random() * 10, chooser.randint(1, 9)])}" for name in chooser.sample(names, chooser.randint(2, 5))]
        once = blend_id(parts)
        assert blend_id(once.split("+")) == once, parts


def test_only_a_few_blends_stay_loaded(daemon) -> None:
    from litettsd.voices import MAX_BLENDS, blend_id

    with daemon.connect() as conn:
        for n in range(MAX_BLENDS + 4):
            voice = f"kokoro:jm_kumo*{0.5 + n / 100}+kokoro:jf_alpha*0.5"
            assert conn.request({"op": "synthesize", "id": n + 1, "text": "Hi.", "voice": voice})[-1]["type"] == "end"
        loaded = conn.request({"op": "status", "id": 99})[0]["voices_loaded"]
    blends = [voice for voice in loaded if "+" in voice]
    newest = blend_id([f"kokoro:jm_kumo*{0.5 + (MAX_BLENDS + 3) / 100}", "kokoro:jf_alpha*0.5"])
    assert len(blends) == MAX_BLENDS and newest in blends
    assert "piper:en_US-joe-medium" in loaded  # plain voices are never dropped
