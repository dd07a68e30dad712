"""Watching the metrics: saved reports re-run on schedules, anomaly alerts, webhook delivery."""

from watch.alerts import AlertCheck, AlertRule
from watch.errors import WatchError
from watch.reports import SavedCall, calls_from_trace
from watch.scheduler import WatchScheduler
from watch.service import Watch, WatchDeps
from watch.store import Report, Run, UnknownReport, WatchStore

__all__ = [
    "AlertCheck",
    "AlertRule",
    "Report",
    "Run",
    "SavedCall",
    "UnknownReport",
    "Watch",
    "WatchDeps",
    "WatchError",
    "WatchScheduler",
    "WatchStore",
    "calls_from_trace",
]
