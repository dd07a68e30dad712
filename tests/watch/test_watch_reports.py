"""Saved reports and alerts on a real DuckDB demo shop: re-run without a model, scoped, one run per slot."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import duckdb
import pytest

from agent.answer import TraceStep
from agent.factory import build_watch
from watch import AlertRule, SavedCall, WatchError, calls_from_trace


def _sql(data_dir, sql: str, *args):
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql, list(args)).fetchall()


def _last_day(data_dir):
    return _sql(data_dir, "SELECT CAST(MAX(ts) AS DATE) FROM events")[0][0]


def test_a_report_saved_from_an_answer_reruns_its_query_through_the_tool(settings, data_dir):
    trace = [
        TraceStep(tool="describe_schema"),
        TraceStep(tool="query", args={"measure": "purchases", "last_days": 7, "dimensions": ["country"]}),
        TraceStep(tool="query", args={"measure": "nope"}, ok=False, error="bad measure"),
    ]
    calls = calls_from_trace([s.model_dump() for s in trace])
    assert calls == [SavedCall(tool="query", args={"measure": "purchases", "last_days": 7, "dimensions": ["country"]})]
    watch = build_watch(settings)
    report = watch.add_report("purchases by country", calls, "0 8 * * mon")
    run = watch.run(report.report_id)
    last = _last_day(data_dir)
    expected = dict(
        _sql(
            data_dir,
            "SELECT u.country, COUNT(*) FROM events e JOIN users u USING (user_id) "
            "WHERE e.event_type = 'purchase' AND CAST(e.ts AS DATE) BETWEEN ? AND ? "
            "GROUP BY 1",
            last - timedelta(days=6),
            last,
        )
    )
    table = run.payload["tables"][0]
    got = {row[table["columns"].index("country")]: row[table["columns"].index("value")] for row in table["rows"]}
    assert run.status == "ok" and got == expected
    assert run.payload["charts"] and "purchases" in run.text
    assert watch.store.runs(report.report_id)[0].payload["tables"][0]["rows"] == table["rows"]


def test_a_scoped_report_counts_only_its_users_rows(settings, data_dir):
    user, count = _sql(
        data_dir,
        "SELECT user_id, COUNT(*) FROM events WHERE event_type = 'purchase' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
    )[0]
    watch = build_watch(settings)
    report = watch.add_report(
        "mine", [SavedCall(tool="query", args={"measure": "purchases"})], "@daily", user_scope=user
    )
    run = watch.run(report.report_id)
    assert run.payload["tables"][0]["rows"] == [[count]]
    total = _sql(data_dir, "SELECT COUNT(*) FROM events WHERE event_type = 'purchase'")[0][0]
    assert count < total


def test_funnel_calls_are_saved_and_rerun_too(settings):
    watch = build_watch(settings)
    report = watch.add_report("funnel", [SavedCall(tool="funnel", args={"steps": ["view", "purchase"]})], "@weekly")
    run = watch.run(report.report_id)
    assert run.status == "ok" and run.payload["tables"][0]["rows"]


_RACE = """
import sys
from agent.settings import Settings
from agent.factory import build_watch
watch = build_watch(Settings(data_dir=sys.argv[1], llm_backend="fake"))
run = watch.run(sys.argv[2], slot="2026-11-02T08:00")
print("ran" if run else "skipped")
"""


def test_two_processes_run_one_slot_once(settings, data_dir):
    report = build_watch(settings).add_report(
        "weekly", [SavedCall(tool="query", args={"measure": "events"})], "0 8 * * mon"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACE, str(data_dir), report.report_id], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    assert outputs == ["ran", "skipped"]
    assert [r.slot for r in build_watch(settings).store.runs(report.report_id)] == ["2026-11-02T08:00"]


def _drop_last_day(data_dir, devices: list[str]) -> None:
    """Delete the last day's purchases of users on ``devices`` (a checkout outage there)."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as conn:
        conn.execute(
            "DELETE FROM events WHERE event_id IN (SELECT e.event_id FROM events e JOIN users u USING "
            "(user_id) WHERE e.event_type = 'purchase' AND list_contains(?, u.device) AND CAST(e.ts AS DATE) "
            "= (SELECT CAST(MAX(ts) AS DATE) FROM events))",
            [devices],
        )


def test_a_daily_alert_stays_quiet_on_the_demo_and_fires_on_a_planted_drop(settings, data_dir):
    watch = build_watch(settings)
    quiet = watch.run(watch.add_alert("purchases", AlertRule(measure="purchases"), "@daily").report_id)
    assert quiet.status == "ok" and "within the expected range" in quiet.text, quiet.text

    _drop_last_day(data_dir, ["desktop", "mobile"])
    watch = build_watch(settings)
    run = watch.run(watch.add_alert("purchases", AlertRule(measure="purchases"), "@daily").report_id)
    alert = run.payload["alert"]
    assert run.status == "alert" and alert["direction"] == "below", run.text
    assert alert["value"] < alert["low"] <= alert["expected"]
    moved = [(s["dimension"], s["value"]) for s in alert["segments"]]
    assert set(moved[:2]) == {("device", "desktop"), ("device", "mobile")}, moved
    assert all(s["actual"] == 0 for s in alert["segments"][:2])
    assert "device mobile" in run.text and "below the expected range" in run.text
    assert run.payload["charts"][0]["spec"]["data"]


def test_an_hourly_alert_fires_on_a_spike_in_the_last_hour(settings, data_dir):
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as conn:
        conn.execute(
            "INSERT INTO events SELECT event_id + 10000000, user_id, session_id, "
            "date_trunc('hour', (SELECT MAX(ts) FROM events)), event_type, item_id, value, source_event "
            "FROM events WHERE event_type = 'purchase' LIMIT 60"
        )
    watch = build_watch(settings)
    run = watch.run(watch.add_alert("hourly", AlertRule(measure="purchases", grain="hour"), "@hourly").report_id)
    assert run.status == "alert" and run.payload["alert"]["direction"] == "above"
    assert run.payload["alert"]["period"].endswith(":00") and run.payload["alert"]["value"] >= 60


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("schedule", "every monday", "is not a crontab line"),
        ("schedule", "0 25 * * *", "is invalid"),
        ("measure", "happiness", "measure 'happiness' does not exist"),
        ("measure", "conversion_rate", "is a conversion rate"),
        ("webhook", "ftp://example.org/x", "is not an http"),
        ("filter", {"dimension": "planet", "value": "Mars"}, "filters.0.dimension"),
    ],
)
def test_bad_alerts_are_refused_with_the_fix(settings, kind, value, message):
    watch = build_watch(settings)
    rule = {"measure": value if kind == "measure" else "purchases", "filters": [value] if kind == "filter" else []}
    with pytest.raises(WatchError, match=message):
        watch.add_alert(
            "x",
            AlertRule(**rule),
            value if kind == "schedule" else "@daily",
            webhook=value if kind == "webhook" else None,
        )
    assert watch.store.reports() == []


def test_bad_report_calls_are_refused(settings):
    watch = build_watch(settings)
    with pytest.raises(WatchError, match="measure"):
        watch.add_report("x", [SavedCall(tool="query", args={"measure": "happiness"})], "@daily")
    with pytest.raises(WatchError, match="cannot be saved"):
        watch.add_report("x", [SavedCall(tool="run_sql", args={"sql": "SELECT 1"})], "@daily")
    with pytest.raises(WatchError, match="no call to save"):
        calls_from_trace([{"tool": "search_reviews", "args": {"query": "battery"}}])
    assert watch.store.reports() == []
