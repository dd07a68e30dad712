"""Live smoke of the embedded backend: llama.cpp in-process with the bundled Qwen2.5-Coder-1.5B GGUF."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field

from agent.errors import LLMTimeoutError

pytestmark = [pytest.mark.live_llm, pytest.mark.real_llm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
EventType = Literal["view", "search", "add_to_cart", "remove_from_cart", "favorite", "purchase", "review"]


class FunnelArgs(BaseModel):
    steps: list[EventType] = Field(description="event types in order, e.g. ['view', 'purchase']", min_length=2)
    days: int = Field(7, ge=1, le=365, description="look-back window in days")


class TopItemsArgs(BaseModel):
    event_type: EventType = Field(description="which event to rank items by")
    limit: int = Field(10, ge=1, le=100, description="how many items")


TOOLS = [
    StructuredTool.from_function(
        lambda steps, days=7: "",
        name="funnel",
        args_schema=FunnelArgs,
        description="Compute conversion between ordered event types over the last N days.",
    ),
    StructuredTool.from_function(
        lambda event_type, limit=10: "",
        name="top_items",
        args_schema=TopItemsArgs,
        description="Rank items by how often an event happened to them.",
    ),
]
SYSTEM = SystemMessage("You are a behavior analyst. Use the tools to answer; never invent numbers.")


@pytest.fixture(scope="module")
def local_settings():
    pytest.importorskip("llama_cpp", reason="the embedded model needs the local-llm extra (make test-live)")
    from agent.settings import Settings

    data_dir = Path(os.environ.get("UBA_DATA_DIR", REPO / ".uba"))
    return Settings(
        llm_backend="local",
        data_dir=data_dir,
        llm_max_tokens=160,
        llm_temperature=0.0,
        llm_timeout_s=300,
        llm_max_model_len=8192,
    )


@pytest.fixture(scope="module")
def chat(local_settings):
    from agent.llm import build_chat_model

    return build_chat_model(local_settings)


def test_required_tool_choice_gives_a_valid_call(chat) -> None:
    reply = chat.bind_tools(TOOLS, tool_choice="any").invoke(
        [SYSTEM, HumanMessage("What share of users who viewed an item went on to purchase in the last 14 days?")]
    )
    (call,) = reply.tool_calls
    assert call["name"] == "funnel"
    args = FunnelArgs.model_validate(call["args"])
    assert args.steps[0] == "view" and args.steps[-1] == "purchase" and args.days == 14
    assert reply.usage_metadata["output_tokens"] > 0


def test_the_grammar_follows_the_steps_narrowed_schemas_not_the_prompts(chat) -> None:
    """``decode_tools`` (agent.grounded_args): the prompt shows the full schemas, the reply obeys the
    narrowed ones: with only ``favorite`` allowed, a question about views cannot be written as views."""
    tools = [convert_to_openai_tool(t) for t in TOOLS]
    narrowed = [
        {
            **t,
            "function": {
                **t["function"],
                "parameters": {
                    **t["function"]["parameters"],
                    "properties": {
                        **t["function"]["parameters"]["properties"],
                        "event_type": {"type": "string", "enum": ["favorite"]},
                    },
                },
            },
        }
        if t["function"]["name"] == "top_items"
        else t
        for t in tools
    ]
    question = [SYSTEM, HumanMessage("Which 3 items were viewed most?")]
    free = chat.bind_tools(TOOLS, tool_choice="any").invoke(question)
    held = chat.bind_tools(TOOLS, tool_choice="any").invoke(question, decode_tools=narrowed)
    assert free.tool_calls[0]["args"]["event_type"] == "view"
    assert held.tool_calls[0]["name"] != "top_items" or held.tool_calls[0]["args"]["event_type"] == "favorite"


def test_auto_mode_calls_then_answers_from_the_tool_result(chat) -> None:
    question = HumanMessage("Which 5 items were purchased most?")
    bound = chat.bind_tools(TOOLS)
    reply = bound.invoke([SYSTEM, question])
    (call,) = reply.tool_calls
    assert call["name"] == "top_items" and TopItemsArgs.model_validate(call["args"]).event_type == "purchase"
    result = ToolMessage(
        "item_id, title, purchases\n17, Trail shoe X200, 412\n9, Rain jacket, 388", tool_call_id=call["id"]
    )
    # as the agent does, a reminder after the result (without one this model had begun "To compute the
    # conversion..." and, depending on the cache's history, never came to the items)
    final = bound.invoke([SYSTEM, question, reply, result, HumanMessage("Answer the question from the tool result.")])
    assert not final.tool_calls and ("X200" in final.content or "412" in final.content)


def test_no_tool_choice_answers_in_text_even_after_a_repeated_call(chat) -> None:
    question = HumanMessage("Which 5 items were purchased most?")
    bound = chat.bind_tools(TOOLS)
    reply = bound.invoke([SYSTEM, question])
    result = ToolMessage("item_id, title, purchases\n17, Trail shoe X200, 412", tool_call_id=reply.tool_calls[0]["id"])
    # the same call again, and the agent's error for it: the next reply may not call anything
    again = AIMessage(content="", tool_calls=[{**reply.tool_calls[0], "id": "again"}])
    error = ToolMessage(
        "top_items was already called with these arguments; its result is above.", tool_call_id="again", status="error"
    )
    final = chat.bind_tools(TOOLS, tool_choice="none").invoke(
        [SYSTEM, question, reply, result, again, error, HumanMessage("Answer the question from the tool result.")]
    )
    assert not final.tool_calls and not final.content.lstrip().startswith("<")
    assert "X200" in final.content or "412" in final.content


def test_streaming_text_and_a_timeout_is_a_clear_error(chat) -> None:
    chunks = list(chat.stream([HumanMessage("Name three colors, comma-separated.")]))
    assert len([c for c in chunks if c.content]) >= 3
    hasty = chat.model_copy(update={"timeout_s": 0.001})
    with pytest.raises(LLMTimeoutError, match="UBA_LLM_TIMEOUT_S"):
        hasty.invoke([HumanMessage("Count from 1 to 50.")])
    assert chat.invoke([HumanMessage("Say OK.")]).content.strip()


def test_prefill_leaves_the_system_prompt_in_the_cache(chat) -> None:
    count = chat.prefill([SYSTEM, HumanMessage("Hello")], TOOLS)
    llama = chat._llama()
    cached = list(llama._input_ids[: llama.n_tokens])
    following = chat.render(
        [SYSTEM, HumanMessage("Which 5 items were purchased most?")], [convert_to_openai_tool(t) for t in TOOLS]
    )
    tokens = llama.tokenize(following.encode("utf-8"), add_bos=False, special=True)
    shared = next((i for i, (a, b) in enumerate(zip(cached, tokens)) if a != b), min(len(cached), len(tokens)))
    assert count > 200 and len(cached) >= count and shared >= len(tokens) - 20  # only the question is new


def test_a_call_stays_in_the_cache_for_the_next_step(chat) -> None:
    """The next prompt must repeat the call as the tokens the model decoded, or every step evaluates
    the whole call again (~60-80 tokens, seconds on a CPU): the chat template renders the call's tags
    as special tokens where the model wrote them as text."""
    question = HumanMessage("Which 5 items were purchased most?")
    reply = chat.bind_tools(TOOLS).invoke([SYSTEM, question])
    assert reply.tool_calls and reply.content == ""
    llama = chat._llama()
    decoded = list(llama._input_ids[: llama.n_tokens])
    result = ToolMessage("item_id, title, purchases\n17, Trail shoe X200, 412", tool_call_id=reply.tool_calls[0]["id"])
    tools = [convert_to_openai_tool(t) for t in TOOLS]
    tokens = chat.prompt_tokens([SYSTEM, question, reply, result], tools)
    shared = next((i for i, (a, b) in enumerate(zip(decoded, tokens)) if a != b), min(len(decoded), len(tokens)))
    assert shared == len(decoded)
    # A call changed after the model wrote it is shown as the template renders it, never as stale tokens.
    edited = reply.model_copy(update={"tool_calls": [{**reply.tool_calls[0], "args": {"event_type": "view"}}]})
    assert chat.prompt_tokens([SYSTEM, question, edited, result], tools) == llama.tokenize(
        chat.render([SYSTEM, question, edited, result], tools).encode("utf-8"), add_bos=False, special=True
    )


def test_checking_the_grammar_after_the_pick_writes_what_masking_every_token_writes(chat) -> None:
    """Greedy decoding that masks the vocabulary only when the model's pick breaks the grammar must
    write the same call as llama-cpp-python's sampler, which masks before every token."""
    import time

    from llama_cpp import LlamaGrammar

    from agent._grammar import tool_grammar
    from agent._llama_decode import decode_ids

    llama = chat._llama()
    tools = [convert_to_openai_tool(t) for t in TOOLS]
    grammar = tool_grammar(tools, allow_text=False)
    for question in ("Which 3 items were added to cart most?", "How many viewers went on to purchase in 30 days?"):
        prompt = chat.prompt_tokens([SYSTEM, HumanMessage(question)], tools)
        ours = list(decode_ids(llama, prompt, grammar=grammar, limit=120, deadline=time.monotonic() + 300))
        theirs = llama.create_completion(
            prompt, max_tokens=120, temperature=0.0, grammar=LlamaGrammar.from_string(grammar, verbose=False)
        )["choices"][0]["text"]
        assert llama.detokenize(ours).decode("utf-8") == theirs


# Three demo questions of different kinds, end to end: the embedded model picks the tool, the real
# tools run on a demo warehouse, and the eval harness judges each answer against its gold SQL.
# Measured: the 1.5B model's greedy choices shift with the prompt cache's history, and in two runs
# the first question after the warm-up came out wrong while it was right later in the evaluation;
# so two of the three must be right (a broken model, tool or prompt gets at most one).
SMOKE_QUESTIONS = ("trend-active-users-last-day", "funnel-search-to-view", "top-viewed-item")


def test_embedded_model_answers_demo_questions_end_to_end(local_settings, eval_demo_url: str, tmp_path: Path) -> None:
    from agent.factory import build_evaluation, open_review_index, open_warehouse
    from evaluation import load_questions, run_eval
    from vectorstore import index_reviews

    (tmp_path / "llm").symlink_to((local_settings.data_dir / "llm").resolve())
    settings = local_settings.model_copy(
        update={"warehouse_url": eval_demo_url, "data_dir": tmp_path, "llm_max_tokens": 512}
    )
    # The review index too, so the model sees the same tools (and prompt) as `make demo` gives it.
    warehouse = open_warehouse(settings)
    try:
        index_reviews(warehouse, open_review_index(settings), progress=False)
    finally:
        warehouse.dispose()  # the analyst opens the file read-only; DuckDB refuses a second mode in-process
    questions = [q for q in load_questions() if q.id in SMOKE_QUESTIONS]
    analyst, readonly, _ = build_evaluation(settings)
    report = run_eval(analyst, questions, readonly, backend="local")
    wrong = [(r["id"], r["answer"], r["gold"]) for r in report.results if not r["correct"]]
    assert len(report.results) == 3 and len(wrong) <= 1, wrong
    assert all(r["status"] == "ok" and r["tools_called"] for r in report.results if r["correct"])
    assert report.data_intact
