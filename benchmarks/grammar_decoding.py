"""Grammar-constrained tool calls on the embedded model: uba's decoder against llama-cpp-python's sampler.

uba's decoder (``agent/_llama_decode.py``) checks the model's greedy pick against the grammar and
masks the vocabulary only when the pick breaks it; llama-cpp-python's sampler chain masks the whole
vocabulary before every token. Both must write the same call; the table compares their speed side
by side, in one process, on prompts of two lengths (the agent's real prompt is ~5.4k tokens).

Run: ``nice -n 10 .venv/bin/python benchmarks/grammar_decoding.py --runs 3`` (needs ``make demo``'s
model: ``uba llm fetch``; settings come from UBA_*).
"""

from __future__ import annotations

import argparse
import statistics
import time

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent._grammar import tool_grammar
from agent._llama_decode import decode_ids
from agent.llm import build_chat_model
from agent.settings import Settings
from warehouse.analytics import FunnelRequest, TopItemsRequest

# The agent's own argument models for two of its tools (their schemas are what the grammar encodes).
TOOLS = [
    StructuredTool.from_function(
        lambda **_: "",
        name="funnel",
        args_schema=FunnelRequest,
        description="Compute conversion between ordered event types.",
    ),
    StructuredTool.from_function(
        lambda **_: "",
        name="top_items",
        args_schema=TopItemsRequest,
        description="Rank items by how often an event happened to them.",
    ),
]
QUESTIONS = ("Which 3 items were added to cart most?", "How many viewers went on to purchase in 30 days?")
FILLER = (
    "Table events(user_id, item_id, event_type, ts, session_id): one row per user action; "
    "event_type is one of view, search, add_to_cart, remove_from_cart, favorite, purchase, review. "
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--long-tokens", type=int, default=5000, help="approximate length of the long prompt")
    args = parser.parse_args()
    from llama_cpp import LlamaGrammar

    chat = build_chat_model(Settings(llm_backend="local", llm_temperature=0.0, llm_timeout_s=600))
    llama = chat._llama()
    tools = [convert_to_openai_tool(t) for t in TOOLS]
    grammar = tool_grammar(tools, allow_text=False)
    per_filler = len(llama.tokenize(FILLER.encode(), add_bos=False))
    rows = []
    for label, repeats in (("short", 0), ("long", max(0, args.long_tokens // per_filler))):
        system = SystemMessage("You are a behavior analyst. Use the tools.\n" + FILLER * repeats)
        ours_s: list[float] = []
        theirs_s: list[float] = []
        tokens = same = prompt_len = 0
        for run in range(args.runs):
            for question in QUESTIONS:
                prompt = chat.prompt_tokens([system, HumanMessage(f"{question} (run {run})")], tools)
                prompt_len = len(prompt)
                llama.create_completion(prompt, max_tokens=1, temperature=0.0)  # both start from a cached prompt
                started = time.perf_counter()
                ours = list(decode_ids(llama, prompt, grammar=grammar, limit=160, deadline=time.monotonic() + 600))
                ours_s.append(time.perf_counter() - started)
                llama.create_completion(prompt, max_tokens=1, temperature=0.0)
                started = time.perf_counter()
                theirs = llama.create_completion(
                    prompt, max_tokens=160, temperature=0.0, grammar=LlamaGrammar.from_string(grammar, verbose=False)
                )
                theirs_s.append(time.perf_counter() - started)
                tokens += len(ours)
                same += llama.detokenize(ours).decode("utf-8") == theirs["choices"][0]["text"]
        calls = args.runs * len(QUESTIONS)
        ours_med, theirs_med = statistics.median(ours_s), statistics.median(theirs_s)
        rows.append((label, prompt_len, tokens / calls, theirs_med, ours_med, theirs_med / ours_med, f"{same}/{calls}"))
    print(f"model: {chat.model_path.name}, {args.runs} runs x {len(QUESTIONS)} calls per prompt length\n")
    print(
        "| prompt | tokens | call tokens | sampler chain s (median) | uba decoder s (median) | speed-up | same call |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, length, mean_tokens, theirs_med, ours_med, ratio, same_text in rows:
        print(
            f"| {label} | {length} | {mean_tokens:.0f} | {theirs_med:.2f} | {ours_med:.2f} | {ratio:.2f}x | {same_text} |"
        )


if __name__ == "__main__":
    main()
