"""A throwaway PostgreSQL cluster for benchmarks: initdb + pg_ctl on a temp dir, loopback port, trust auth."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("UBA_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_owner(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; there the cluster belongs to 'postgres'.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class ThrowawayPostgres:
    """Start with ``with ThrowawayPostgres() as pg:``; ``pg.new_database()`` gives a fresh URL."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise FileNotFoundError(f"{PG_BIN}/initdb not found; install postgresql-15 or set UBA_TEST_PG_BIN")
        self.root = Path(tempfile.mkdtemp(prefix="uba-bench-pg-"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._count = 0

    def __enter__(self) -> ThrowawayPostgres:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        subprocess.run(
            _as_owner(
                [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
            ),
            check=True,
            capture_output=True,
        )
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c full_page_writes=off -c max_wal_size=4GB -c maintenance_work_mem=512MB"
        )
        subprocess.run(
            _as_owner(
                [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.root / "log"), "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )
        return self

    def new_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        import psycopg

        self._count += 1
        name = f"uba_bench_{self._count}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
                ) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        subprocess.run(
            _as_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)
