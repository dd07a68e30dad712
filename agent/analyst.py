"""The Analyst service: the one API the CLI, the web UI and the HTTP API call (``ask``, ``stream``)."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.types import Checkpointer
from pydantic import ValidationError

from agent import prompt
from agent.answer import Answer, AnswerToken, Event, FinalAnswer, StepFinished, StepStarted, TraceStep, Usage
from agent.graph import Limits, build_graph
from agent.memory import thread_key
from tools.artifact import ToolArtifact

logger = logging.getLogger(__name__)

ToolsForScope = Callable[[str | None], Sequence[BaseTool]]
"""Builds the tool list for one user scope (``None``: unscoped analyst access)."""

_TOKEN = re.compile(r"\S+\s*|\s+")


class Analyst:
    """Answers questions about the behavior data; conversations are remembered per ``thread_id``."""

    def __init__(
        self,
        model: BaseChatModel,
        tools_for_scope: ToolsForScope,
        system_text: str,
        *,
        limits: Limits = Limits(),
        checkpointer: Checkpointer = None,
        linker: Callable[[str], str] | None = None,
        demonstrations: Callable[[str], str] | None = None,
        lacks: Callable[[str], str | None] | None = None,
    ) -> None:
        self.model = model
        self.linker = linker
        self.demonstrations = demonstrations
        self.lacks = lacks
        self.limits = limits
        self.system_text = system_text
        self.tools_for_scope = tools_for_scope
        self._checkpointer = checkpointer
        self._graphs: dict[str | None, Any] = {}
        self._warm_lock = threading.Lock()
        self._warm_s: float | None = None

    def _graph(self, user_scope: str | None):
        if user_scope not in self._graphs:
            tools = list(self.tools_for_scope(user_scope))
            self._graphs[user_scope] = build_graph(
                self.model,
                tools,
                self.system_text,
                limits=self.limits,
                checkpointer=self._checkpointer,
                linker=self.linker,
                demonstrations=self.demonstrations,
                lacks=self.lacks,
            )
        return self._graphs[user_scope]

    @property
    def warmed(self) -> bool:
        """True once the model is loaded and the static prompt is in its cache (see ``warm_up``)."""
        return self._warm_s is not None

    def warm_up(self) -> float:
        """Load the model and put the static prompt prefix into its cache (in-process models: from the
        state saved on disk when there is one); seconds taken. Done once: a later or concurrent call
        waits for the first to finish and returns its time; after a failure the next call tries again."""
        from langchain_core.messages import SystemMessage

        from agent.tool_runner import agent_schemas

        with self._warm_lock:
            if self._warm_s is None:
                started = time.perf_counter()
                prefill = getattr(self.model, "prefill", None)  # servers (vLLM) cache prefixes on their own
                if callable(prefill):
                    tools = agent_schemas(list(self.tools_for_scope(None)))
                    tokens = prefill([SystemMessage(content=self.system_text), HumanMessage(content="Hello")], tools)
                    logger.info(
                        "static prompt prefix in the cache: %d tokens in %.1f s", tokens, time.perf_counter() - started
                    )
                if self.demonstrations is not None:  # embeds the demonstrations (seconds) before a question
                    self.demonstrations("warm up")
                self._warm_s = time.perf_counter() - started
            return self._warm_s

    def _wait_until_warm(self) -> None:
        """Before a question's clock starts: the warm-up is not the question's work."""
        try:
            self.warm_up()
        except Exception as exc:  # noqa: BLE001 - the question's own model call reports it as an answer
            logger.warning("warm-up failed: %s: %s", type(exc).__name__, exc)

    def ask(
        self, question: str, thread_id: str | None = None, user_scope: str | None = None, *, owner: str | None = None
    ) -> Answer:
        """Answer one question (a follow-up when ``thread_id`` names an earlier conversation)."""
        final = None
        for event in self.stream(question, thread_id=thread_id, user_scope=user_scope, owner=owner):
            if isinstance(event, FinalAnswer):
                final = event.answer
        assert final is not None
        return final

    def stream(
        self, question: str, thread_id: str | None = None, user_scope: str | None = None, *, owner: str | None = None
    ) -> Iterator[Event]:
        """Step events while tools run, then the answer's tokens, then the FinalAnswer."""
        if not question or not question.strip():
            raise ValueError("question is empty; ask something about the data, e.g. 'purchases per week'")
        thread_id = thread_id or uuid.uuid4().hex
        self._wait_until_warm()
        # Each (owner, scope) has its own namespace: no thread id reaches another caller's conversation.
        config = {"configurable": {"thread_id": thread_key(thread_id, owner=owner, user_scope=user_scope)}}
        started = time.perf_counter()
        usage = Usage()
        trace: list[TraceStep] = []
        state: dict[str, Any] = {}
        status = "ok"
        try:
            graph = self._graph(user_scope)
            inputs = {
                "messages": [HumanMessage(content=question.strip(), id=uuid.uuid4().hex)],
                "deadline": time.monotonic() + self.limits.max_seconds,
            }
            # durability="exit": one checkpoint write per question, not one per step (a crash mid-question
            # loses only that question)
            for mode, chunk in graph.stream(inputs, config, stream_mode=["custom", "values"], durability="exit"):
                if mode == "values":
                    state = chunk
                    continue
                kind = chunk.get("kind")
                if kind == "llm":
                    usage.llm_calls += 1
                    usage.prompt_tokens += chunk["prompt"]
                    usage.completion_tokens += chunk["completion"]
                    usage.llm_ms += chunk["ms"]
                elif kind == "step_started":
                    yield StepStarted(step=chunk["step"], tool=chunk["tool"], args=chunk["args"])
                elif kind == "step_finished":
                    trace.append(
                        TraceStep(
                            tool=chunk["tool"],
                            args=chunk["args"],
                            duration_ms=chunk["duration_ms"],
                            ok=chunk["ok"],
                            error=chunk["error"],
                            source=chunk["source"],
                        )
                    )
                    yield StepFinished(
                        step=chunk["step"],
                        tool=chunk["tool"],
                        ok=chunk["ok"],
                        duration_ms=chunk["duration_ms"],
                        error=chunk["error"],
                    )
            answer = self._answer(state)
            status = state.get("outcome", "ok")
        except Exception as exc:  # noqa: BLE001 - the service boundary: always an answer, never a traceback
            logger.exception("question failed: %r", question[:200])
            answer = Answer(text=prompt.failure("llm_error", question, detail=f"{type(exc).__name__}: {exc}"[:300]))
            status = "error"
        usage.latency_ms = (time.perf_counter() - started) * 1000
        answer = answer.model_copy(update={"trace": trace, "usage": usage, "status": status, "thread_id": thread_id})
        for piece in _TOKEN.findall(answer.text):
            yield AnswerToken(text=piece)
        yield FinalAnswer(answer=answer)

    async def astream(
        self, question: str, thread_id: str | None = None, user_scope: str | None = None
    ) -> AsyncIterator[Event]:
        """``stream`` for async callers (the HTTP API, Gradio); the work runs in a worker thread."""
        iterator = self.stream(question, thread_id=thread_id, user_scope=user_scope)
        done = object()
        while True:
            event = await asyncio.to_thread(next, iterator, done)
            if event is done:
                return
            yield event

    async def aask(self, question: str, thread_id: str | None = None, user_scope: str | None = None) -> Answer:
        """``ask`` for async callers."""
        return await asyncio.to_thread(self.ask, question, thread_id, user_scope)

    def history(
        self, thread_id: str, user_scope: str | None = None, *, owner: str | None = None
    ) -> list[tuple[str, str]]:
        """The (question, answer) pairs of a thread, oldest first."""
        config = {"configurable": {"thread_id": thread_key(thread_id, owner=owner, user_scope=user_scope)}}
        messages = self._graph(user_scope).get_state(config).values.get("messages", [])
        pairs, question = [], None
        for m in messages:
            if isinstance(m, HumanMessage) and not m.additional_kwargs.get("uba_feedback"):
                question = str(m.content)
            elif isinstance(m, AIMessage) and m.additional_kwargs.get("uba_final") and question is not None:
                pairs.append((question, str(m.content)))
                question = None
        return pairs

    @staticmethod
    def _answer(state: dict[str, Any]) -> Answer:
        messages = state.get("messages", [])
        start = state.get("turn_start", 0)
        final = next(
            (m for m in reversed(messages) if isinstance(m, AIMessage) and m.additional_kwargs.get("uba_final")), None
        )
        answer = Answer(text=str(final.content) if final is not None else "")
        for m in messages[start:]:
            if isinstance(m, ToolMessage) and m.status != "error" and isinstance(m.artifact, dict):
                try:
                    artifact = ToolArtifact.model_validate(m.artifact)
                except ValidationError:
                    logger.warning("tool %r returned an artifact that is not a ToolArtifact; ignored", m.name)
                    continue
                answer.tables.extend(artifact.tables)
                answer.charts.extend(artifact.charts)
                answer.citations.extend(artifact.citations)
        return answer
