"""``POST /v1/chat/completions``: the OpenAI-compatible endpoint (plain JSON and ``stream=true`` SSE)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.answer import Answer, AnswerToken, FinalAnswer, StepFinished, StepStarted
from ui.api.errors import ApiError, error_body
from ui.api.metrics import server_timing

router = APIRouter(tags=["OpenAI-compatible"])


class CancellingStream(StreamingResponse):
    """An SSE response that cancels its producer as soon as the client disconnects."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Starlette only notices a gone client on the next write; a run between two events would go on.
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                try:
                    await self.stream_response(send)
                except OSError:
                    pass
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


class ContentPart(BaseModel):
    """One part of a multi-part message; only text parts are read."""

    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: str | None = None


class ChatMessage(BaseModel):
    """A chat message as OpenAI clients send it."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        """The message's text, parts joined."""
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    """OpenAI's ``stream_options``."""

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's request body; ``thread_id`` (or the ``X-Thread-Id`` header) names the conversation."""

    model_config = ConfigDict(extra="allow")
    model: str = Field("uba", description="ignored: the server's configured LLM answers")
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    stream_options: StreamOptions | None = None
    thread_id: str | None = Field(None, description="conversation id; a new thread is started when absent")
    user: str | None = None


def _question(body: ChatCompletionRequest) -> str:
    for message in reversed(body.messages):
        if message.role == "user":
            return message.text()
    raise ApiError(422, "no user message; the last message with role 'user' is the question", param="messages")


def _model_name(request: Request) -> str:
    return request.app.state.model_name


def _usage(answer: Answer) -> dict[str, int]:
    u = answer.usage
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    }


@router.post("/v1/chat/completions", summary="Ask the analyst through the OpenAI chat-completions protocol")
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    x_thread_id: str | None = Header(None, description="conversation id (alternative to the body field)"),
) -> Any:
    """The answer text is the message content; the full Answer rides in the ``uba`` field."""
    started = time.perf_counter()
    state = request.app.state
    caller = state.auth.caller(request)
    question = _question(body)
    thread_id = state.runs.admit(caller, question, body.thread_id or x_thread_id)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    model = _model_name(request)
    headers = {"X-Thread-Id": thread_id}
    if not body.stream:
        timing: dict[str, float] = {}
        answer = await state.runs.answer(caller, question, thread_id, surface="chat", timing=timing)
        headers["Server-Timing"] = server_timing(timing, started)
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": _usage(answer),
            "thread_id": thread_id,
            "uba": answer.model_dump(mode="json"),
        }
        return JSONResponse(payload, headers=headers)

    timing: dict[str, float] = {}
    events = state.runs.events(caller, question, thread_id, surface="chat", timing=timing)
    first = await anext(events)  # errors before the first event (LLM down) still get a real status code
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            "thread_id": thread_id,
            **extra,
        }
        return f"data: {json.dumps(payload, default=str)}\n\n"

    async def sse() -> AsyncIterator[str]:
        streamed_text = False
        yield chunk({"role": "assistant", "content": ""})
        event = first
        try:
            while True:
                if isinstance(event, AnswerToken):
                    streamed_text = True
                    yield chunk({"content": event.text})
                elif isinstance(event, StepStarted | StepFinished):
                    yield chunk({}, uba_event=event.model_dump(mode="json"))
                elif isinstance(event, FinalAnswer):
                    answer = event.answer
                    if not streamed_text and answer.text:
                        yield chunk({"content": answer.text})
                    ms = {k.replace("_s", "_ms"): round(v * 1000, 1) for k, v in timing.items()}
                    yield chunk({}, "stop", uba=answer.model_dump(mode="json"), uba_timing=ms)
                    if include_usage:
                        usage_chunk = {
                            "id": completion_id,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": model,
                            "choices": [],
                            "usage": _usage(answer),
                        }
                        yield f"data: {json.dumps(usage_chunk)}\n\n"
                    break
                event = await anext(events)
        except ApiError as exc:  # after the headers went out, errors travel in the stream
            yield f"data: {json.dumps(error_body(exc.status, exc.message))}\n\n"
        except StopAsyncIteration:
            pass
        finally:
            await events.aclose()
        yield "data: [DONE]\n\n"

    headers["Cache-Control"] = "no-cache"
    return CancellingStream(sse(), media_type="text/event-stream", headers=headers)
