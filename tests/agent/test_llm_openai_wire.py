"""Wire tests of the vllm/openai client against canned OpenAI-compatible replies on loopback.

They prove the exact request uba sends (model, tools, tool_choice, max_tokens, temperature,
streaming, key) and what each kind of reply becomes: tool calls, text, or a clear LLM error.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from pydantic import BaseModel, Field

from agent.errors import LLMResponseError, LLMTimeoutError, LLMUnavailableError
from agent.llm import build_chat_model, describe_model
from agent.settings import Settings

# A real client over a real socket; only the server is canned.
pytestmark = pytest.mark.real_llm


@dataclass
class Canned:
    """One reply: a JSON body, raw bytes, SSE events, a status, a delay."""

    body: Any = None
    raw: bytes | None = None
    events: list[dict[str, Any]] | None = None
    status: int = 200
    delay_s: float = 0.0


@dataclass
class Loopback:
    """A tiny OpenAI-compatible server: pops canned replies, records requests."""

    replies: list[Canned] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[Loopback]:
    state = Loopback()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            state.requests.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "json": json.loads(self.rfile.read(length)),
                }
            )
            reply = state.replies.pop(0)
            time.sleep(reply.delay_s)
            if reply.events is not None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for event in reply.events:
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                return
            payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the client of the slow reply hangs up first, by design

    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield state
    httpd.shutdown()
    httpd.server_close()


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57},
    }


class FunnelArgs(BaseModel):
    """Conversion through ordered steps."""

    steps: list[str] = Field(description="event types in order", min_length=2)
    days: int = Field(7, ge=1, le=365, description="look-back window in days")


def funnel(steps: list[str], days: int = 7) -> str:
    """Compute a conversion funnel over ordered event types."""
    return "ok"


def settings_for(server: Loopback, **overrides: Any) -> Settings:
    values = {
        "llm_backend": "vllm",
        "llm_base_url": server.url,
        "llm_model": "served-model",
        "llm_max_tokens": 77,
        "llm_temperature": 0.0,
        "llm_timeout_s": 5.0,
        "llm_api_key": "sk-test",
    }
    return Settings(**(values | overrides))


def tools() -> list[Any]:
    from langchain_core.tools import StructuredTool

    return [StructuredTool.from_function(funnel, name="funnel", args_schema=FunnelArgs)]


NATIVE_CALL = completion(
    {
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "funnel", "arguments": '{"steps": ["view", "purchase"], "days": 14}'},
            }
        ],
    },
    finish="tool_calls",
)


def test_required_tool_request_and_native_tool_call(server: Loopback) -> None:
    server.replies.append(Canned(NATIVE_CALL))
    model = build_chat_model(settings_for(server)).bind_tools(tools(), tool_choice="any")

    reply = model.invoke([HumanMessage("view to purchase conversion, last two weeks?")])

    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == "Bearer sk-test"
    body = sent["json"]
    assert body["model"] == "served-model"
    assert body["tool_choice"] == "required"
    assert body["temperature"] == 0.0
    assert (body.get("max_completion_tokens") or body.get("max_tokens")) == 77
    assert not body.get("stream")
    assert body["messages"] == [{"role": "user", "content": "view to purchase conversion, last two weeks?"}]
    (tool,) = body["tools"]
    assert tool["type"] == "function" and tool["function"]["name"] == "funnel"
    assert tool["function"]["description"].startswith("Compute a conversion funnel")
    params = tool["function"]["parameters"]
    assert params["required"] == ["steps"] and params["properties"]["days"]["maximum"] == 365
    assert reply.tool_calls == [
        {"name": "funnel", "args": {"steps": ["view", "purchase"], "days": 14}, "id": "call_1", "type": "tool_call"}
    ]
    assert reply.usage_metadata["input_tokens"] == 50 and reply.usage_metadata["output_tokens"] == 7


def test_named_tool_choice_and_tool_result_round_trip(server: Loopback) -> None:
    server.replies.append(Canned(completion({"content": "14-day view→purchase conversion is 3.2%."})))
    model = build_chat_model(settings_for(server)).bind_tools(tools(), tool_choice="funnel")
    call = AIMessage(
        content="", tool_calls=[{"name": "funnel", "args": {"steps": ["view", "purchase"]}, "id": "call_1"}]
    )

    reply = model.invoke([HumanMessage("conversion?"), call, ToolMessage("3.2%", tool_call_id="call_1")])

    body = server.requests[0]["json"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "funnel"}}
    assistant, tool_result = body["messages"][1], body["messages"][2]
    assert assistant["tool_calls"][0]["function"] == {"name": "funnel", "arguments": '{"steps": ["view", "purchase"]}'}
    assert tool_result == {"role": "tool", "content": "3.2%", "tool_call_id": "call_1"}
    assert reply.content == "14-day view→purchase conversion is 3.2%." and reply.tool_calls == []


def test_auto_mode_text_embedded_call_comes_back_verbatim(server: Loopback) -> None:
    # vLLM's hermes parser misses calls a small model writes as text; the agent parses them.
    text = '```json\n{"name": "funnel", "arguments": {"steps": ["view", "purchase"]}}\n```'
    server.replies.append(Canned(completion({"content": text})))
    reply = build_chat_model(settings_for(server)).bind_tools(tools()).invoke("conversion?")
    assert "tool_choice" not in server.requests[0]["json"] or server.requests[0]["json"]["tool_choice"] == "auto"
    assert reply.content == text and reply.tool_calls == []


def test_streaming_request_and_tokens(server: Loopback) -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> dict[str, Any]:
        event = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "served-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta is not None else [],
        }
        if usage:
            event["usage"] = usage
        return event

    server.replies.append(
        Canned(
            events=[
                chunk({"role": "assistant", "content": "Con"}),
                chunk({"content": "version "}),
                chunk({"content": "is 3.2%."}, "stop"),
                chunk(None, usage={"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}),
            ]
        )
    )
    pieces = [c.content for c in build_chat_model(settings_for(server)).stream("conversion?")]
    body = server.requests[0]["json"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "".join(pieces) == "Conversion is 3.2%." and len([p for p in pieces if p]) == 3


def test_qwen3_thinking_is_switched_off_for_vllm(server: Loopback) -> None:
    server.replies.append(Canned(completion({"content": "ok"})))
    build_chat_model(settings_for(server, llm_model="Qwen/Qwen3-8B")).invoke("hi")
    assert server.requests[0]["json"]["chat_template_kwargs"] == {"enable_thinking": False}


@pytest.mark.parametrize(
    ("canned", "error", "words"),
    [
        (Canned(completion({"content": ""})), LLMResponseError, "empty message"),
        (Canned(completion({"content": None})), LLMResponseError, "empty message"),
        (Canned(raw=b"<html>502 Bad Gateway</html>"), LLMResponseError, "not a chat completion"),
        (Canned({"error": {"message": "boom"}}, status=500), LLMResponseError, "HTTP 500"),
        (Canned({"unexpected": True}), LLMResponseError, "not a chat completion"),
    ],
    ids=["empty", "null", "garbage", "500", "not-a-completion"],
)
def test_bad_replies_raise_a_clear_error_and_the_next_call_works(
    server: Loopback, canned: Canned, error: type[Exception], words: str
) -> None:
    server.replies += [canned, Canned(completion({"content": "fine"}))]
    model = build_chat_model(settings_for(server))
    with pytest.raises(error, match=words) as caught:
        model.invoke("hi")
    assert server.url in str(caught.value)
    assert model.invoke("again").content == "fine"


def test_slow_server_times_out(server: Loopback) -> None:
    server.replies += [Canned(completion({"content": "late"}), delay_s=3.0), Canned(completion({"content": "fine"}))]
    model = build_chat_model(settings_for(server, llm_timeout_s=0.5))
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="UBA_LLM_TIMEOUT_S"):
        model.invoke("hi")
    assert time.monotonic() - started < 2.5
    assert len(server.requests) == 1  # no silent retries


def test_server_down_is_unavailable() -> None:
    settings = Settings(llm_backend="openai", llm_base_url="http://127.0.0.1:9/v1", llm_timeout_s=2)
    with pytest.raises(LLMUnavailableError, match="cannot reach http://127.0.0.1:9/v1"):
        build_chat_model(settings).invoke("hi")


def test_openai_backend_needs_a_url_and_describes_itself() -> None:
    with pytest.raises(LLMUnavailableError, match="UBA_LLM_BASE_URL"):
        build_chat_model(Settings(llm_backend="openai", llm_base_url=None))
    assert describe_model(Settings(llm_backend="vllm")) == (
        "vllm · qwen2.5-coder-1.5b (vLLM at http://127.0.0.1:8011/v1)"
    )
