"""``POST /v1/ask`` (the Answer as JSON) and ``GET /v1/threads/{id}`` (a thread's turns)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.answer import Answer
from ui.api.errors import ApiError
from ui.api.metrics import server_timing

router = APIRouter(tags=["uba"])


class AskRequest(BaseModel):
    """A question and, to continue a conversation, its thread id."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="the question in plain language")
    thread_id: str | None = Field(None, description="conversation id; a new thread is started when absent")


class ThreadTurn(BaseModel):
    """One question and its Answer."""

    seq: int
    question: str
    answer: dict[str, Any]
    created_at: str


class Thread(BaseModel):
    """A conversation as this key sees it."""

    id: str
    created_at: str
    turns: list[ThreadTurn]


@router.post("/v1/ask", response_model=Answer, summary="Ask the analyst; returns the Answer with evidence")
async def ask(
    body: AskRequest,
    request: Request,
    x_thread_id: str | None = Header(None, description="conversation id (alternative to the body field)"),
) -> JSONResponse:
    """Text, tables, chart specs, citations, trace and usage of one answer."""
    started = time.perf_counter()
    state = request.app.state
    caller = state.auth.caller(request)
    thread_id = state.runs.admit(caller, body.question, body.thread_id or x_thread_id)
    timing: dict[str, float] = {}
    answer = await state.runs.answer(caller, body.question, thread_id, surface="ask", timing=timing)
    return JSONResponse(
        answer.model_dump(mode="json"),
        headers={"X-Thread-Id": thread_id, "Server-Timing": server_timing(timing, started)},
    )


@router.get("/v1/threads/{thread_id}", response_model=Thread, summary="A conversation's questions and answers")
async def get_thread(thread_id: str, request: Request) -> Thread:
    """Only the key that started a thread can read it."""
    state = request.app.state
    caller = state.auth.caller(request)
    thread = state.runs.threads.get(thread_id, caller.owner)
    if thread is None:
        raise ApiError(404, f"no thread {thread_id!r} for this key; thread ids come back in the X-Thread-Id header")
    return Thread(**thread)
