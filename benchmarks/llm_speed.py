"""Prompt and generation speed of an LLM backend, streamed: time to first token and tokens per second.

Run: ``nice -n 10 .venv/bin/python benchmarks/llm_speed.py --backend local --runs 3``
(``--backend vllm`` needs ``uba llm serve --engine vllm`` running; settings come from UBA_*).
A tool-call line measures one required call with a realistic tool schema.

``--answers`` (local backend, demo data in UBA_DATA_DIR) adds the runtime's compiled CPU features and
self-test, the agent's static prompt prefix in tokens, a cold ``uba ask`` in a fresh process without
and with the saved prefix state, and a warm answer in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from agent.llm import build_chat_model, describe_model
from agent.settings import Settings

PROMPT = (
    "You are a behavior analyst for an online shop. Users view items, search, add items to the cart, "
    "remove them, favorite them, purchase and review. Explain in about 150 words why a funnel from "
    "view to purchase can drop sharply between add_to_cart and purchase, and which two metrics an "
    "analyst should look at first."
)


class FunnelArgs(BaseModel):
    steps: list[Literal["view", "search", "add_to_cart", "purchase"]] = Field(description="event types in order")
    days: int = Field(7, ge=1, le=365, description="look-back window in days")


def stream_once(model, run: int) -> dict[str, float]:
    """One streamed completion; a run number up front defeats prefix caches so the prompt is evaluated."""
    started = time.perf_counter()
    first = None
    usage = None
    for chunk in model.stream([HumanMessage(f"[run {run}] {PROMPT}")]):
        if first is None and chunk.content:
            first = time.perf_counter()
        usage = chunk.usage_metadata or usage
    end = time.perf_counter()
    gen = usage["output_tokens"]
    return {
        "prompt_tokens": usage["input_tokens"],
        "ttft_s": first - started,
        "gen_tokens": gen,
        "gen_tok_s": (gen - 1) / (end - first),
        "prompt_tok_s": usage["input_tokens"] / (first - started),
    }


def tool_call_once(model, run: int) -> float:
    tool = StructuredTool.from_function(
        lambda steps, days=7: "",
        name="funnel",
        args_schema=FunnelArgs,
        description="Compute conversion between ordered event types.",
    )
    started = time.perf_counter()
    reply = model.bind_tools([tool], tool_choice="any").invoke(
        [SystemMessage(f"[run {run}] Use the tools."), HumanMessage("View to purchase conversion, last 14 days?")]
    )
    assert reply.tool_calls, reply
    return time.perf_counter() - started


QUESTION = "How many purchases were there in October 2026?"


def cold_ask(data_dir: Path) -> dict[str, float | str]:
    """``uba ask`` in a fresh process: wall seconds, seconds from the process start to its first generated
    token (when the runtime logs it), the answer's status and how the prefix got in place."""
    env = {**os.environ, "UBA_DATA_DIR": str(data_dir), "UBA_LLM_BACKEND": "local", "UBA_LOG_LEVEL": "INFO"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("uba")), "ask", "--json", QUESTION],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_token = None
    log: list[str] = []
    for line in process.stderr:  # read as it comes: the first token's time is when its line appears
        log.append(line)
        if first_token is None and "first generated token" in line:
            first_token = time.perf_counter() - started
    out = process.stdout.read()
    process.wait(timeout=1800)
    wall = time.perf_counter() - started
    answer = json.loads(out) if process.returncode == 0 else {"status": f"exit {process.returncode}", "usage": {}}
    prefix = re.search(r"prompt prefix of (\d+) tokens (loaded|evaluated)[^\n]* in ([\d.]+) s", "".join(log))
    return {
        "wall_s": wall,
        "status": answer["status"],
        "llm_s": answer["usage"].get("latency_ms", 0) / 1000,
        "first_token_s": first_token if first_token is not None else float("nan"),
        "prefix": f"{prefix.group(2)} ({prefix.group(1)} tokens, {prefix.group(3)} s)" if prefix else "?",
    }


def answers(settings: Settings) -> None:
    """The runtime, the static prompt and cold / warm answers on the demo data."""
    from langchain_core.messages import SystemMessage

    from agent import _llama_runtime as rt
    from agent._llamacpp import load_llama
    from agent._weights import resolve_gguf
    from agent.factory import build_analyst
    from agent.tool_runner import agent_schemas

    gguf = resolve_gguf(settings.llm_model, settings.data_dir)
    print(f"CPU: {rt.cpu_model()} ({os.cpu_count()} cores), flags: {' '.join(rt.cpu_flags())}")
    print(f"runtime: {rt.runtime()['runtime']}; compiled: {rt.system_info()}")
    test = rt.self_test(load_llama(gguf, settings.llm_max_model_len, settings.llm_threads or os.cpu_count()))
    print(f"self-test: prefill {test['prefill_tok_s']:.1f} tok/s, decode {test['decode_tok_s']:.1f} tok/s")
    with tempfile.TemporaryDirectory() as tmp:  # the same data, an empty prompt-state directory
        data = Path(tmp)
        for entry in settings.data_dir.resolve().iterdir():
            if entry.name not in {"llm", "memory.sqlite", "api.sqlite"}:
                (data / entry.name).symlink_to(entry)
        (data / "llm").mkdir()
        (data / "llm" / gguf.name).symlink_to(gguf.resolve())
        without, with_state = cold_ask(data), cold_ask(data)
    analyst = build_analyst(settings)
    model = analyst.model
    tools = agent_schemas(list(analyst.tools_for_scope(None)))
    prefix = model.static_prefix([SystemMessage(content=analyst.system_text)], tools)
    analyst.ask(QUESTION)
    started = time.perf_counter()
    warm = analyst.ask(QUESTION)
    warm_s = time.perf_counter() - started
    print(f"static prompt prefix (system prompt + {len(tools)} tool schemas): {len(prefix)} tokens")
    print("| answer | first token s (from process start) | wall s | status | prefix |")
    print("|---|---:|---:|---|---|")
    for label, run in (("cold `uba ask`, no saved state", without), ("cold `uba ask`, saved state", with_state)):
        print(f"| {label} | {run['first_token_s']:.1f} | {run['wall_s']:.1f} | {run['status']} | {run['prefix']} |")
    print(f"| warm answer (same process, second ask) | | {warm_s:.1f} | {warm.status} | cached |")
    print(
        f"| ratio cold without / with saved state | {without['first_token_s'] / with_state['first_token_s']:.1f}x "
        f"| {without['wall_s'] / with_state['wall_s']:.1f}x | | |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default=None, help="local | vllm | openai (default: UBA_LLM_BACKEND)")
    parser.add_argument("--model", default=None, help="UBA_LLM_MODEL override")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--answers", action="store_true", help="also cold and warm answers on the demo data (local)")
    parser.add_argument("--no-stream", action="store_true", help="skip the streamed-completion table")
    args = parser.parse_args()
    overrides = {"llm_max_tokens": args.max_tokens, "llm_temperature": 0.0, "llm_timeout_s": 600}
    if args.backend:
        overrides["llm_backend"] = args.backend
    if args.model:
        overrides["llm_model"] = args.model
    settings = Settings(**overrides)
    if args.answers:
        answers(Settings(**{k: v for k, v in overrides.items() if k != "llm_max_tokens"}))
    if args.no_stream:
        return
    loading = time.perf_counter()
    model = build_chat_model(settings)
    stream_once(model, -1)  # warm-up: loads the model / warms the server
    warm_s = time.perf_counter() - loading
    rows = [stream_once(model, run) for run in range(args.runs)]
    calls = [tool_call_once(model, run) for run in range(args.runs)]
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(f"backend: {describe_model(settings)}   (load + warm-up {warm_s:.1f} s, {args.runs} runs, medians)")
    print(
        "| prompt tokens | time to first token s | prompt tok/s | generated tokens | generation tok/s | required tool call s |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {med['prompt_tokens']:.0f} | {med['ttft_s']:.2f} | {med['prompt_tok_s']:.1f} | {med['gen_tokens']:.0f} "
        f"| {med['gen_tok_s']:.1f} | {statistics.median(calls):.2f} |"
    )


if __name__ == "__main__":
    main()
