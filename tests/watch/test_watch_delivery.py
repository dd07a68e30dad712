"""Webhook delivery to real HTTP servers on 127.0.0.1: Slack-shaped JSON, retries with backoff, never blocking."""

from __future__ import annotations

import socket
import threading

from agent.factory import build_watch
from watch import SavedCall

SPEC = {"measure": "purchases", "last_days": 7}


def _report(watch, url):
    return watch.add_report("weekly purchases", [SavedCall(tool="query", args=SPEC)], "0 8 * * mon", webhook=url)


def _delivery(watch, report_id):
    assert watch.deps.sender.join(timeout_s=30)
    return watch.store.runs(report_id, limit=1)[0].delivery


def test_a_run_posts_slack_compatible_json_with_the_report_text(settings, receiver):
    watch = build_watch(settings)
    report = _report(watch, receiver.url)
    run = watch.run(report.report_id)
    assert _delivery(watch, report.report_id) == "delivered (attempt 1)"
    body = receiver.received[0]["body"]
    assert body["text"].startswith("uba report: weekly purchases: ") and run.text.split(",")[0] in body["text"]
    assert body["blocks"][0]["type"] == "header" and body["blocks"][1]["text"]["text"] == run.text
    assert body["uba"] == {"report_id": report.report_id, "slot": run.slot, "status": "ok"}


def test_a_failing_receiver_is_retried_until_it_answers(settings, receiver):
    receiver.statuses = [500, 503]
    watch = build_watch(settings)
    report = _report(watch, receiver.url)
    watch.run(report.report_id)
    assert _delivery(watch, report.report_id) == "delivered (attempt 3)"
    assert [r["status"] for r in receiver.received] == [500, 503, 200]


def test_a_receiver_that_keeps_failing_is_given_up_on_and_logged(settings, receiver, caplog):
    receiver.statuses = [500] * 10
    watch = build_watch(settings)
    report = _report(watch, receiver.url)
    run = watch.run(report.report_id)
    assert _delivery(watch, report.report_id) == "failed after 5 attempt(s): HTTP 500"
    assert len(receiver.received) == 5 and run.status == "ok"
    assert "giving up after 5 attempt(s)" in caplog.text


def test_a_refusal_is_not_retried(settings, receiver):
    receiver.statuses = [404]
    watch = build_watch(settings)
    report = _report(watch, receiver.url)
    watch.run(report.report_id)
    assert _delivery(watch, report.report_id) == "failed after 1 attempt(s): HTTP 404"


def test_an_unreachable_webhook_fails_cleanly(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the post: nothing listens there
    watch = build_watch(settings)
    report = _report(watch, f"http://127.0.0.1:{port}/hook")
    watch.run(report.report_id)
    assert _delivery(watch, report.report_id).startswith("failed after 5 attempt(s): ConnectError")


def test_a_slow_receiver_does_not_hold_up_the_run(settings, receiver):
    receiver.hold = threading.Event()
    watch = build_watch(settings)
    report = _report(watch, receiver.url)
    run = watch.run(report.report_id)
    assert run.status == "ok" and run.delivery == "queued" and receiver.received == []
    second = watch.run(report.report_id)  # the next question or run is answered while the post hangs
    assert second.status == "ok"
    receiver.hold.set()
    assert _delivery(watch, report.report_id) == "delivered (attempt 1)"
    assert len(receiver.received) == 2


def test_a_quiet_alert_sends_nothing(settings, receiver):
    from watch import AlertRule

    watch = build_watch(settings)
    alert = watch.add_alert("purchases", AlertRule(measure="purchases"), "@daily", webhook=receiver.url)
    run = watch.run(alert.report_id)
    assert run.status == "ok" and run.delivery == ""
    assert watch.deps.sender.join(5) and receiver.received == []
