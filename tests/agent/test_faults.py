"""A real OpenAI-compatible client against a broken server: down, slow, garbage, empty — then healthy."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_openai import ChatOpenAI

pytestmark = pytest.mark.real_llm  # a real client over a real socket; only the server is canned

PURCHASES_SQL = "SELECT COUNT(*) AS purchases FROM events WHERE event_type = 'purchase'"


def _completion(message: dict) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


@pytest.fixture
def server() -> Iterator[dict]:
    """A loopback server whose behaviour the test sets: ``mode`` in ok/slow/garbage/empty, ``replies`` queue."""
    state: dict = {"mode": "ok", "replies": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            mode = state["mode"]
            if mode == "slow":
                threading.Event().wait(3)
            body = (
                b"<html>502 bad gateway"
                if mode == "garbage"
                else json.dumps(_completion({"content": ""} if mode == "empty" else state["replies"].pop(0))).encode()
            )
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield state
    httpd.shutdown()


def _client(url: str) -> ChatOpenAI:
    return ChatOpenAI(model="m", base_url=url, api_key="k", timeout=1.0, max_retries=0, temperature=0)


def _analyst(make_analyst, model):
    analyst, _ = make_analyst([])
    analyst.model = model
    analyst._graphs.clear()
    return analyst


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_server_down_gives_a_clear_answer(make_analyst):
    analyst = _analyst(make_analyst, _client(f"http://127.0.0.1:{_free_port()}/v1"))
    answer = analyst.ask("How many purchases?")
    assert answer.status == "error" and "language model failed" in answer.text
    assert "Connection" in answer.text


@pytest.mark.parametrize("mode, words", [("slow", "Timeout"), ("garbage", "failed"), ("empty", "no usable reply")])
def test_broken_replies_give_a_clear_answer_and_the_next_question_works(make_analyst, server, facts, mode, words):
    analyst = _analyst(make_analyst, _client(server["url"]))
    server["mode"] = mode
    broken = analyst.ask("How many purchases?", thread_id="t")
    assert broken.status in ("error", "incomplete") and words in broken.text
    server["mode"] = "ok"
    server["replies"] = [
        {
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "run_sql", "arguments": json.dumps({"sql": PURCHASES_SQL})},
                }
            ],
        },
        {"content": f"There were {facts['purchases']} purchases."},
    ]
    fine = analyst.ask("How many purchases?", thread_id="t")
    assert fine.status == "ok" and str(facts["purchases"]) in fine.text
    assert fine.usage.prompt_tokens == 200 and fine.usage.llm_calls == 2
