"""The audit log: one row per call through the MCP surface (who, which tool, what arguments, the outcome)."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    surface     TEXT NOT NULL,
    owner       TEXT NOT NULL,
    user_scope  TEXT,
    action      TEXT NOT NULL,
    args        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    duration_ms REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS audit_owner ON audit (owner, id);
"""

MAX_ARGS_CHARS = 2_000
MAX_DETAIL_CHARS = 500


@dataclass(frozen=True)
class AuditEntry:
    """One recorded call."""

    id: int
    at: str
    surface: str
    owner: str
    user_scope: str | None
    action: str
    args: dict[str, Any]
    outcome: str
    detail: str
    duration_ms: float


def _args_text(args: dict[str, Any]) -> str:
    text = json.dumps(args, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= MAX_ARGS_CHARS else json.dumps({"truncated": text[:MAX_ARGS_CHARS]})


class AuditLog:
    """The audit rows of one data dir, in the API's SQLite file (``<data_dir>/api.sqlite``)."""

    def __init__(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def record(
        self,
        *,
        surface: str,
        owner: str,
        user_scope: str | None,
        action: str,
        args: dict[str, Any],
        outcome: str,
        detail: str = "",
        duration_ms: float = 0.0,
    ) -> None:
        """Append one call (``outcome``: ok, error, invalid, refused, rate_limited, unknown)."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._lock:
            self._db.execute(
                "INSERT INTO audit (at, surface, owner, user_scope, action, args, outcome, detail, duration_ms) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    now,
                    surface,
                    owner,
                    user_scope,
                    action,
                    _args_text(args),
                    outcome,
                    detail[:MAX_DETAIL_CHARS],
                    round(duration_ms, 1),
                ),
            )

    def recent(self, limit: int = 50, *, owner: str | None = None) -> list[AuditEntry]:
        """The latest ``limit`` calls, newest first (only ``owner``'s when given)."""
        where, params = ("WHERE owner = ?", (owner, limit)) if owner else ("", (limit,))
        with self._lock:
            rows = self._db.execute(
                "SELECT id, at, surface, owner, user_scope, action, args, outcome, detail, duration_ms FROM audit "
                f"{where} ORDER BY id DESC LIMIT ?",
                params,
            ).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8], r[9]) for r in rows]

    def close(self) -> None:
        """Close the database."""
        self._db.close()
