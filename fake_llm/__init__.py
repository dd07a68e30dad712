"""Deterministic chat models for the ``fake`` backend, the evaluation's oracle replay and the tests.

``ScriptedChatModel`` replays a script of replies and fails loudly when it runs out;
``RuleChatModel`` answers by YAML rules and never runs out (a server under ``UBA_LLM_FAKE_RULES``).
Neither calls a network or a model; both bind tools the way a real chat model does.
"""

from fake_llm.rules import Rule, RuleChatModel, load_rules
from fake_llm.scripted import ScriptedChatModel, ScriptExhausted, ToolBindingFake, tool_call, tool_calls

__all__ = [
    "Rule",
    "RuleChatModel",
    "ScriptExhausted",
    "ScriptedChatModel",
    "ToolBindingFake",
    "load_rules",
    "tool_call",
    "tool_calls",
]
