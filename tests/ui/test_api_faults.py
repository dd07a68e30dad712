"""Faults and malformed input against the in-process app: the LLM down or hanging, bad bodies, limits."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from agent.settings import Settings
from tests.ui.conftest import RULES, build_small_warehouse, free_port
from ui.api import create_app


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("uba-api-faults")
    build_small_warehouse(path)
    return path


def _client(data_dir, **overrides) -> TestClient:
    values = {"data_dir": data_dir, "llm_backend": "fake", "llm_fake_rules": RULES, "api_auth": "none", **overrides}
    settings = Settings(**values)
    return TestClient(create_app(settings, web=False), raise_server_exceptions=False)


def _assert_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["message"]
    for word in words:
        assert word in error["message"], error["message"]


class _HangingServer:
    """Accepts connections and never answers: an LLM server that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.mark.real_llm  # the OpenAI-compatible client really connects (to nothing)
def test_llm_down_answers_503_and_the_server_stays_up(data_dir):
    dead = free_port()
    client = _client(data_dir, llm_backend="openai", llm_base_url=f"http://127.0.0.1:{dead}/v1", llm_timeout_s=5)
    with client:
        response = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "purchases?"}]})
        _assert_error(response, 503, "language model is unavailable", "UBA_LLM_BASE_URL")
        assert response.headers["retry-after"]
        streamed = client.post(
            "/v1/chat/completions", json={"stream": True, "messages": [{"role": "user", "content": "purchases?"}]}
        )
        _assert_error(streamed, 503, "language model is unavailable")
        assert client.get("/health").json()["status"] == "ok"
        again = client.post("/v1/ask", json={"question": "and now?"})
        _assert_error(again, 503)
        assert 'uba_questions_total{outcome="llm_error",surface="chat"} 2.0' in client.get("/metrics").text


@pytest.mark.real_llm
def test_llm_timeout_answers_503_within_the_timeout(data_dir):
    hanging = _HangingServer()
    try:
        client = _client(
            data_dir, llm_backend="openai", llm_base_url=f"http://127.0.0.1:{hanging.port}/v1", llm_timeout_s=1.0
        )
        with client:
            started = time.monotonic()
            response = client.post("/v1/ask", json={"question": "how many purchases?"})
            _assert_error(response, 503, "language model is unavailable")
            assert (
                "Timeout" in response.json()["error"]["message"] or "timed out" in response.json()["error"]["message"]
            )
            assert time.monotonic() - started < 20
            assert client.get("/health").status_code == 200
    finally:
        hanging.close()


def test_question_timeout_of_the_server_answers_503(data_dir):
    with _client(data_dir, api_question_timeout_s=0.5) as client:
        response = client.post("/v1/ask", json={"question": "slow question please"})
        _assert_error(response, 503, "no answer within 0.5 s", "UBA_API_QUESTION_TIMEOUT_S")


def test_oversized_body_is_413(data_dir):
    with _client(data_dir, api_max_body_bytes=2048) as client:
        body = {"messages": [{"role": "user", "content": "x" * 5000}]}
        _assert_error(client.post("/v1/chat/completions", json=body), 413, "limit is 2,048 bytes")


def test_too_long_message_is_413_naming_the_limit(data_dir):
    with _client(data_dir, api_max_message_chars=100) as client:
        _assert_error(client.post("/v1/ask", json={"question": "y" * 101}), 413, "101 characters", "limit is 100")


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"{not json", "application/json"),
        (b"[1, 2", "application/json"),
        (b"question=hi", "application/x-www-form-urlencoded"),
    ],
)
def test_invalid_json_is_422_with_a_clear_message(data_dir, body, content_type):
    with _client(data_dir) as client:
        response = client.post("/v1/ask", content=body, headers={"Content-Type": content_type})
        _assert_error(response, 422, "JSON")


def test_wrong_fields_are_422_naming_the_field(data_dir):
    with _client(data_dir) as client:
        _assert_error(client.post("/v1/chat/completions", json={"messages": []}), 422, "messages")
        _assert_error(
            client.post("/v1/chat/completions", json={"messages": [{"role": "robot", "content": "x"}]}), 422, "role"
        )
        _assert_error(
            client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]}),
            422,
            "user message",
        )


def test_unknown_routes_and_methods_get_json_errors(data_dir):
    with _client(data_dir) as client:
        _assert_error(client.get("/v2/nothing"), 404, "/docs")
        _assert_error(client.get("/v1/ask"), 405, "GET")
        assert client.get("/openapi.json").json()["paths"]["/v1/chat/completions"]["post"]


def test_rate_limit_is_429_with_retry_after(data_dir):
    with _client(data_dir, api_rate_per_min=2) as client:
        assert client.post("/v1/ask", json={"question": "hello"}).status_code == 200
        assert client.post("/v1/ask", json={"question": "hello"}).status_code == 200
        response = client.post("/v1/ask", json={"question": "hello"})
        _assert_error(response, 429, "2 requests per minute")
        assert 1 <= int(response.headers["retry-after"]) <= 60
