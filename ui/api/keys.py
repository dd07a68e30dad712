"""API keys: created once, shown once, stored only as a SHA-256 hash in SQLite in the data dir."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_KEY_RE = re.compile(r"^uba_([0-9a-f]{12})_([A-Za-z0-9_-]{20,64})$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id       TEXT PRIMARY KEY,
    key_hash     TEXT NOT NULL,
    user_scope   TEXT,
    rate_per_min INTEGER,
    label        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
"""


class UnknownKey(LookupError):
    """A key id that is not in the store."""


@dataclass(frozen=True)
class ApiKey:
    """One stored key, without its secret."""

    key_id: str
    user_scope: str | None
    rate_per_min: int | None
    label: str
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_rate(text: str) -> int:
    """``"30/min"`` or ``"30"`` → 30 requests per minute."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:/\s*min)?\s*", text)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"rate {text!r} is not a positive number of requests per minute; write e.g. '30/min'")
    return int(match.group(1))


API_DB_NAME = "api.sqlite"
"""The SQLite file in the data dir holding API keys and thread history."""


class KeyStore:
    """The API keys of one data dir (``<data_dir>/api.sqlite``)."""

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> KeyStore:
        """The key store of ``data_dir``."""
        return cls(Path(data_dir) / API_DB_NAME)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; no fsync on every question
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def create(
        self, *, user_scope: str | None = None, rate_per_min: int | None = None, label: str = ""
    ) -> tuple[str, ApiKey]:
        """A new key: returns the full secret token (shown once) and its stored record."""
        if user_scope is not None and not user_scope.strip():
            raise ValueError("user scope is empty; pass the end user's id, e.g. --user-scope 4711")
        if rate_per_min is not None and rate_per_min < 1:
            raise ValueError(f"rate {rate_per_min!r} must be at least 1 request per minute")
        key_id = secrets.token_hex(6)
        token = f"uba_{key_id}_{secrets.token_urlsafe(24)}"
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute(
                "INSERT INTO api_keys (key_id, key_hash, user_scope, rate_per_min, label, created_at) VALUES (?,?,?,?,?,?)",
                (key_id, _hash(token), user_scope, rate_per_min, label, created),
            )
        return token, ApiKey(key_id, user_scope, rate_per_min, label, created, None)

    def verify(self, token: str) -> ApiKey | None:
        """The active key matching ``token``, or None."""
        match = _KEY_RE.match(token or "")
        if not match:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT key_id, key_hash, user_scope, rate_per_min, label, created_at, revoked_at "
                "FROM api_keys WHERE key_id = ?",
                (match.group(1),),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[1], _hash(token)) or row[6] is not None:
            return None
        return ApiKey(row[0], row[2], row[3], row[4], row[5], row[6])

    def get(self, key_id: str) -> ApiKey | None:
        """The stored key ``key_id`` (active or not), or None."""
        return next((k for k in self.list() if k.key_id == key_id), None)

    def list(self) -> list[ApiKey]:
        """Every key, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, user_scope, rate_per_min, label, created_at, revoked_at FROM api_keys "
                "ORDER BY created_at DESC, key_id"
            ).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke ``key_id`` (idempotent); raises UnknownKey when absent."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            cur = self._db.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?", (now, key_id)
            )
            if cur.rowcount == 0:
                raise UnknownKey(f"no API key with id {key_id!r}; see `uba keys list` for the ids")
        return next(k for k in self.list() if k.key_id == key_id)

    def has_active(self) -> bool:
        """True when at least one key can authenticate."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1").fetchone() is not None

    def close(self) -> None:
        """Close the database."""
        self._db.close()
