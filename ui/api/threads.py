"""Conversation threads as the API sees them: who owns each one and its question/answer turns."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id  TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    thread_id  TEXT NOT NULL REFERENCES threads(thread_id),
    seq        INTEGER NOT NULL,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
"""


class ThreadOwnedElsewhere(PermissionError):
    """The thread id belongs to another API key."""


class ThreadStore:
    """Thread ownership and history in ``<data_dir>/api.sqlite``."""

    def __init__(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; no fsync on every question
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def claim(self, thread_id: str, owner: str) -> None:
        """Create the thread for ``owner``, or check that ``owner`` already holds it."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO threads (thread_id, owner, created_at) VALUES (?,?,?)", (thread_id, owner, now)
            )
            row = self._db.execute("SELECT owner FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
        if row[0] != owner:
            raise ThreadOwnedElsewhere(thread_id)

    def append(self, thread_id: str, question: str, answer: dict[str, Any]) -> None:
        """Record one finished turn."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute(
                "INSERT INTO turns (thread_id, seq, question, answer, created_at) "
                "SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ? FROM turns WHERE thread_id = ?",
                (thread_id, question, json.dumps(answer, default=str), now, thread_id),
            )

    def get(self, thread_id: str, owner: str) -> dict[str, Any] | None:
        """The thread with its turns, or None when absent or owned by someone else."""
        with self._lock:
            row = self._db.execute("SELECT owner, created_at FROM threads WHERE thread_id = ?", (thread_id,)).fetchone()
            if row is None or row[0] != owner:
                return None
            turns = self._db.execute(
                "SELECT seq, question, answer, created_at FROM turns WHERE thread_id = ? ORDER BY seq", (thread_id,)
            ).fetchall()
        return {
            "id": thread_id,
            "created_at": row[1],
            "turns": [
                {"seq": seq, "question": q, "answer": json.loads(a), "created_at": at} for seq, q, a, at in turns
            ],
        }

    def close(self) -> None:
        """Close the database."""
        self._db.close()
