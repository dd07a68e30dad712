"""The web app explains a next-item prediction: a live ``uba serve`` (fake LLM by rules) in headless Chromium."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.ui.conftest import launch_server, stop_server, wait_for_server
from tests.ui.test_web_live import browser  # noqa: F401  (the shared headless Chromium fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def explained(mcp_demo_dir, tmp_path_factory):
    """A copy of the demo data dir serving EASE, a rule asking for a busy user's next items, and what the
    predict_next tool itself answers for that user (its ``because_of`` cells and the items' titles)."""
    from predictor import ModelRegistry, train_next, warehouse_query
    from tests.predictor.trained_env import TINY
    from tools import ToolDeps, build_tools
    from warehouse import Warehouse
    from warehouse.readonly import ReadOnlyWarehouse
    from warehouse.safe_sql import SafeSql

    data_dir = tmp_path_factory.mktemp("uba-web-predict") / "data"
    shutil.copytree(mcp_demo_dir, data_dir)
    url = f"duckdb:///{data_dir / 'warehouse.duckdb'}"
    warehouse = Warehouse.open(url)
    registry = ModelRegistry(data_dir / "models")
    try:
        assert (
            train_next(warehouse_query(warehouse), registry, TINY, progress=False, serve="ease").metrics["serving"]
            == "ease"
        )
    finally:
        warehouse.dispose()
    safe = SafeSql(ReadOnlyWarehouse(url))
    try:
        user = str(
            safe.run(
                "SELECT e.user_id, COUNT(e.item_id) AS n FROM events AS e GROUP BY 1 ORDER BY 2 DESC, 1", limit=1
            ).result.rows[0][0]
        )
        titles = dict(safe.run("SELECT i.item_id, i.title FROM items AS i", limit=100_000).result.rows)
        deps = ToolDeps(readonly=safe.readonly, safe_sql=safe, models=registry)
        tool = next(t for t in build_tools(deps) if t.name == "predict_next")
        msg = tool.invoke({"name": "predict_next", "args": {"user_id": user, "k": 3}, "id": "c1", "type": "tool_call"})
    finally:
        safe.readonly.close()
    table = msg.artifact.tables[0]
    cells = [str(r[table.columns.index("because_of")]) for r in table.rows]
    rules = data_dir / "rules.yaml"
    rules.write_text(
        yaml.safe_dump(
            [
                {
                    "match": "do next",
                    "tool": "predict_next",
                    "args": {"user_id": user, "k": 3},
                    "answer": "What this user is likely to do next:\n\n$result",
                }
            ]
        )
    )
    server = launch_server(data_dir, extra_env={"UBA_LLM_FAKE_RULES": str(rules)})
    try:
        wait_for_server(server)
        yield server, user, cells, titles
    finally:
        assert stop_server(server) == 0, server.output()[-2000:]


def test_browser_shows_the_recent_items_behind_each_predicted_item(browser, explained):  # noqa: F811
    server, user, cells, titles = explained
    named = [part.rsplit(" ", 1)[0] for cell in cells if cell for part in cell.split("; ")]
    assert named and all(f"{n.split(' ')[0]} ({titles[n.split(' ')[0]]})" == n for n in named)  # id (real title)
    page = browser.new_page(viewport={"width": 1400, "height": 1500})
    page.goto(f"{server.url}/ui/", wait_until="domcontentloaded")
    page.locator("#uba-question textarea").fill(f"What will user {user} do next?")
    page.get_by_role("button", name="Ask", exact=True).click()
    chat = page.locator("#uba-chat")
    chat.get_by_text("What this user is likely to do next").wait_for(timeout=90_000)
    table = page.locator(".uba-table").first
    table.wait_for(state="visible", timeout=30_000)
    table.get_by_text("because_of").first.wait_for(timeout=30_000)
    shown = table.inner_text()
    missing = [n for n in named if titles[n.split(" ")[0]] not in shown or n.split(" ")[0] not in shown]
    assert not missing, f"explanation items not shown in the table: {missing}\n{shown[:2000]}"
    assert "Because of recent items" in chat.inner_text() and titles[named[0].split(" ")[0]] in chat.inner_text()
    page.close()
