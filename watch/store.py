"""Saved reports and alerts, their runs and webhook deliveries, in one small SQLite file in the data dir.

A run is keyed by (report, slot): the scheduled minute it belongs to. Claiming a slot is an INSERT that
only one process can win, so two servers sharing a data dir run each slot once.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

WATCH_DB_NAME = "watch.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watch_reports (
    report_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('report', 'alert')),
    owner       TEXT NOT NULL,
    user_scope  TEXT,
    body        TEXT NOT NULL,
    schedule    TEXT NOT NULL,
    webhook     TEXT,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watch_runs (
    report_id   TEXT NOT NULL,
    slot        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    text        TEXT NOT NULL DEFAULT '',
    payload     TEXT NOT NULL DEFAULT '{}',
    delivery    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (report_id, slot)
);
"""

Kind = Literal["report", "alert"]


class UnknownReport(LookupError):
    """A report id that is not in the store (or not the caller's)."""


def now_text() -> str:
    """The current UTC time as stored (ISO, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Report:
    """A saved report (tool calls re-run as they are) or an alert (a measure checked against its band)."""

    report_id: str
    name: str
    kind: Kind
    owner: str
    user_scope: str | None
    body: dict[str, Any]
    schedule: str
    webhook: str | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """The report as the API and ``--json`` show it."""
        return dict(self.__dict__)


@dataclass
class Run:
    """One run of a report: its slot, outcome, text and what the UI shows (tables, charts, alert)."""

    report_id: str
    slot: str
    started_at: str
    finished_at: str | None = None
    status: str = "running"
    text: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    delivery: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The run as the API and ``--json`` show it."""
        return dict(self.__dict__)


class WatchStore:
    """Reports and runs in SQLite; safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> WatchStore:
        """The store of a data dir."""
        return cls(Path(data_dir) / WATCH_DB_NAME)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.row_factory = sqlite3.Row
        return conn

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            conn = self._connect()
            try:
                return conn.execute(sql, args).fetchall()
            finally:
                conn.close()

    def add(
        self,
        *,
        name: str,
        kind: Kind,
        owner: str,
        user_scope: str | None,
        body: dict[str, Any],
        schedule: str,
        webhook: str | None,
    ) -> Report:
        """Store a new report; its id is returned with it."""
        report = Report(f"w{secrets.token_hex(5)}", name, kind, owner, user_scope, body, schedule, webhook, now_text())
        self._query(
            "INSERT INTO watch_reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (report.report_id, name, kind, owner, user_scope, json.dumps(body), schedule, webhook, report.created_at),
        )
        return report

    def reports(self, owner: str | None = None) -> list[Report]:
        """Every report, or only ``owner``'s, oldest first."""
        sql, args = "SELECT * FROM watch_reports", ()
        if owner is not None:
            sql, args = sql + " WHERE owner = ?", (owner,)
        return [_report(row) for row in self._query(sql + " ORDER BY created_at, report_id", args)]

    def get(self, report_id: str, owner: str | None = None) -> Report:
        """One report; UnknownReport when absent or another owner's."""
        rows = self._query("SELECT * FROM watch_reports WHERE report_id = ?", (report_id,))
        if not rows or (owner is not None and rows[0]["owner"] != owner):
            raise UnknownReport(
                f"no report {report_id!r}"
                + (" for this key" if owner else "")
                + "; list them with `uba watch list` or GET /v1/watch"
            )
        return _report(rows[0])

    def remove(self, report_id: str, owner: str | None = None) -> Report:
        """Delete a report and its runs."""
        report = self.get(report_id, owner)
        self._query("DELETE FROM watch_runs WHERE report_id = ?", (report_id,))
        self._query("DELETE FROM watch_reports WHERE report_id = ?", (report_id,))
        return report

    def claim(self, report_id: str, slot: str) -> Run | None:
        """Start the run of ``slot``; None when another process (or an earlier call) already has it."""
        run = Run(report_id, slot, now_text())
        rows = self._query(
            "INSERT INTO watch_runs (report_id, slot, started_at, status) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (report_id, slot) DO NOTHING RETURNING slot",
            (report_id, slot, run.started_at, run.status),
        )
        return run if rows else None

    def finish(self, run: Run) -> None:
        """Record a run's outcome."""
        run.finished_at = now_text()
        self._query(
            "UPDATE watch_runs SET finished_at = ?, status = ?, text = ?, payload = ?, delivery = ? "
            "WHERE report_id = ? AND slot = ?",
            (
                run.finished_at,
                run.status,
                run.text,
                json.dumps(run.payload, default=str),
                run.delivery,
                run.report_id,
                run.slot,
            ),
        )

    def set_delivery(self, report_id: str, slot: str, delivery: str) -> None:
        """Record how the webhook delivery of a run went."""
        self._query("UPDATE watch_runs SET delivery = ? WHERE report_id = ? AND slot = ?", (delivery, report_id, slot))

    def runs(self, report_id: str | None = None, *, limit: int = 20, owner: str | None = None) -> list[Run]:
        """The latest runs, newest first: of one report, or of every report (of ``owner``)."""
        sql = "SELECT r.* FROM watch_runs r JOIN watch_reports w USING (report_id) WHERE 1 = 1"
        args: list[Any] = []
        if report_id is not None:
            sql, args = sql + " AND r.report_id = ?", [*args, report_id]
        if owner is not None:
            sql, args = sql + " AND w.owner = ?", [*args, owner]
        rows = self._query(sql + " ORDER BY r.started_at DESC, r.slot DESC LIMIT ?", (*args, limit))
        return [
            Run(
                row["report_id"],
                row["slot"],
                row["started_at"],
                row["finished_at"],
                row["status"],
                row["text"],
                json.loads(row["payload"]),
                row["delivery"],
            )
            for row in rows
        ]


def _report(row: sqlite3.Row) -> Report:
    return Report(
        row["report_id"],
        row["name"],
        row["kind"],
        row["owner"],
        row["user_scope"],
        json.loads(row["body"]),
        row["schedule"],
        row["webhook"],
        row["created_at"],
    )
