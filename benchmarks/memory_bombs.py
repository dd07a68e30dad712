"""Memory bombs against DuckDB's engine wall with the guard off: peak memory and time, one and two at once.

Each row runs in a fresh process (so its peak resident memory is its own) on an empty warehouse:
``SELECT length(string_agg(repeat('x', 100000000), '')) FROM generate_series(1, 30)`` straight on
the read-only connection, the guard skipped. Without a memory limit this peaked at 7.1 GB; the
wall's limit is what is measured here.

    .venv/bin/python benchmarks/memory_bombs.py [--budget-mb 2048] [--timeout-s 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BOMB = "SELECT length(string_agg(repeat('x', 100000000), '')) FROM generate_series(1, 30)"

_CHILD = """
import json, sys, threading, time
sys.path.insert(0, {root!r})
from warehouse import Warehouse
from warehouse.readonly import ReadOnlyWarehouse
wh = Warehouse.open({url!r}); wh.create_schema(); wh.dispose()
ro = ReadOnlyWarehouse({url!r}, timeout_s={timeout}, memory_limit_mb={budget})
outcomes = []
def bomb(scope):
    t = time.perf_counter()
    try:
        ro.query({bomb!r}, user_scope=scope); outcomes.append(("finished", time.perf_counter() - t))
    except Exception as exc:
        outcomes.append((type(exc).__name__, time.perf_counter() - t))
threads = [threading.Thread(target=bomb, args=(s,)) for s in {scopes!r}]
[t.start() for t in threads]; [t.join() for t in threads]
peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))
print(json.dumps({{"outcomes": outcomes, "peak_mb": peak / 1024}}))
"""


def run(scopes: list[str | None], budget: int, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        code = _CHILD.format(
            root=str(Path(__file__).resolve().parents[1]),
            url=f"duckdb:///{tmp}/w.duckdb",
            timeout=timeout,
            budget=budget,
            bomb=BOMB,
            scopes=scopes,
        )
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["wall_s"] = time.perf_counter() - started
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-mb", type=int, default=2048)
    parser.add_argument("--timeout-s", type=float, default=10.0)
    args = parser.parse_args()
    rows = [
        ("1 bomb, unscoped reader", [None]),
        ("2 bombs, unscoped reader", [None, None]),
        ("2 bombs, two scoped users", ["u1", "u2"]),
    ]
    print(f"budget {args.budget_mb} MB, timeout {args.timeout_s:g} s, guard off")
    print(f"{'case':<28} {'peak MB':>8} {'peak/budget':>11} {'slowest s':>9} {'slowest/timeout':>15}  outcomes")
    for name, scopes in rows:
        r = run(scopes, args.budget_mb, args.timeout_s)
        slowest = max(s for _, s in r["outcomes"])
        kinds = ", ".join(sorted({k for k, _ in r["outcomes"]}))
        print(
            f"{name:<28} {r['peak_mb']:>8.0f} {r['peak_mb'] / args.budget_mb:>11.2f} {slowest:>9.1f} "
            f"{slowest / args.timeout_s:>15.2f}  {kinds}"
        )


if __name__ == "__main__":
    main()
