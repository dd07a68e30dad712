"""A rule-driven fake chat model for a running server (``uba serve`` in tests, load runs, offline demos).

Rules are data (YAML): the first rule whose ``match`` regex finds the question calls its ``tool``
with ``args``; once the tool answered, the reply is ``answer`` (a ``string.Template`` with
``$result``, the tool's text, and ``$question``). Unlike the scripted model it never runs out.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from string import Template
from typing import Any

import yaml
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, Field

from fake_llm.scripted import ToolBindingFake

_FALLBACK = "I can answer the demo questions only; try one of the examples."


class Rule(BaseModel):
    """Question pattern → one tool call → answer template."""

    match: str = Field(description="regular expression searched in the question, case-insensitive")
    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    answer: str = "$result"
    delay_s: float = Field(0.0, ge=0, description="seconds each model call of this rule takes")


def load_rules(path: Path) -> list[Rule]:
    """The rules in a YAML list; a clear error names a bad file or rule."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"fake LLM rules {str(path)!r} cannot be read: {exc}; fix UBA_LLM_FAKE_RULES") from exc
    if not isinstance(raw, list):
        raise ValueError(f"fake LLM rules {str(path)!r} must be a YAML list of {{match, tool, args, answer}}")
    rules = [Rule.model_validate(item) for item in raw]
    for rule in rules:
        re.compile(rule.match)
    return rules


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)


class RuleChatModel(ToolBindingFake):
    """Answers by rules: a tool call for the question, then the answer template over the tool's text."""

    rules: list[Rule] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "rule-fake"

    def _rule_for(self, question: str) -> Rule | None:
        return next((r for r in self.rules if re.search(r.match, question, re.IGNORECASE)), None)

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        start = max(
            (
                i
                for i, m in enumerate(messages)
                if isinstance(m, HumanMessage) and not m.additional_kwargs.get("uba_feedback")
            ),
            default=-1,
        )
        if start < 0:
            return AIMessage(content=_FALLBACK)
        question = _text(messages[start])
        rule = self._rule_for(question)
        if rule is None:
            return AIMessage(content=_FALLBACK)
        if rule.delay_s:
            time.sleep(rule.delay_s)
        results = [m for m in messages[start:] if isinstance(m, ToolMessage)]
        if rule.tool and not results:
            call = {
                "name": rule.tool,
                "args": dict(rule.args),
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "tool_call",
            }
            return AIMessage(content="", tool_calls=[call])
        result = "\n".join(_text(m) for m in results)
        return AIMessage(content=Template(rule.answer).substitute(result=result, question=question))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._reply(messages)
        prompt_tokens = sum(len(_text(m).split()) for m in messages)
        completion_tokens = len(_text(reply).split()) + 10 * len(reply.tool_calls)
        reply.usage_metadata = {
            "input_tokens": prompt_tokens,
            "output_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return ChatResult(generations=[ChatGeneration(message=reply)])
