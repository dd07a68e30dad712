"""Prompt and generation speed of an LLM backend, streamed: time to first token and tokens per second.

Run: ``nice -n 10 .venv/bin/python benchmarks/llm_speed.py --backend local --runs 3``
(``--backend vllm`` needs ``uba llm serve --engine vllm`` running; settings come from UBA_*).
A tool-call line measures one required call with a realistic tool schema.
"""

from __future__ import annotations

import argparse
import statistics
import time
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
    return {"prompt_tokens": usage["input_tokens"], "ttft_s": first - started, "gen_tokens": gen,
            "gen_tok_s": (gen - 1) / (end - first), "prompt_tok_s": usage["input_tokens"] / (first - started)}


def tool_call_once(model, run: int) -> float:
    tool = StructuredTool.from_function(lambda steps, days=7: "", name="funnel", args_schema=FunnelArgs,
                                        description="Compute conversion between ordered event types.")
    started = time.perf_counter()
    reply = model.bind_tools([tool], tool_choice="any").invoke(
        [SystemMessage(f"[run {run}] Use the tools."), HumanMessage("View to purchase conversion, last 14 days?")]
    )
    assert reply.tool_calls, reply
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default=None, help="local | vllm | openai (default: UBA_LLM_BACKEND)")
    parser.add_argument("--model", default=None, help="UBA_LLM_MODEL override")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()
    overrides = {"llm_max_tokens": args.max_tokens, "llm_temperature": 0.0, "llm_timeout_s": 600}
    if args.backend:
        overrides["llm_backend"] = args.backend
    if args.model:
        overrides["llm_model"] = args.model
    settings = Settings(**overrides)
    loading = time.perf_counter()
    model = build_chat_model(settings)
    stream_once(model, -1)  # warm-up: loads the model / warms the server
    warm_s = time.perf_counter() - loading
    rows = [stream_once(model, run) for run in range(args.runs)]
    calls = [tool_call_once(model, run) for run in range(args.runs)]
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(f"backend: {describe_model(settings)}   (load + warm-up {warm_s:.1f} s, {args.runs} runs, medians)")
    print("| prompt tokens | time to first token s | prompt tok/s | generated tokens | generation tok/s | required tool call s |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {med['prompt_tokens']:.0f} | {med['ttft_s']:.2f} | {med['prompt_tok_s']:.1f} | {med['gen_tokens']:.0f} "
          f"| {med['gen_tok_s']:.1f} | {statistics.median(calls):.2f} |")


if __name__ == "__main__":
    main()
