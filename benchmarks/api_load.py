"""Load on a live ``uba serve`` (fake LLM by rules, real tools, real SQLite memory) from loopback clients.

Run: ``nice -n 10 .venv/bin/python benchmarks/api_load.py [--sessions 50] [--questions 20]``

Builds a small demo warehouse in a temp dir, creates one API key, starts ``uba serve`` on a free
127.0.0.1 port and runs ``sessions`` concurrent conversations (asyncio + httpx), each asking
``questions`` questions in turn on its own thread, rotating over /v1/chat/completions (plain and
``stream=true``) and /v1/ask. The server reports, per question, the wait for one of its analyst
workers and the analyst's run (``Server-Timing``, or ``uba_timing`` on the last SSE chunk);
server overhead = client-observed latency − wait − analyst run: HTTP, auth, limits, thread
bookkeeping, JSON/SSE encoding and the hand-offs between the event loop and the worker.
Memory is the server's RSS (``/proc/<pid>/status``) after a warm-up and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "tests" / "ui" / "fake_rules.yaml"
QUESTIONS = [
    "Which items sell the most?",
    "How many purchases were made per week?",
    "What do 1-star reviews complain about?",
]
MODES = ["chat", "stream", "ask"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _timing(header: str) -> dict[str, float]:
    parts = dict(part.strip().split(";dur=") for part in header.split(","))
    return {f"{name}_ms": float(value) for name, value in parts.items()}


async def _one(client: httpx.AsyncClient, mode: str, question: str, thread_id: str | None) -> tuple[float, dict, str]:
    """One question; returns (client ms, the server's timing in ms: queue and analyst, thread id)."""
    started = time.perf_counter()
    headers = {"X-Thread-Id": thread_id} if thread_id else {}
    if mode == "ask":
        response = await client.post("/v1/ask", json={"question": question}, headers=headers)
        response.raise_for_status()
        answer, timing = response.json(), _timing(response.headers["server-timing"])
    elif mode == "chat":
        response = await client.post(
            "/v1/chat/completions",
            headers=headers,
            json={"model": "uba", "messages": [{"role": "user", "content": question}]},
        )
        response.raise_for_status()
        answer, timing = response.json()["uba"], _timing(response.headers["server-timing"])
    else:
        answer = timing = None
        async with client.stream(
            "POST",
            "/v1/chat/completions",
            headers=headers,
            json={"model": "uba", "stream": True, "messages": [{"role": "user", "content": question}]},
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("data: {") and '"uba": {' in line:
                    final = json.loads(line[6:])
                    answer, timing = final["uba"], final["uba_timing"]
        if answer is None:
            raise RuntimeError("stream ended without the final answer")
    elapsed = (time.perf_counter() - started) * 1000
    if answer["status"] != "ok" or not answer["tables"]:
        raise RuntimeError(f"answer without evidence: {answer['text'][:200]!r}")
    return elapsed, timing, answer["thread_id"]


async def _session(client, index: int, questions: int, results: list, errors: list) -> None:
    thread_id = None
    for n in range(questions):
        mode = MODES[(index + n) % len(MODES)]
        try:
            elapsed, timing, thread_id = await _one(client, mode, QUESTIONS[(index + n) % len(QUESTIONS)], thread_id)
            results.append((mode, elapsed, timing))
        except (httpx.HTTPError, RuntimeError, KeyError) as exc:
            errors.append(f"{mode}: {type(exc).__name__}: {str(exc)[:200]}")


async def _load(url: str, key: str, sessions: int, questions: int) -> tuple[list, list, float]:
    limits = httpx.Limits(max_connections=sessions + 5, max_keepalive_connections=sessions + 5)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120, limits=limits
    ) as client:
        results: list = []
        errors: list = []
        started = time.perf_counter()
        await asyncio.gather(*(_session(client, i, questions, results, errors) for i in range(sessions)))
        return results, errors, time.perf_counter() - started


def _prepare(data_dir: Path) -> str:
    from agent.factory import open_warehouse
    from agent.settings import Settings
    from ui.api.keys import KeyStore
    from warehouse.demo import generate_demo

    warehouse = open_warehouse(Settings(data_dir=data_dir))
    generate_demo(warehouse, users=500, days=30, seed=7)
    warehouse.dispose()
    token, _ = KeyStore.in_data_dir(data_dir).create(rate_per_min=1_000_000, label="load benchmark")
    return token


def _start(data_dir: Path, concurrency: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UBA_")}
    env.update(
        {
            "UBA_DATA_DIR": str(data_dir),
            "UBA_LLM_BACKEND": "fake",
            "UBA_LLM_FAKE_RULES": str(RULES),
            "UBA_API_CONCURRENCY": str(concurrency),
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("uba")), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).json().get("analyst_loaded"):
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("uba serve did not become ready within 300 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8, help="UBA_API_CONCURRENCY of the server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uba-load-") as tmp:
        data_dir = Path(tmp)
        key = _prepare(data_dir)
        process, url = _start(data_dir, args.concurrency)
        try:
            asyncio.run(_load(url, key, sessions=5, questions=3))  # warm-up: every code path once
            rss_before = _rss_mib(process.pid)
            results, errors, wall = asyncio.run(_load(url, key, args.sessions, args.questions))
            rss_after = _rss_mib(process.pid)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    total = args.sessions * args.questions

    def p50_p99(values: list[float]) -> str:
        return f"{_percentile(values, 0.5):.0f} / {_percentile(values, 0.99):.0f} ms" if values else "-"

    def overhead(items) -> list[float]:
        return [elapsed - t["queue_ms"] - t["analyst_ms"] for _, elapsed, t in items]

    rows = [
        (
            "questions (sessions x questions)",
            f"{total} ({args.sessions} x {args.questions}), {args.concurrency} workers",
        ),
        ("answered / errors", f"{len(results)} / {len(errors)}"),
        ("throughput", f"{len(results) / wall:.1f} questions/s over {wall:.1f} s"),
        ("client latency p50 / p99", p50_p99([e for _, e, _ in results])),
        ("  waiting for a worker p50 / p99", p50_p99([t["queue_ms"] for _, _, t in results])),
        ("  analyst (graph, tools, fake LLM) p50 / p99", p50_p99([t["analyst_ms"] for _, _, t in results])),
        ("  server overhead p50 / p99", p50_p99(overhead(results))),
        ("server RSS after warm-up / end", f"{rss_before:.0f} / {rss_after:.0f} MiB ({rss_after - rss_before:+.0f})"),
    ]
    for mode in MODES:
        rows.append((f"  server overhead p50 / p99, {mode}", p50_p99(overhead([r for r in results if r[0] == mode]))))
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    for line in errors[:5]:
        print("error:", line)


if __name__ == "__main__":
    main()
