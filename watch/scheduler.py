"""Running saved reports on their schedules inside ``uba serve`` (APScheduler, one background thread).

The jobs are rebuilt from the watch store at start and every ``sync_s`` seconds (reports added from the
CLI or another process are picked up); the store's (report, slot) key makes a slot run once even when
two servers share the data dir.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from watch.errors import WatchError
from watch.schedule import slot, trigger
from watch.service import Watch

logger = logging.getLogger(__name__)

_SYNC_JOB = "uba-watch-sync"


class WatchScheduler:
    """Fires each report at its cron times and runs its slot through :class:`Watch`."""

    def __init__(self, watch: Watch, *, sync_s: float = 60.0) -> None:
        self.watch = watch
        self.sync_s = sync_s
        self._scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        self._schedules: dict[str, str] = {}

    def start(self) -> None:
        """Load the reports and start firing them."""
        self.sync()
        self._scheduler.add_job(self.sync, "interval", seconds=self.sync_s, id=_SYNC_JOB, replace_existing=True)
        self._scheduler.start()
        logger.info("watch scheduler started with %d report(s)", len(self._schedules))

    def sync(self) -> None:
        """Add jobs for new reports and drop those of removed ones."""
        current = {r.report_id: r.schedule for r in self.watch.store.reports()}
        for report_id in set(self._schedules) - set(current):
            self._scheduler.remove_job(report_id)
            del self._schedules[report_id]
        for report_id, schedule in current.items():
            if self._schedules.get(report_id) == schedule:
                continue
            try:
                cron = trigger(schedule)
            except WatchError as exc:
                logger.error("report %s is not scheduled: %s", report_id, exc)
                continue
            self._scheduler.add_job(self.fire, cron, args=[report_id], id=report_id, replace_existing=True)
            self._schedules[report_id] = schedule

    def fire(self, report_id: str, at: datetime | None = None) -> None:
        """Run the slot of ``at`` (now) for one report; errors are logged, never raised into the scheduler."""
        try:
            self.watch.run(report_id, slot=slot(at or datetime.now(UTC)))
        except LookupError:
            logger.info("report %s was removed before its run", report_id)
        except Exception:  # noqa: BLE001 - a scheduled job must not take the scheduler down; it is logged
            logger.exception("scheduled run of report %s failed", report_id)

    def next_runs(self) -> dict[str, str]:
        """Each scheduled report's next fire time."""
        return {
            job.id: job.next_run_time.isoformat(timespec="minutes")
            for job in self._scheduler.get_jobs()
            if job.id != _SYNC_JOB and job.next_run_time
        }

    def shutdown(self) -> None:
        """Stop firing (running jobs finish)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
