"""The web app on a live ``uba serve``: ``gradio_client`` and a real headless Chromium (Playwright)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.ui.conftest import small_tables

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("UBA_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"
CHART_QUESTION = "How many purchases were made per week?"


def _purchases_per_item() -> list[list]:
    counts = Counter(e["item_id"] for e in small_tables()["events"] if e["event_type"] == "purchase")
    return [[item, n] for item, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _text_of(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


@pytest.fixture(scope="module")
def web_client(dev_server):
    from gradio_client import Client

    client = Client(f"{dev_server.url}/ui/", verbose=False)
    yield client
    client.close()  # its heartbeat stream would hold the server's graceful shutdown open


def test_dev_mode_says_so_at_start(dev_server):
    assert "dev mode: no API keys are required" in dev_server.output()
    assert f"{dev_server.url}/ui/" in dev_server.output()


def test_gradio_client_gets_the_streamed_answer_with_steps_and_table(web_client, sql_tool):
    chat, _, *panels = web_client.predict("Which items sell the most?", [], None, api_name="/ask")
    roles = [m["role"] for m in chat]
    assert roles[0] == "user" and roles[-1] == "assistant"
    steps = [m for m in chat if m.get("metadata") and m["metadata"].get("title")]
    assert [s["metadata"]["title"] for s in steps] == ["step 1 · query"]
    assert steps[0]["metadata"]["status"] == "done" and '"measure": "purchases"' in _text_of(steps[0])
    assert _text_of(chat[-1]).startswith("The items bought most often")
    first_table = panels[0]
    assert first_table["visible"] is True
    headers = first_table["value"]["headers"]
    item, count = headers.index("item"), headers.index("value")
    assert [[r[item], int(r[count])] for r in first_table["value"]["data"]] == _purchases_per_item()


def test_gradio_client_reads_the_data_overview(web_client):
    summary, counts, mix, chart = web_client.predict(api_name="/overview")
    tables = small_tables()
    assert dict(counts["data"]) == {name: len(rows) for name, rows in tables.items()}
    assert dict(mix["data"]) == dict(Counter(e["event_type"] for e in tables["events"]))
    assert "2026-09-01" in summary and chart["type"] == "plotly"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip(
            f"browser test: Debian chromium is not installed at {CHROMIUM} "
            "(make test installs it when run as root: apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_browser_example_question_shows_answer_table_and_chart(browser, dev_server, sql_tool, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1500})
    outside: list[str] = []
    page.on(
        "request", lambda r: outside.append(r.url) if not r.url.startswith((dev_server.url, "data:", "blob:")) else None
    )
    page.goto(f"{dev_server.url}/", wait_until="domcontentloaded")
    page.get_by_role("button", name=CHART_QUESTION).click(timeout=60_000)
    chat = page.locator("#uba-chat")
    chat.get_by_text("Purchases per week").wait_for(timeout=60_000)
    table = page.locator(".uba-table").first
    table.wait_for(state="visible", timeout=30_000)
    assert table.locator("td").count() >= 2
    chart = page.locator(".uba-chart .js-plotly-plot").first
    chart.wait_for(state="visible", timeout=30_000)
    assert chat.get_by_text("step 1 · query").count() == 1  # the step is a collapsible entry
    # The README's screenshot is the real model's (test_web_real_model_live.py); this one stays in tmp.
    shot = tmp_path / "screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert outside == [], f"the page fetched from outside the machine: {outside}"
    page.close()


def test_browser_renders_untrusted_markdown_safely(browser, dev_server, sql_tool):
    page = browser.new_page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(f"{dev_server.url}/ui/", wait_until="domcontentloaded")
    page.locator("#uba-question textarea").fill("What do 1-star reviews complain about?")
    page.get_by_role("button", name="Ask", exact=True).click()
    chat = page.locator("#uba-chat")
    chat.get_by_text("What the 1-star reviews say").wait_for(timeout=60_000)
    assert chat.locator("img[src*='203.0.113.9']").count() == 0 and chat.locator("b").count() == 0
    assert not [url for url in fetched if "203.0.113.9" in url]
    page.close()
