"""Conversation memory: LangGraph checkpointers keyed by thread id (SQLite file or PostgreSQL)."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

from agent.errors import AgentError

logger = logging.getLogger(__name__)


class MemoryUrlError(AgentError, ValueError):
    """The memory URL is not one uba can open."""


def thread_key(thread_id: str, *, owner: str | None = None, user_scope: str | None = None) -> str:
    """The checkpointer key of a conversation: an unambiguous encoding of (owner, user scope, thread id).

    A JSON array, so no choice of ids can make two callers' keys equal (``"5:x"`` + ``"y"`` and
    ``"5"`` + ``"x:y"`` stay apart, and so do an unscoped caller's thread and a scoped one's).
    """
    return json.dumps([owner, user_scope, thread_id], separators=(",", ":"))


def open_checkpointer(url: str) -> BaseCheckpointSaver:
    """A checkpointer for ``sqlite:///path`` or ``postgresql[+driver]://...``, tables created if missing."""
    if url.startswith("sqlite:///"):
        from langgraph.checkpoint.sqlite import SqliteSaver

        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by worker threads; SqliteSaver serialises access with its own lock.
        conn = sqlite3.connect(str(path), check_same_thread=False)
        saver = SqliteSaver(conn)
        saver.setup()
        return saver
    if url.startswith("postgresql"):
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        libpq_url = "postgresql://" + url.split("://", 1)[1]
        try:
            conn = psycopg.connect(libpq_url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        except psycopg.OperationalError as exc:
            raise MemoryUrlError(
                f"cannot open conversation memory at {url.split('@')[-1]!r}: {exc}; "
                "check UBA_MEMORY_URL / UBA_WAREHOUSE_URL"
            ) from exc
        saver = PostgresSaver(conn)
        saver.setup()
        return saver
    raise MemoryUrlError(f"memory URL {url!r} is not supported; use sqlite:///path or postgresql://user@host/db")
