"""The web app answering with the real embedded model (not the scripted one) in a real Chromium: the
example question gets its step, a table, a chart and an answer whose number the data holds. With
``UBA_UPDATE_SCREENSHOT=1`` this is the README's screenshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.live_model import data_dir_with_model
from tests.ui.conftest import UBA, launch_server, stop_server, wait_for_server
from tests.ui.test_web_live import CHART_QUESTION, CHROMIUM, CHROMIUM_ARGS, SCREENSHOT

pytestmark = [pytest.mark.live_llm, pytest.mark.real_llm, pytest.mark.slow]


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip(f"browser test: Debian chromium is not installed at {CHROMIUM}")
    data_dir = data_dir_with_model(tmp_path_factory, "uba-web-real")
    made = subprocess.run(
        [str(UBA), "data", "demo", "--if-empty"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "UBA_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"},
    )
    assert made.returncode == 0, made.stderr[-2000:]
    server = wait_for_server(launch_server(data_dir, extra_env={"UBA_LLM_BACKEND": "local"}), timeout_s=900)
    deadline = time.monotonic() + 1200  # the static prompt is evaluated once (minutes on a small CPU)
    while httpx.get(f"{server.url}/health", timeout=5).json()["model"] != "ready":
        assert time.monotonic() < deadline, server.output()[-3000:]
        time.sleep(2)
    yield server
    stop_server(server)


def _weekly_purchases(data_dir: Path) -> set[int]:
    """Each week's purchases (weeks start on Monday) and all weeks together."""
    db = data_dir / "warehouse.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql(
            "SELECT COUNT(*) FROM events WHERE event_type = 'purchase' GROUP BY DATE_TRUNC('week', ts)"
        ).fetchall()
    return {int(r[0]) for r in rows} | {sum(int(r[0]) for r in rows)}


def test_the_web_app_answers_the_example_with_the_real_model(real_server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        page.goto(f"{real_server.url}/", wait_until="domcontentloaded")
        page.get_by_role("button", name=CHART_QUESTION).click(timeout=60_000)
        chat = page.locator("#uba-chat")
        chat.get_by_text("step 1 · query").wait_for(timeout=600_000)
        page.locator(".uba-chart .js-plotly-plot").first.wait_for(state="visible", timeout=600_000)
        page.locator(".uba-table").first.wait_for(state="visible", timeout=60_000)
        answer = chat.locator(".message.bot, [data-testid='bot']").last.inner_text(timeout=60_000)
        shot = SCREENSHOT if os.environ.get("UBA_UPDATE_SCREENSHOT") else tmp_path / "screenshot.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    numbers = {int(n.replace(",", "")) for n in re.findall(r"\b\d{1,3}(?:,\d{3})+\b|\b\d{2,}\b", answer)}
    assert numbers & _weekly_purchases(real_server.data_dir), answer
    assert shot.stat().st_size > 10_000
