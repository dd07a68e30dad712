"""Schedules: five-field crontab lines (or @hourly, @daily, @weekly, @monthly) as APScheduler cron triggers."""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from watch.errors import WatchError

ALIASES = {"@hourly": "0 * * * *", "@daily": "0 8 * * *", "@weekly": "0 8 * * mon", "@monthly": "0 8 1 * *"}
"""Named schedules; the daily and weekly ones deliver at 08:00 (Monday for weekly)."""


def trigger(schedule: str, timezone: str = "UTC") -> CronTrigger:
    """The cron trigger of ``schedule``; WatchError naming the line and the expected form when invalid."""
    line = ALIASES.get(schedule.strip(), schedule.strip())
    if len(line.split()) != 5:
        raise WatchError(
            f"schedule {schedule!r} is not a crontab line; write five fields 'minute hour day month "
            f"weekday' such as '0 8 * * mon' (Mondays 08:00), or one of {', '.join(ALIASES)}"
        )
    try:
        return CronTrigger.from_crontab(line, timezone=timezone)
    except ValueError as exc:
        raise WatchError(
            f"schedule {schedule!r} is invalid ({exc}); write e.g. '0 8 * * mon' or '*/15 * * * *'"
        ) from None


def slot(fired: datetime) -> str:
    """The run slot of a firing: its minute, so every process firing the same cron time names the same slot."""
    return fired.replace(second=0, microsecond=0).isoformat(timespec="minutes")


def next_fire(schedule: str, after: datetime) -> datetime | None:
    """When ``schedule`` fires next after ``after`` (for the list of reports)."""
    cron = trigger(schedule)
    return cron.get_next_fire_time(None, after)
