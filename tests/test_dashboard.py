"""The gateway's dashboard page, end to end in headless Chromium (Debian's, driven by Playwright).

The page must load from the gateway alone (no internet), its try-it box must play audio
byte-identical to the socket API's for the same request, and its charts must move when
requests are made.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from litettsd_client import Client

from .conftest import DEFAULT_VOICE
from .test_http_gateway import Gateway

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SPOKEN = "The dashboard speaks through the gateway."

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/install-system-deps)")


@pytest.fixture(scope="module")
def gateway(daemon: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    running = Gateway(daemon.socket, tmp_path_factory.mktemp("dashboard") / "gateway.log")
    yield running
    running.stop()


@pytest.fixture
def page(gateway: Gateway) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        outside: list[str] = []
        local = (gateway.url, f"blob:{gateway.url}")  # the try-it audio plays from a blob of the response
        page.on("request", lambda request: None if request.url.startswith(local) else outside.append(request.url))
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(gateway.url + "/")
        yield page
        assert not outside, f"the page fetched from outside the gateway: {outside}"
        assert not errors, f"script errors: {errors}"
        browser.close()


def syntheses_shown(page: Any) -> int:
    return int(page.text_content("#tile-syntheses"))


def test_dashboard_plays_the_socket_audio_and_charts_move(daemon: Any, page: Any, tmp_path: Path) -> None:
    page.wait_for_function("document.getElementById('link').textContent === 'live'", timeout=30_000)
    page.wait_for_function("document.getElementById('tile-syntheses').textContent !== '–'", timeout=30_000)
    before = syntheses_shown(page)

    # Static parts: voices, OpenAI names, configuration sources from status.
    page.wait_for_selector(f"#try-voice option[value='{DEFAULT_VOICE}']", state="attached", timeout=30_000)
    assert DEFAULT_VOICE in page.text_content("#voices")
    assert "echo →" in page.text_content("#aliases")
    config_files = page.text_content("#config-files")
    assert "defaults.toml" in config_files and "test.toml" in config_files

    with Client(daemon.socket, timeout=120) as client:
        expected = client.synthesize(SPOKEN, voice=DEFAULT_VOICE, format="mp3", speed=1.0, cache=False).read()

    page.fill("#try-text", SPOKEN)
    page.select_option("#try-voice", DEFAULT_VOICE)
    page.select_option("#try-format", "mp3")
    page.fill("#try-speed", "")  # emptied: the default speed, not 0
    with page.expect_response(lambda response: response.url.endswith("/v1/audio/speech"), timeout=120_000) as answer:
        page.click("#try-button")
    response = answer.value
    assert response.status == 200
    assert response.body() == expected
    page.wait_for_selector("#try-result[data-bytes]", timeout=60_000)
    assert page.get_attribute("#try-result", "data-bytes") == str(len(expected))
    # The audio element decoded what it was given.
    page.wait_for_function(
        "(() => { const a = document.getElementById('try-audio'); return a.readyState >= 1 && a.duration > 0.5; })()",
        timeout=30_000,
    )

    # Two more syntheses over the socket; the tiles and charts pick all of them up.
    with Client(daemon.socket, timeout=120) as client:
        client.synthesize("One more for the chart.", format="pcm").read()
        client.synthesize("And another one.", format="pcm").read()
    page.wait_for_function(f"Number(document.getElementById('tile-syntheses').textContent) >= {before + 3}", timeout=30_000)
    page.wait_for_function("Number(document.getElementById('chart-rate').dataset.max) > 0", timeout=30_000)
    latency = page.get_attribute("#chart-latency", "data-latest")
    assert latency is not None and "null" not in latency.split(",")[0]  # a p50 is drawn
    assert int(page.get_attribute("#chart-cpu", "data-points") or 0) >= 2
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
