"""The scheduler inside ``uba serve``: jobs from the store survive restarts, fire through APScheduler, once a slot."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from agent.factory import build_watch
from watch import SavedCall, WatchScheduler

CALL = [SavedCall(tool="query", args={"measure": "events", "last_days": 1})]


def test_reports_are_scheduled_again_after_a_restart_and_removed_ones_dropped(settings):
    report = build_watch(settings).add_report("daily events", CALL, "30 7 * * *")
    first = WatchScheduler(build_watch(settings))
    first.start()
    try:
        assert first.next_runs()[report.report_id].endswith("07:30+00:00")
    finally:
        first.shutdown()
    restarted = WatchScheduler(build_watch(settings))
    restarted.start()
    try:
        assert list(restarted.next_runs()) == [report.report_id]
        restarted.watch.store.remove(report.report_id)
        restarted.sync()
        assert restarted.next_runs() == {}
    finally:
        restarted.shutdown()


def test_a_due_job_fires_through_the_scheduler_and_stores_its_run(settings):
    watch = build_watch(settings)
    report = watch.add_report("daily events", CALL, "0 8 * * *")
    scheduler = WatchScheduler(watch)
    scheduler.start()
    try:
        scheduler._scheduler.modify_job(report.report_id, next_run_time=datetime.now(UTC))  # due now
        deadline = time.monotonic() + 20
        while not watch.store.runs(report.report_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        runs = watch.store.runs(report.report_id)
        assert len(runs) == 1 and runs[0].status in {"running", "ok"}
        assert not runs[0].slot.startswith("manual")
    finally:
        scheduler.shutdown()


def test_firing_the_same_minute_twice_runs_once(settings):
    watch = build_watch(settings)
    report = watch.add_report("daily events", CALL, "0 8 * * *")
    scheduler = WatchScheduler(watch)
    at = datetime(2026, 11, 2, 8, 0, 0, 120_000, tzinfo=UTC)
    scheduler.fire(report.report_id, at)
    scheduler.fire(report.report_id, at.replace(second=20))
    assert [(r.slot, r.status) for r in watch.store.runs(report.report_id)] == [("2026-11-02T08:00+00:00", "ok")]
