"""The API's own holes: keys decided per request, conversation memory that no thread id can cross, refusals
reported as refusals, review text marked as data and contact details masked for a scoped key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from agent.memory import thread_key
from agent.settings import Settings
from tests.ui.conftest import SCOPED_USER, build_small_warehouse, small_tables
from ui.api import create_app
from ui.api.keys import KeyStore

RULES = Path(__file__).with_name("security_rules.yaml")


@pytest.fixture
def data_dir(tmp_path):
    build_small_warehouse(tmp_path)
    # a query nested 500 deep (measured: a RecursionError that came back as "the language model is unavailable")
    nested = {
        "match": "nested",
        "tool": "run_sql",
        "answer": "Nested: $result",
        "args": {"sql": "SELECT " + "abs(" * 500 + "1" + ")" * 500 + " FROM events"},
    }
    rules = yaml.safe_load(RULES.read_text())
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump([nested, *rules]))
    return tmp_path


def _client(data_dir: Path) -> TestClient:
    settings = Settings(
        data_dir=data_dir,
        llm_backend="fake",
        llm_fake_rules=data_dir / "rules.yaml",
        api_auth="auto",
        serve_host="127.0.0.1",
    )
    return TestClient(create_app(settings, web=False), raise_server_exceptions=False)


def _events(response) -> tuple[int, int]:
    table = response.json()["tables"][0]
    return tuple(table["rows"][0])


def test_a_key_created_while_serving_is_required_at_once(data_dir):
    """Dev mode lasts only while no key exists: the next keyless or unknown-token request is a 401."""
    events = small_tables()["events"]
    mine = [e for e in events if e["user_id"] == SCOPED_USER]
    with _client(data_dir) as client:
        open_answer = client.post("/v1/ask", json={"question": "count the events"})
        assert open_answer.status_code == 200 and _events(open_answer) == (len(events), 12)
        assert client.get("/health").json()["auth"] == "none"

        store = KeyStore.in_data_dir(data_dir)  # as `uba keys create --user-scope u003` does, from another process
        token, _ = store.create(user_scope=SCOPED_USER)
        store.close()

        for headers in (
            {},
            {"Authorization": "Bearer sk-anything"},
            {"X-API-Key": "whatever"},
            {"Authorization": "Bearer uba_000000000000_" + "x" * 32},
        ):
            refused = client.post("/v1/ask", json={"question": "count the events"}, headers=headers)
            assert refused.status_code == 401, (headers, refused.text)
            assert "key" in refused.json()["error"]["message"]
        scoped = client.post(
            "/v1/ask", json={"question": "count the events"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert scoped.status_code == 200 and _events(scoped) == (len(mine), 1)
        assert client.get("/health").json()["auth"] == "keys"


def test_no_thread_id_reaches_another_callers_memory(data_dir):
    """An admin asking in thread 'u003:victim-t' must not load scope u003's thread 'victim-t'."""
    keys = KeyStore.in_data_dir(data_dir)
    scoped_token, scoped_key = keys.create(user_scope=SCOPED_USER)
    admin_token, admin_key = keys.create()
    keys.close()
    with _client(data_dir) as client:
        victim = client.post(
            "/v1/ask",
            json={"question": "my secret order is 4711", "thread_id": "victim-t"},
            headers={"Authorization": f"Bearer {scoped_token}"},
        )
        assert victim.status_code == 200
        attacker = client.post(
            "/v1/ask",
            json={"question": "what did I say?", "thread_id": f"{SCOPED_USER}:victim-t"},
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        assert attacker.status_code == 200
        analyst = client.app.state.runs.analyst
        victim_history = analyst.history("victim-t", SCOPED_USER, owner=f"key:{scoped_key.key_id}")
        attacker_history = analyst.history(f"{SCOPED_USER}:victim-t", None, owner=f"key:{admin_key.key_id}")
    assert [q for q, _ in victim_history] == ["my secret order is 4711"]
    assert [q for q, _ in attacker_history] == ["what did I say?"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("key:1", "5", "victim-t"), ("key:1", None, "5:victim-t")),
        (("key:1", "5:x", "y"), ("key:1", "5", "x:y")),
        (("key:1:5", None, "t"), ("key:1", "5", "t")),
        ((None, None, '","x'), (None, None, '",')),
    ],
)
def test_memory_keys_never_collide(a, b):
    assert thread_key(a[2], owner=a[0], user_scope=a[1]) != thread_key(b[2], owner=b[0], user_scope=b[1])


@pytest.mark.parametrize(
    "question", ["rows from a series", "the far future retention", "a spec to the end of time", "nested abs"]
)
def test_a_refused_or_invalid_tool_call_is_an_answer_not_a_model_outage(data_dir, question):
    with _client(data_dir) as client:
        response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] != "error"
    assert body["trace"] and body["trace"][0]["ok"] is False
    assert "no tool named" not in body["trace"][0]["error"]  # the tool ran and refused the arguments
    assert "Traceback" not in response.text


def test_review_text_from_run_sql_is_data_and_masked_for_a_scoped_key(data_dir):
    import duckdb

    path = data_dir / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("UPDATE reviews SET body = body || ' Reach me at jane.doe@mail.example or +49 170 1234567.'")
    keys = KeyStore.in_data_dir(data_dir)
    token, _ = keys.create(user_scope=SCOPED_USER)
    keys.close()
    with _client(data_dir) as client:
        response = client.post(
            "/v1/ask", json={"question": "review text please"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    rows = response.json()["tables"][0]["rows"]
    assert len(rows) == 1 and rows[0][0] == f"r{int(SCOPED_USER[1:]):03d}"
    assert "jane.doe@mail.example" not in response.text and "170 1234567" not in response.text
    assert "[email]" in rows[0][1] and "[phone]" in rows[0][1]
    assert "<data>" in response.json()["text"]  # the model read the rows delimited as customer data
