"""The web app's Reports tab: the list, a run's text and chart, built into the real Gradio app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from agent.factory import build_watch
from agent.settings import Settings
from ui.api import create_app
from ui.web.reports import report_rows, run_view
from watch import AlertRule, SavedCall


def test_the_list_shows_each_report_with_its_latest_run_and_chart(settings):
    watch = build_watch(settings)
    report = watch.add_report(
        "daily purchases",
        [SavedCall(tool="query", args={"measure": "purchases", "last_days": 14, "grain": "day"})],
        "@daily",
    )
    alert = watch.add_alert("purchase drop", AlertRule(measure="purchases"), "@daily", owner="key:abc")
    watch.run(report.report_id)
    rows = report_rows(watch, ["web", "dev"])
    assert rows[["id", "name", "status"]].values.tolist() == [[report.report_id, "daily purchases", "ok"]]
    text, figure = run_view(watch, report.report_id, ["web", "dev"])
    assert "daily purchases" in text and "per day" in text
    assert len(figure.data[0].x) == 14
    assert "No report" in run_view(watch, alert.report_id, ["web", "dev"])[0]  # another key's alert


def test_the_served_web_app_has_the_reports_tab(data_dir):
    settings = Settings(data_dir=data_dir, llm_backend="fake", api_auth="none")
    with TestClient(create_app(settings, mcp=False)) as client:
        config = client.get("/ui/config").json()
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert {"uba-reports", "uba-report-run", "uba-save"} <= ids
