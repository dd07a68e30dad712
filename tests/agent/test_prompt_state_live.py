"""The static prompt prefix's saved llama.cpp state: a fresh model that loads it answers exactly as one
that evaluated the prompt itself; a damaged or foreign file is ignored, said so, and rebuilt."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

pytestmark = [pytest.mark.live_llm, pytest.mark.real_llm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


class TrendArgs(BaseModel):
    event_type: Literal["view", "search", "add_to_cart", "favorite", "purchase", "review"] = Field(
        description="which event to count"
    )
    interval: Literal["day", "week", "month"] = Field("week", description="bucket size")


TOOLS = [
    StructuredTool.from_function(
        lambda event_type, interval="week": "",
        name="trend",
        args_schema=TrendArgs,
        description="Count events per day, week or month.",
    )
]
RULES = " ".join(f"Rule {n}: answer only from tool results, cite the table, keep it short." for n in range(1, 13))
SYSTEM = SystemMessage(f"You are a behavior analyst of an online shop. {RULES}")
QUESTION = HumanMessage("How many purchases were there per week?")


@pytest.fixture(scope="module")
def gguf() -> Path:
    pytest.importorskip("llama_cpp", reason="the embedded model needs the local-llm extra (make test-live)")
    path = Path(os.environ.get("UBA_DATA_DIR", REPO / ".uba")) / "llm" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    if not path.is_file():
        pytest.skip(f"{path} is missing; assemble it with: uba llm fetch")
    return path


def _chat(gguf: Path, states: Path, threads: int):
    from agent._llamacpp import LlamaCppChat

    # another thread count is another llama.cpp context with an empty cache: a fresh process's view
    return LlamaCppChat(
        model_path=gguf, n_ctx=2048, n_threads=threads, max_tokens=40, timeout_s=600, prompt_state_dir=states
    )


def test_a_fresh_model_loads_the_saved_prefix_and_answers_as_if_it_had_evaluated_it(gguf, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="agent._prompt_state")
    states = tmp_path / "prompt-state"
    first = _chat(gguf, states, threads=1)
    count = first.prefill([SYSTEM, QUESTION], TOOLS)
    assert count >= 128 and "evaluated in" in caplog.text
    (saved,) = states.glob("*.state")
    reference = first.bind_tools(TOOLS, tool_choice="any").invoke([SYSTEM, QUESTION])

    caplog.clear()
    fresh = _chat(gguf, states, threads=2)
    reply = fresh.bind_tools(TOOLS, tool_choice="any").invoke([SYSTEM, QUESTION])
    assert "loaded from" in caplog.text and "evaluated in" not in caplog.text
    assert reply.tool_calls and reply.tool_calls[0]["args"] == reference.tool_calls[0]["args"]
    assert reply.usage_metadata["input_tokens"] == reference.usage_metadata["input_tokens"]

    # A damaged file: noticed by its sha256, never handed to llama.cpp, rebuilt.
    saved.write_bytes(saved.read_bytes()[:-100] + b"\0" * 100)
    fresh._llama().reset()
    caplog.clear()
    again = fresh.bind_tools(TOOLS, tool_choice="any").invoke([SYSTEM, QUESTION])
    assert "ignoring the saved prompt state" in caplog.text and "saved to" in caplog.text
    assert again.tool_calls[0]["args"] == reference.tool_calls[0]["args"]

    # Another prompt (the tools or the system prompt changed) gets its own file; the old one is left alone.
    caplog.clear()
    fresh.prefill([SystemMessage(SYSTEM.content + " Rule 13: be brief."), QUESTION], TOOLS)
    assert len(list(states.glob("*.state"))) == 2 and "evaluated in" in caplog.text
