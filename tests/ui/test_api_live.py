"""The official ``openai`` client (and plain HTTP) against a live ``uba serve`` with the fake LLM backend."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import httpx
import openai
import pytest

from tests.ui.conftest import OTHER_USER, SCOPED_USER, small_tables

pytestmark = pytest.mark.slow


def _client(server, key: str | None = "admin", **kwargs) -> openai.OpenAI:
    api_key = server.keys[key] if key else "sk-none"
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_key, max_retries=0, timeout=60, **kwargs)


def _ask(client: openai.OpenAI, question: str, **kwargs):
    return client.chat.completions.create(model="uba", messages=[{"role": "user", "content": question}], **kwargs)


def _purchases_per_item() -> list[list]:
    counts = Counter(e["item_id"] for e in small_tables()["events"] if e["event_type"] == "purchase")
    return [[item, n] for item, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _item_counts(table: dict) -> list[list]:
    item, count = table["columns"].index("item"), table["columns"].index("value")
    return [[row[item], int(row[count])] for row in table["rows"]]


def _events_of(user: str) -> int:
    return sum(1 for e in small_tables()["events"] if e["user_id"] == user)


def _metric(server, line_start: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)]
    return sum(values)


def test_non_streaming_answer_carries_the_tool_artifacts(keyed_server, sql_tool):
    response = _ask(_client(keyed_server), "Which items sell the most?")
    message = response.choices[0].message
    assert response.object == "chat.completion" and message.role == "assistant"
    answer = response.model_extra["uba"]
    assert message.content == answer["text"] and message.content.startswith("The items bought most often")
    assert [step["tool"] for step in answer["trace"]] == ["query"] and answer["trace"][0]["ok"]
    assert _item_counts(answer["tables"][0]) == _purchases_per_item()
    assert answer["charts"][0]["spec"]["data"]
    assert any(c["kind"] == "sql" and "events" in c["ref"] for c in answer["citations"])
    assert answer["usage"]["llm_calls"] == 2 and response.usage.total_tokens > 0
    assert response.model_extra["thread_id"] == answer["thread_id"]


def test_streaming_sends_steps_then_text_then_the_answer(keyed_server, sql_tool):
    stream = _ask(
        _client(keyed_server), "Which items sell the most?", stream=True, stream_options={"include_usage": True}
    )
    text, steps, final, usage = [], [], None, None
    for chunk in stream:
        extra = chunk.model_extra or {}
        if "uba_event" in extra:
            steps.append((extra["uba_event"]["type"], extra["uba_event"]["tool"]))
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
            if chunk.choices[0].finish_reason == "stop":
                final = extra["uba"]
        elif chunk.usage:
            usage = chunk.usage
    assert steps == [("step_started", "query"), ("step_finished", "query")]
    assert final is not None and "".join(text) == final["text"]
    assert _item_counts(final["tables"][0]) == _purchases_per_item()
    assert usage is not None and usage.completion_tokens > 0


def test_follow_ups_share_a_thread_that_only_its_key_can_read(keyed_server):
    client = _client(keyed_server)
    first = _ask(client, "Which items sell the most?")
    thread_id = first.model_extra["thread_id"]
    second = _ask(client, "What do 1-star reviews complain about?", extra_headers={"X-Thread-Id": thread_id})
    assert second.model_extra["thread_id"] == thread_id
    thread = httpx.get(f"{keyed_server.url}/v1/threads/{thread_id}", headers=keyed_server.headers()).json()
    assert [t["question"] for t in thread["turns"]] == [
        "Which items sell the most?",
        "What do 1-star reviews complain about?",
    ]
    assert thread["turns"][1]["answer"]["text"] == second.choices[0].message.content
    other = httpx.get(f"{keyed_server.url}/v1/threads/{thread_id}", headers=keyed_server.headers("scoped"))
    assert other.status_code == 404 and "no thread" in other.json()["error"]["message"]
    hijack = httpx.post(
        f"{keyed_server.url}/v1/ask",
        headers=keyed_server.headers("scoped"),
        json={"question": "Which items sell the most?", "thread_id": thread_id},
    )
    assert hijack.status_code == 404


def test_ask_endpoint_returns_the_answer_json(keyed_server, sql_tool):
    response = httpx.post(
        f"{keyed_server.url}/v1/ask",
        headers=keyed_server.headers(),
        timeout=60,
        json={"question": "Which items sell the most?"},
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["thread_id"] == response.headers["x-thread-id"] and answer["status"] == "ok"
    assert _item_counts(answer["tables"][0]) == _purchases_per_item()
    assert "analyst;dur=" in response.headers["server-timing"]


@pytest.mark.parametrize(
    "key_header",
    [
        None,
        {"Authorization": "Bearer uba_000000000000_notarealkeynotarealkey"},
        {"Authorization": "Bearer sk-something"},
        {"X-API-Key": "nope"},
    ],
)
def test_missing_or_invalid_key_is_401(keyed_server, key_header):
    response = httpx.post(f"{keyed_server.url}/v1/ask", headers=key_header or {}, json={"question": "hi"})
    assert response.status_code == 401
    assert "API key" in response.json()["error"]["message"] and response.headers["www-authenticate"] == "Bearer"


def test_openai_client_sees_401_as_authentication_error(keyed_server):
    with pytest.raises(openai.AuthenticationError, match="API key"):
        _ask(_client(keyed_server, key=None), "Which items sell the most?")


def test_scoped_key_cannot_see_another_users_rows(keyed_server, sql_tool):
    scoped = _client(keyed_server, "scoped")
    refused = _ask(scoped, f"Show the events of user {OTHER_USER}").model_extra["uba"]
    assert refused["trace"][0]["tool"] == "user_profile" and not refused["trace"][0]["ok"]
    assert "not found" in refused["text"] and refused["tables"] == [] and refused["charts"] == []
    assert f"{OTHER_USER}-s" not in json.dumps(refused) and f"{_events_of(OTHER_USER)} events" not in refused["text"]
    everyone = _ask(scoped, "Events for all users").model_extra["uba"]
    assert [[r[0], int(r[1])] for r in everyone["tables"][0]["rows"]] == [[SCOPED_USER, _events_of(SCOPED_USER)]]
    # The same questions with an unscoped key do return the other user's rows: the scope made the difference.
    admin = _ask(_client(keyed_server), f"Show the events of user {OTHER_USER}").model_extra["uba"]
    sessions = {row[-1].split("-")[0] for row in admin["tables"][0]["rows"]}
    assert sessions == {OTHER_USER} and f"{_events_of(OTHER_USER)} events" in admin["text"]
    all_rows = _ask(_client(keyed_server), "Events for all users").model_extra["uba"]["tables"][0]["rows"]
    assert len(all_rows) == len(small_tables()["users"])


def test_rate_limit_is_429(keyed_server):
    client = _client(keyed_server, "slow_rate")
    for _ in range(3):
        _ask(client, "Which items sell the most?")
    with pytest.raises(openai.RateLimitError, match="3 requests per minute") as caught:
        _ask(client, "Which items sell the most?")
    assert int(caught.value.response.headers["retry-after"]) >= 1


def test_one_running_question_per_thread_is_409(keyed_server):
    client = _client(keyed_server)
    thread_id = _ask(client, "Which items sell the most?").model_extra["thread_id"]
    slow = threading.Thread(
        target=_ask, args=(client, "a slow question"), kwargs={"extra_headers": {"X-Thread-Id": thread_id}}
    )
    slow.start()
    time.sleep(1.0)
    try:
        with pytest.raises(openai.ConflictError, match="already answering"):
            _ask(client, "Which items sell the most?", extra_headers={"X-Thread-Id": thread_id})
    finally:
        slow.join()
    assert _ask(client, "Which items sell the most?", extra_headers={"X-Thread-Id": thread_id}).choices


def test_client_disconnect_mid_stream_cancels_the_run(keyed_server):
    before = _metric(keyed_server, "uba_runs_cancelled_total")
    body = {"model": "uba", "stream": True, "messages": [{"role": "user", "content": "a slow tool question"}]}
    with httpx.stream(
        "POST", f"{keyed_server.url}/v1/chat/completions", json=body, headers=keyed_server.headers(), timeout=60
    ) as response:
        thread_id = response.headers["x-thread-id"]
        for line in response.iter_lines():
            if "step_started" in line:
                break  # the tool ran; the model's second (slow) call is under way: hang up now
    deadline = time.monotonic() + 20
    while _metric(keyed_server, "uba_runs_cancelled_total") <= before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _metric(keyed_server, "uba_runs_cancelled_total") == before + 1
    time.sleep(3)  # longer than the model call that was in flight
    thread = httpx.get(f"{keyed_server.url}/v1/threads/{thread_id}", headers=keyed_server.headers()).json()
    assert thread["turns"] == []  # the cancelled run never produced a recorded answer
    assert httpx.get(f"{keyed_server.url}/health").status_code == 200


def test_metrics_count_requests_llm_calls_tool_calls_and_errors(keyed_server, sql_tool):
    _ask(_client(keyed_server), "Which items sell the most?")
    httpx.post(f"{keyed_server.url}/v1/ask", json={"question": "no key"})
    assert (
        _metric(keyed_server, 'uba_http_requests_total{method="POST",route="/v1/chat/completions",status="200"}') >= 1
    )
    assert _metric(keyed_server, "uba_llm_calls_total") >= 2
    assert _metric(keyed_server, 'uba_tool_calls_total{tool="query"}') >= 1
    assert _metric(keyed_server, 'uba_errors_total{status="401"}') >= 1
    assert _metric(keyed_server, "uba_http_request_duration_seconds_count") >= 2


def test_openapi_and_docs_are_served(keyed_server):
    schema = httpx.get(f"{keyed_server.url}/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/ask", "/v1/threads/{thread_id}", "/health", "/metrics"} <= set(schema["paths"])
    assert httpx.get(f"{keyed_server.url}/docs").status_code == 200
