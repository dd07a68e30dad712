"""The scale benchmark's tables as Markdown: per size the engines side by side, then the growth between sizes."""

from __future__ import annotations

NAMES = {"duckdb": "DuckDB", "chdb": "chdb"}
LOAD_STEPS = (("load: Parquet ingest", "ingest_s", "ingest_cpu_s"), ("load: step index", "steps_s", "steps_cpu_s"))


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a is not None and b else "-"


def _mib(r: dict) -> str:
    return f"{r['peak_mib']:,.0f}" if "peak_mib" in r else "-"


def _cells(r: dict, wall: str, cpu: str, cold: str | None) -> str:
    if "error" in r:
        return "failed | - | -"
    first = f" ({_s(r.get(cold))})" if cold else ""
    peak = "" if wall == "ingest_s" else _mib(r)  # one child loads: its peak is on the step index row
    return f"{_s(r.get(wall))}{first} | {_s(r.get(cpu))} | {peak}"


def size_table(run: dict, engines: list[str]) -> list[str]:
    both = len(engines) == 2
    head = " | ".join(f"{NAMES[e]} wall s (cold) | {NAMES[e]} CPU s | {NAMES[e]} peak MiB" for e in engines)
    lines = [
        f"| {run['events']:,} events | {head} |" + (" chdb/DuckDB CPU | chdb/DuckDB peak |" if both else ""),
        "|---" * (1 + 3 * len(engines) + 2 * both) + "|",
    ]
    rows = [(name, by, "seconds", "cpu_s", "first_s") for name, by in run["ops"].items()]
    rows += [(step, run["load"], wall, cpu, None) for step, wall, cpu in LOAD_STEPS]
    for name, by, wall, cpu, cold in rows:
        line = f"| {name} | " + " | ".join(_cells(by.get(e, {}), wall, cpu, cold) for e in engines) + " |"
        if both:
            d, c = by.get("duckdb", {}), by.get("chdb", {})
            peak = _ratio(c.get("peak_mib"), d.get("peak_mib")) if name.startswith("load: step") or cold else ""
            line += f" {_ratio(c.get(cpu), d.get(cpu))} | {peak} |"
        lines.append(line)
    return lines


def growth_table(small: dict, big: dict, engines: list[str]) -> list[str]:
    factor = big["events"] / small["events"]
    head = " | ".join(f"{NAMES[e]} wall | {NAMES[e]} CPU | {NAMES[e]} peak" for e in engines)
    lines = [
        f"| {big['events']:,} / {small['events']:,} events ({factor:.0f}x data) | {head} |",
        "|---" * (1 + 3 * len(engines)) + "|",
    ]
    rows = [(name, by, small["ops"].get(name, {}), "seconds", "cpu_s") for name, by in big["ops"].items()]
    rows += [(step, big["load"], small["load"], wall, cpu) for step, wall, cpu in LOAD_STEPS]
    for name, now, was, wall, cpu in rows:
        cells = []
        for e in engines:
            a, b = was.get(e, {}), now.get(e, {})
            peak = _ratio(b.get("peak_mib"), a.get("peak_mib")) if wall != "ingest_s" else ""
            cells.append(f"{_ratio(b.get(wall), a.get(wall))} | {_ratio(b.get(cpu), a.get(cpu))} | {peak}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict, engines: list[str]) -> str:
    """Every measured size's table and the size-to-size growth (wall and CPU: warm median, cold wall in brackets)."""
    runs = sorted((r for k, r in results.items() if k.isdigit()), key=lambda r: r["events"])
    lines = [f"Machine: {results.get('machine', '?')}.", ""]
    for run in runs:
        load = f"{run['load_memory_mb']} MB" if run.get("load_memory_mb") else "none"
        lines += [
            f"{run['events']:,} events (run {run['started']}; query budget {run.get('memory_mb', '?')} MB, "
            f"load budget {load}; Parquet {run['parquet_mib']:,.0f} MiB written "
            f"in {run['parquet_s']:.0f} s; data on disk {run.get('disk_mib', 0):,.0f} MiB):",
            "",
        ]
        lines += size_table(run, engines) + [""]
    for small, big in zip(runs, runs[1:]):
        lines += ["Growth, the larger size over the smaller (warm wall, warm CPU, the child's peak RSS):", ""]
        lines += growth_table(small, big, engines) + [""]
    return "\n".join(lines)
