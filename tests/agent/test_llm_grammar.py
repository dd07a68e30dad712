"""Tool schemas become closed, reference-free call schemas and a grammar with a text option in auto mode;
a call is replayed into the next prompt as the embedded model's own tokens only while it is unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field

from agent._grammar import call_schema, inline_refs


class Window(BaseModel):
    days: int = Field(7, ge=1, le=365)


class TrendArgs(BaseModel):
    """Count events per day."""

    event_type: Literal["view", "purchase"]
    window: Window


def test_call_schema_inlines_refs_and_closes_objects() -> None:
    schema = call_schema(convert_to_openai_tool(TrendArgs))
    assert schema["properties"]["name"] == {"const": "TrendArgs"}
    args = schema["properties"]["arguments"]
    assert "$defs" not in str(args) and "$ref" not in str(args)
    assert args["properties"]["window"]["properties"]["days"]["maximum"] == 365
    assert args["additionalProperties"] is False and schema["required"] == ["name", "arguments"]


def test_large_length_bounds_stay_out_of_the_grammar() -> None:
    class SqlArgs(BaseModel):
        sql: str = Field(max_length=20000)
        note: str = Field(max_length=40)

    args = call_schema(convert_to_openai_tool(SqlArgs))["properties"]["arguments"]["properties"]
    assert "maxLength" not in args["sql"] and args["note"]["maxLength"] == 40


def test_recursive_schema_is_refused_with_the_fix() -> None:
    looped = {
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        "$ref": "#/$defs/Node",
    }
    with pytest.raises(ValueError, match="simplify the tool's args model"):
        inline_refs(looped)


def test_grammar_has_a_text_option_only_in_auto_mode() -> None:
    pytest.importorskip("llama_cpp", reason="grammar compilation needs the local-llm extra")
    from llama_cpp import LlamaGrammar

    from agent._grammar import tool_grammar

    tool = convert_to_openai_tool(TrendArgs)
    auto = tool_grammar([tool], allow_text=True)
    forced = tool_grammar([tool], allow_text=False)
    assert auto.startswith('root ::= "<tool_call>\\n" uba-call "\\n</tool_call>" | uba-text')
    assert "uba-text" not in forced and '"\\"TrendArgs\\""' in forced
    LlamaGrammar.from_string(auto, verbose=False)


def test_a_call_is_replayed_as_the_models_tokens_only_while_it_is_unchanged() -> None:
    from langchain_core.messages import AIMessage

    from agent._llamacpp import _OWN_TOKENS, LlamaCppChat, _fingerprint

    chat = LlamaCppChat(model_path=Path("models/a.gguf"))
    calls = [{"name": "top_items", "args": {"event_type": "purchase", "limit": 5}, "id": "c1", "type": "tool_call"}]
    own = {"model": str(chat.model_path), "calls": _fingerprint(calls), "ids": [10, 11, 12]}
    message = AIMessage(content="", tool_calls=calls, additional_kwargs={_OWN_TOKENS: own})
    assert chat._own_tokens(message) == [10, 11, 12]
    # the call's id may change (a memory round trip); its name and arguments may not
    renamed = message.model_copy(update={"tool_calls": [{**calls[0], "id": "c2"}]})
    assert chat._own_tokens(renamed) == [10, 11, 12]
    edited = message.model_copy(update={"tool_calls": [{**calls[0], "args": {"event_type": "view", "limit": 5}}]})
    other_model = LlamaCppChat(model_path=Path("models/b.gguf"))
    with_text = message.model_copy(update={"content": "Let me look."})
    assert chat._own_tokens(edited) is None and other_model._own_tokens(message) is None
    assert chat._own_tokens(with_text) is None
    assert chat._own_tokens(AIMessage(content="", tool_calls=calls)) is None


def test_text_only_grammar_compiles_and_cannot_open_a_call() -> None:
    pytest.importorskip("llama_cpp", reason="grammar compilation needs the local-llm extra")
    from llama_cpp import LlamaGrammar

    from agent._grammar import TEXT_ONLY_GRAMMAR

    LlamaGrammar.from_string(TEXT_ONLY_GRAMMAR, verbose=False)
    first = TEXT_ONLY_GRAMMAR.split("uba-text ::= ", 1)[1].split(" ", 1)[0]
    assert first.startswith("[^") and "<" in first and "{" in first
