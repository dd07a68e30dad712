"""Agent overhead with the scripted model (no LLM time) and the size of the system prompt.

Run: ``nice -n 10 .venv/bin/python benchmarks/agent_overhead.py [--questions 60]``

Builds a small demo warehouse in a temp dir, then answers questions through the real graph, the real
tools and SQLite memory with a scripted model that replies instantly: one tool call, then an answer.
Overhead = question wall time − model time − tool time (graph, validation, grounding check,
checkpointing, Answer assembly). Prompt size is counted with the bundled model's own tokenizer
when llama-cpp-python and the GGUF are installed, else estimated at 4 characters per token.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from agent.tool_runner import agent_schemas
from fake_llm import ScriptedChatModel, tool_call

SQL = "SELECT event_type, COUNT(*) AS n FROM events GROUP BY event_type ORDER BY n DESC"


def _tokenizer(settings):
    try:
        import llama_cpp  # noqa: F401

        from agent._weights import BUNDLED_MODELS  # noqa: F401
    except ImportError:
        return None, "estimate: characters / 4"
    path = next(Path(settings.data_dir / "models").glob("*.gguf"), None)
    if path is None:
        return None, "estimate: characters / 4"
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    return (lambda text: len(llm.tokenize(text.encode(), add_bos=False))), f"tokenizer of {path.name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--users", type=int, default=2000)
    args = parser.parse_args()

    from agent.analyst import Analyst
    from agent.factory import build_analyst, open_checkpointer
    from agent.settings import Settings
    from warehouse import Warehouse
    from warehouse.demo import generate_demo

    tmp = Path(tempfile.mkdtemp(prefix="uba-overhead-"))
    url = f"duckdb:///{tmp / 'warehouse.duckdb'}"
    warehouse = Warehouse.open(url)
    generate_demo(warehouse, users=args.users, days=30, seed=1)
    warehouse.dispose()
    settings = Settings(data_dir=tmp, warehouse_url=url, llm_backend="fake")
    model = ScriptedChatModel()
    analyst: Analyst = build_analyst(settings, model=model, checkpointer=open_checkpointer(settings))
    tool_names = {t.name for t in analyst.tools_for_scope(None)}
    # run_sql when the SQL tools are installed, else another real tool over the same warehouse
    call = {"run_sql": {"sql": SQL}, "review_stats": {}}
    name = next((n for n in call if n in tool_names), None)
    if name is None:
        raise SystemExit(f"neither run_sql nor review_stats among the installed tools {sorted(tool_names)}")

    overheads, totals = [], []
    for i in range(args.questions + 3):
        model.script[:] = [tool_call(name, **call[name]), "Views lead the event mix."]
        thread = f"t{i // 4}"  # four questions per thread: follow-ups load and extend the history
        answer = analyst.ask(f"question {i}: what is the event mix?", thread_id=thread)
        assert answer.status == "ok", answer.text
        tools_ms = sum(s.duration_ms for s in answer.trace)
        if i >= 3:  # warm-up: imports, first connections, graph compilation
            totals.append(answer.usage.latency_ms - answer.usage.llm_ms)
            overheads.append(answer.usage.latency_ms - answer.usage.llm_ms - tools_ms)

    count, how = _tokenizer(Settings())
    text = analyst.system_text
    static, dynamic = text.split("## The data", 1)
    measure = count or (lambda s: round(len(s) / 4))
    schemas = json.dumps(agent_schemas(list(analyst.tools_for_scope(None))), ensure_ascii=False)  # what the model sees
    p50 = statistics.median(overheads)
    p95 = sorted(overheads)[int(0.95 * (len(overheads) - 1))]
    rows = [
        ("questions", f"{len(overheads)}", ""),
        ("overhead p50 (excl. LLM and tools)", f"{p50:.1f} ms", "target < 50 ms"),
        ("overhead p95", f"{p95:.1f} ms", ""),
        ("per question excl. LLM (incl. tools) p50", f"{statistics.median(totals):.1f} ms", ""),
        ("overhead / 50 ms target", f"{p50 / 50:.2f}", "< 1 passes"),
        ("system prompt: static prefix", f"{measure(static)} tokens", how),
        ("system prompt: dynamic part", f"{measure('## The data' + dynamic)} tokens", how),
        ("tool schemas (JSON, every call)", f"{measure(schemas)} tokens", how),
        (
            "static share (prefix + schemas)",
            f"{(measure(static) + measure(schemas)) / (measure(text) + measure(schemas)):.0%}",
            "prefix-cacheable",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(
        f"agent overhead · scripted model · {args.users} users, 30 days · tool called: {name} "
        f"· installed: {', '.join(sorted(tool_names))}"
    )
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")


if __name__ == "__main__":
    main()
