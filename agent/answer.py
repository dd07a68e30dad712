"""The Answer contract and the streaming events: what the CLI, the web UI and the HTTP API receive.

This module owns the contract; tables, charts and citations are the tools' artifact types
(``tools/artifact.py``), passed through unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tools.artifact import Chart, Citation, Table

AnswerStatus = Literal["ok", "incomplete", "error"]
"""``ok``: answered from tool results; ``incomplete``: step/time limit or an unusable model reply,
the text says so; ``error``: the model or a component failed, the text names the failure."""


class TraceStep(BaseModel):
    """One tool call the agent made while answering."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    duration_ms: float = 0.0
    ok: bool = True
    error: str | None = Field(None, description="the error text the model was shown, when not ok")
    source: Literal["native", "text"] = Field(
        "native", description="native tool_calls, or a call parsed from the message text"
    )


class Usage(BaseModel):
    """LLM cost of one answer."""

    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_ms: float = Field(0.0, description="time spent waiting for the model")
    latency_ms: float = Field(0.0, description="wall time of the whole question")

    def add(self, other: Usage) -> Usage:
        """The sum of two usages (for totals over many questions)."""
        return Usage(
            llm_calls=self.llm_calls + other.llm_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            llm_ms=self.llm_ms + other.llm_ms,
            latency_ms=self.latency_ms + other.latency_ms,
        )


class Answer(BaseModel):
    """What the analyst returns for one question."""

    text: str
    tables: list[Table] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    trace: list[TraceStep] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    status: AnswerStatus = "ok"
    thread_id: str | None = None


class StepStarted(BaseModel):
    """The agent is about to run a tool."""

    type: Literal["step_started"] = "step_started"
    step: int
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class StepFinished(BaseModel):
    """A tool call finished (successfully or with an error the model will see)."""

    type: Literal["step_finished"] = "step_finished"
    step: int
    tool: str
    ok: bool
    duration_ms: float
    error: str | None = None


class AnswerToken(BaseModel):
    """A piece of the final answer text, in order."""

    type: Literal["token"] = "token"
    text: str


class FinalAnswer(BaseModel):
    """The complete Answer; always the last event of a stream."""

    type: Literal["final"] = "final"
    answer: Answer


Event = Annotated[StepStarted | StepFinished | AnswerToken | FinalAnswer, Field(discriminator="type")]
"""A streaming event; ``type`` tells them apart in JSON (server-sent events, websockets)."""
