"""A scripted tool-calling chat model: the ``fake`` backend and the tests' stand-in for an LLM.

It pops one scripted reply per call (an ``AIMessage`` with ``tool_calls`` or text, a plain
string, an exception to raise, or a function of the messages it was sent), records every
request, and fails loudly when the script runs out.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

Reply = AIMessage | str | BaseException | Callable[[list[BaseMessage]], "AIMessage | str"]


class ScriptExhausted(BaseException):
    """The scripted model was called more often than its script allows.

    A ``BaseException`` (as pytest's own failures are): the agent turns any ``Exception`` from a model
    into an error answer, and this one must reach the test instead.
    """


def tool_call(name: str, /, **args: Any) -> AIMessage:
    """A scripted reply that calls one tool natively."""
    return tool_calls((name, args))


_ids = itertools.count(1)


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> AIMessage:
    """A scripted reply that calls several tools natively, in order."""
    return AIMessage(
        content="",
        tool_calls=[{"name": n, "args": a, "id": f"call_{next(_ids)}", "type": "tool_call"} for n, a in calls],
    )


class ToolBindingFake(BaseChatModel):
    """Base of the fake models: binds tools the way a real chat model does and records their names."""

    bound_tools: list[str] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any):
        """Bind tools as OpenAI schemas; the names are recorded for assertions."""
        schemas = [convert_to_openai_tool(t) for t in tools]
        self.bound_tools = [s["function"]["name"] for s in schemas]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=schemas, **kwargs)


class ScriptedChatModel(ToolBindingFake):
    """Replays ``script`` one reply per call; ``requests`` holds what each call was sent."""

    script: list[Any] = Field(default_factory=list)
    requests: list[list[BaseMessage]] = Field(default_factory=list)
    request_kwargs: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    @property
    def remaining(self) -> int:
        """Replies left in the script."""
        return len(self.script)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.requests.append(list(messages))
        self.request_kwargs.append(kwargs)
        if not self.script:
            last = messages[-1].content if messages else ""
            raise ScriptExhausted(
                f"scripted model called {len(self.requests)} times but the script had "
                f"{len(self.requests) - 1} replies; last message sent: {str(last)[:200]!r}"
            )
        reply = self.script.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            reply = reply(list(messages))
        if isinstance(reply, str):
            reply = AIMessage(content=reply)
        return ChatResult(generations=[ChatGeneration(message=reply)])
