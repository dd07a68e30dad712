"""The watch service: save reports and alerts, run a slot once, deliver to the webhook and the report list."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from watch.alerts import AlertRule, check_rule, evaluate
from watch.baseline import DEFAULT_Z
from watch.delivery import Delivery, WebhookSender, slack_payload
from watch.errors import WatchError
from watch.reports import SavedCall, check_calls, replay
from watch.schedule import trigger
from watch.store import Report, Run, WatchStore

logger = logging.getLogger(__name__)


@dataclass
class WatchDeps:
    """What the service needs; the tools and the layer come from the analyst's parts (same engines, no model)."""

    store: WatchStore
    tools_for_scope: Callable[[str | None], list]
    safe_sql: Callable[[], Any]
    layer: Callable[[], Any]
    sender: WebhookSender
    z: float = DEFAULT_Z
    ui_url: str | None = None


def check_webhook(url: str | None) -> str | None:
    """``url`` when it is an http(s) URL (None stays None); WatchError otherwise."""
    if url is None or url == "":
        return None
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise WatchError(f"webhook {url!r} is not an http(s) URL; give e.g. https://hooks.slack.com/services/...")
    return url


class Watch:
    """Reports and alerts of one data dir over one warehouse."""

    def __init__(self, deps: WatchDeps) -> None:
        self.deps = deps
        self.store = deps.store

    def add_report(
        self,
        name: str,
        calls: list[SavedCall],
        schedule: str,
        *,
        webhook: str | None = None,
        owner: str = "dev",
        user_scope: str | None = None,
    ) -> Report:
        """Save ``calls`` (validated against the tools' argument models) to run on ``schedule``."""
        trigger(schedule)
        calls = check_calls(calls, self.deps.tools_for_scope(user_scope))
        return self.store.add(
            name=_name(name),
            kind="report",
            owner=owner,
            user_scope=user_scope,
            body={"calls": [c.model_dump() for c in calls]},
            schedule=schedule,
            webhook=check_webhook(webhook),
        )

    def add_alert(
        self,
        name: str,
        rule: AlertRule,
        schedule: str,
        *,
        webhook: str | None = None,
        owner: str = "dev",
        user_scope: str | None = None,
    ) -> Report:
        """Save an alert on a measure, checked on ``schedule``."""
        trigger(schedule)
        check_rule(rule, self.deps.layer())
        return self.store.add(
            name=_name(name),
            kind="alert",
            owner=owner,
            user_scope=user_scope,
            body={"rule": rule.model_dump(exclude_none=True)},
            schedule=schedule,
            webhook=check_webhook(webhook),
        )

    def run(self, report_id: str, *, slot: str | None = None, owner: str | None = None) -> Run | None:
        """Run ``report_id`` for ``slot`` (None: a manual run now); None when that slot already ran."""
        report = self.store.get(report_id, owner)
        slot = slot or f"manual {datetime.now(UTC).isoformat(timespec='seconds')} {secrets.token_hex(2)}"
        run = self.store.claim(report.report_id, slot)
        if run is None:
            logger.info("report %s slot %s already ran", report_id, slot)
            return None
        try:
            run.status, run.text, run.payload = self._execute(report)
        except WatchError as exc:
            run.status, run.text = "error", str(exc)
            logger.warning("report %s (%s) failed: %s", report.report_id, report.name, exc)
        if report.webhook and run.status in {"ok", "alert"} and (report.kind == "report" or run.status == "alert"):
            run.delivery = "queued"
        self.store.finish(run)
        if run.delivery == "queued":
            self._deliver(report, run)
        return run

    def _execute(self, report: Report) -> tuple[str, str, dict[str, Any]]:
        if report.kind == "report":
            calls = [SavedCall.model_validate(c) for c in report.body["calls"]]
            done = replay(calls, self.deps.tools_for_scope(report.user_scope))
            return (
                "ok",
                done.text,
                {"tables": [t.model_dump() for t in done.tables], "charts": [c.model_dump() for c in done.charts]},
            )
        rule = AlertRule.model_validate(report.body["rule"])
        checked = evaluate(self.deps.safe_sql(), self.deps.layer(), rule, user_scope=report.user_scope, z=self.deps.z)
        payload = {
            "alert": checked.model_dump(exclude={"chart"}),
            "charts": [{"title": checked.measure, "format": "plotly", "spec": checked.chart}],
        }
        return ("alert" if checked.direction else "ok"), checked.text, payload

    def _deliver(self, report: Report, run: Run) -> None:
        link = f"{self.deps.ui_url}#report-{report.report_id}" if self.deps.ui_url else None
        payload = slack_payload(f"uba {report.kind}: {report.name}", run.text, link)
        payload["uba"] = {"report_id": report.report_id, "slot": run.slot, "status": run.status}

        def done(outcome: str) -> None:
            self.store.set_delivery(report.report_id, run.slot, outcome)

        self.deps.sender.send(Delivery(report.webhook, payload, done))


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 120:
        raise WatchError(f"report name {name!r} must be 1 to 120 characters")
    return name
