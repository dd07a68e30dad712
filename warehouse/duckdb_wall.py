"""DuckDB's half of the engine wall: the reader only ever opens a masked copy, a scoped reader only its user's rows.

DuckDB has no grants, so confinement is physical. The read-only connection opens a *reader copy*
of the warehouse (``<name>.reader-<stamp>.duckdb`` beside it): only allow-listed tables and
columns, ``users.email`` already masked when written (so no raw address is in the file at all).
A scoped caller gets a private read-only database holding only that user's rows (review text
with contact details masked), cut from the reader copy, which is detached before it is opened. Every connection
is locked before any query runs: external access off, no allowed directories, no temp
directory (nothing spills, nothing can be written), a memory limit.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warehouse.errors import ConnectionFailed
from warehouse.sql_policy import USER_SCOPE_FILTERS, SqlPolicy, text_pii_mask

if TYPE_CHECKING:
    import duckdb

logger = logging.getLogger(__name__)

SCOPE_CACHE = 4
"""Scoped in-memory databases kept open (least recently used dropped first)."""


_OPEN_CONFIG: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def lock(conn, memory_limit_mb: int) -> None:
    """Finish a reader connection before its first query: in this order (external access off freezes the
    directories), then the configuration locked so no statement can undo it. A reader copy this process
    already opened (DuckDB shares one instance per file) is locked already."""
    external, locked = conn.execute(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration')"
    ).fetchone()
    if locked:
        if external:
            raise ConnectionFailed("a reader copy is open in this process with file access on; restart the process")
        return
    for setting, value in (
        ("temp_directory", ""),
        ("max_temp_directory_size", "0B"),
        ("memory_limit", f"{memory_limit_mb}MB"),
        ("allowed_directories", []),
        ("enable_external_access", False),
        ("lock_configuration", True),
    ):
        conn.execute(f"SET {setting} = ?", [value])


def _stamp(path: Path) -> str:
    """Changes whenever the warehouse file (or its write-ahead log) does."""
    parts = []
    for candidate in (path, path.with_name(path.name + ".wal")):
        if candidate.exists():
            st = candidate.stat()
            parts.append(f"{candidate.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _source_columns(conn, catalog: str) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
        "ORDER BY table_name, column_index",
        [catalog],
    ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table.lower(), []).append(column)
    return found


class DuckDbWall:
    """The reader copy of one warehouse file and the scoped databases cut from it."""

    def __init__(self, warehouse_path: str, *, memory_limit_mb: int, policy: SqlPolicy | None = None) -> None:
        self.source = Path(warehouse_path).resolve()
        if not self.source.exists():
            raise ConnectionFailed(f"no DuckDB warehouse at {str(self.source)!r}; build it first (uba data demo)")
        self.policy = policy or SqlPolicy.canonical()
        self.memory_limit_mb = max(64, memory_limit_mb)
        self._lock = threading.Lock()
        self._stamp: str | None = None
        self._reader: duckdb.DuckDBPyConnection | None = None
        self._scopes: OrderedDict[str, tuple[object, Path]] = OrderedDict()

    def reader_path(self, stamp: str) -> Path:
        """Where the reader copy for this version of the warehouse lives."""
        return self.source.with_name(f"{self.source.stem}.reader-{stamp}.duckdb")

    # -- the reader copy ------------------------------------------------------------------------
    def _build(self, target: Path) -> None:
        import duckdb

        partial = target.with_name(target.name + f".{os.getpid()}.{threading.get_ident()}.part")
        partial.unlink(missing_ok=True)
        try:
            with duckdb.connect(str(partial)) as conn:
                conn.execute(f"ATTACH '{_quoted(self.source)}' AS src (READ_ONLY)")
                present = _source_columns(conn, "src")
                for name in self.policy.tables:
                    if name in present:
                        conn.execute(
                            f'CREATE TABLE main."{name}" AS SELECT '
                            f'{self.policy.wall_columns(name, present[name])} FROM src.main."{name}"'
                        )
                conn.execute("DETACH src")
                conn.execute("CHECKPOINT")
            os.replace(partial, target)
        except duckdb.Error as exc:
            partial.unlink(missing_ok=True)
            raise ConnectionFailed(
                f"cannot read {str(self.source)!r} to build its reader copy: {exc}; "
                "close any writer of the warehouse and retry"
            ) from None
        for old in self.source.parent.glob(f"{self.source.stem}.reader-*.duckdb"):
            if old != target:
                old.unlink(missing_ok=True)
        logger.info("reader copy of %s written to %s", self.source, target)

    def reader(self):
        """The locked, read-only connection to the current reader copy (rebuilt when the warehouse changed)."""
        import duckdb

        stamp = _stamp(self.source)
        with self._lock:
            if stamp == self._stamp and self._reader is not None:
                return self._reader
            target = self.reader_path(stamp)
            if not target.exists():
                try:
                    self._build(target)
                except ConnectionFailed:
                    if self._reader is not None:  # a writer holds the file: keep serving the last copy
                        logger.warning("warehouse %s changed but is busy; reading the previous copy", self.source)
                        return self._reader
                    raise
            reader = duckdb.connect(str(target), read_only=True, config=_OPEN_CONFIG)
            lock(reader, self.memory_limit_mb // 2)
            self._reader = reader
            self._stamp = stamp
            for conn, folder in self._scopes.values():
                _drop(conn, folder)
            self._scopes.clear()
            return self._reader

    # -- scoped databases -------------------------------------------------------------------------
    def scoped(self, user_scope: str):
        """A locked, read-only database holding only ``user_scope``'s rows (and the item catalogue)."""
        import duckdb

        self.reader()
        with self._lock:
            stamp = self._stamp or ""  # set by reader()
            key = f"{stamp}\x00{user_scope}"
            if key in self._scopes:
                self._scopes.move_to_end(key)
                return self._scopes[key][0]
            folder = Path(tempfile.mkdtemp(prefix="uba-scope-"))  # private (0700), removed with the scope
            path = folder / "scope.duckdb"
            try:
                with duckdb.connect(str(path), config=_OPEN_CONFIG) as build:
                    build.execute(f"ATTACH '{_quoted(self.reader_path(stamp))}' AS src (READ_ONLY)")
                    present = _source_columns(build, "src")
                    for name in (n for n in self.policy.tables if n in present):
                        where = USER_SCOPE_FILTERS.get(name)
                        sql = (
                            f'CREATE TABLE main."{name}" AS SELECT '
                            f'{self.policy.wall_columns(name, present[name], text=text_pii_mask)} FROM src.main."{name}"'
                        )
                        if where:
                            sql += " WHERE " + where.format(schema="src.main").replace(":user", "?")
                        build.execute(sql, [user_scope] * (where or "").count(":user"))
                    build.execute("DETACH src")
                conn = duckdb.connect(str(path), read_only=True, config=_OPEN_CONFIG)
                lock(conn, self.memory_limit_mb // (2 * SCOPE_CACHE))
            except duckdb.Error as exc:
                shutil.rmtree(folder, ignore_errors=True)
                raise ConnectionFailed(
                    f"cannot cut the rows of user {user_scope!r} from the reader copy: {exc}"
                ) from None
            self._scopes[key] = (conn, folder)
            while len(self._scopes) > SCOPE_CACHE:
                _drop(*self._scopes.popitem(last=False)[1])
            return conn

    def close(self) -> None:
        """Release the reader copy and every scoped database."""
        with self._lock:
            for conn, folder in self._scopes.values():
                _drop(conn, folder, close=True)
            self._scopes.clear()
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            self._stamp = None


def _drop(conn, folder: Path, *, close: bool = False) -> None:
    """Forget a scoped database; unless ``close``, a query still running on it keeps its open file."""
    if close:
        conn.close()
    shutil.rmtree(folder, ignore_errors=True)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
