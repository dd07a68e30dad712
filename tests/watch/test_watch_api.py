"""``/v1/watch`` over the real app: save an answer of a thread, run it, keys own their reports, scopes hold."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from agent.settings import Settings
from ui.api import create_app
from ui.api.keys import KeyStore

RULES = Path(__file__).resolve().parents[1] / "ui" / "fake_rules.yaml"


@pytest.fixture
def api(data_dir):
    keys = KeyStore.in_data_dir(data_dir)
    scoped_user = (
        duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
        .execute(
            "SELECT user_id FROM events WHERE event_type = 'purchase' GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 1"
        )
        .fetchone()[0]
    )
    tokens = {
        "admin": keys.create(label="admin")[0],
        "other": keys.create(label="other")[0],
        "scoped": keys.create(user_scope=scoped_user, label="bot")[0],
    }
    keys.close()
    settings = Settings(
        data_dir=data_dir, llm_backend="fake", llm_fake_rules=RULES, api_auth="keys", watch_webhook_backoff_s=0.05
    )
    with TestClient(create_app(settings, web=False, mcp=False), raise_server_exceptions=False) as client:
        yield client, {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}, scoped_user


def test_an_answer_of_a_thread_is_saved_and_rerun_without_the_model(api, data_dir):
    client, keys, _ = api
    asked = client.post("/v1/ask", json={"question": "How many purchases were made per week?"}, headers=keys["admin"])
    assert asked.status_code == 200, asked.text
    saved = client.post(
        "/v1/watch",
        json={"name": "weekly purchases", "schedule": "@weekly", "thread_id": asked.headers["X-Thread-Id"]},
        headers=keys["admin"],
    )
    assert saved.status_code == 201, saved.text
    report = saved.json()
    assert report["body"]["calls"] == [{"tool": "query", "args": {"measure": "purchases", "grain": "week"}}]
    ran = client.post(f"/v1/watch/{report['report_id']}/run", headers=keys["admin"]).json()
    assert ran["status"] == "ok"
    assert ran["payload"]["tables"][0]["rows"] == asked.json()["tables"][0]["rows"]
    listed = client.get("/v1/watch", headers=keys["admin"]).json()["reports"]
    assert [(r["report_id"], r["latest_run"]["status"]) for r in listed] == [(report["report_id"], "ok")]
    runs = client.get(f"/v1/watch/{report['report_id']}/runs", headers=keys["admin"]).json()["runs"]
    assert [r["slot"] for r in runs] == [ran["slot"]]


def test_reports_belong_to_their_key(api):
    client, keys, _ = api
    report = client.post(
        "/v1/watch",
        json={"name": "mine", "schedule": "@daily", "queries": [{"measure": "events"}]},
        headers=keys["admin"],
    ).json()
    assert client.get("/v1/watch", headers=keys["other"]).json() == {"reports": []}
    for method, path in (
        ("post", f"/v1/watch/{report['report_id']}/run"),
        ("delete", f"/v1/watch/{report['report_id']}"),
        ("get", f"/v1/watch/{report['report_id']}/runs"),
    ):
        assert getattr(client, method)(path, headers=keys["other"]).status_code == 404
    assert client.get("/v1/watch").status_code == 401
    assert client.delete(f"/v1/watch/{report['report_id']}", headers=keys["admin"]).json() == {
        "removed": report["report_id"]
    }
    assert client.get("/v1/watch", headers=keys["admin"]).json() == {"reports": []}


def test_a_scoped_key_saves_reports_that_run_in_its_scope(api, data_dir):
    client, keys, user = api
    report = client.post(
        "/v1/watch",
        json={"name": "my purchases", "schedule": "@daily", "queries": [{"measure": "purchases"}]},
        headers=keys["scoped"],
    ).json()
    assert report["user_scope"] == user
    ran = client.post(f"/v1/watch/{report['report_id']}/run", headers=keys["scoped"]).json()
    mine = (
        duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
        .execute("SELECT COUNT(*) FROM events WHERE event_type = 'purchase' AND user_id = ?", [user])
        .fetchone()[0]
    )
    assert ran["payload"]["tables"][0]["rows"] == [[mine]]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"schedule": "sometimes", "queries": [{"measure": "events"}]}, "not a crontab line"),
        ({"schedule": "@daily", "alert": {"measure": "happiness"}}, "measure 'happiness' does not exist"),
        ({"schedule": "@daily", "queries": [{"measure": "happiness"}]}, "measure"),
        ({"schedule": "@daily", "queries": [{"measure": "events"}], "webhook": "file:///etc/passwd"}, "http(s) URL"),
        ({"schedule": "@daily"}, "exactly one of"),
    ],
)
def test_bad_reports_get_422_naming_the_problem(api, body, words):
    client, keys, _ = api
    response = client.post("/v1/watch", json={"name": "x", **body}, headers=keys["admin"])
    assert response.status_code == 422, response.text
    assert words in str(response.json()), response.json()
    assert client.get("/v1/watch", headers=keys["admin"]).json() == {"reports": []}


def test_an_alert_saved_over_the_api_runs(api):
    client, keys, _ = api
    alert = client.post(
        "/v1/watch",
        json={"name": "purchases", "schedule": "@daily", "alert": {"measure": "purchases", "grain": "day"}},
        headers=keys["admin"],
    )
    assert alert.status_code == 201, alert.text
    ran = client.post(f"/v1/watch/{alert.json()['report_id']}/run", headers=keys["admin"]).json()
    assert ran["status"] in {"ok", "alert"}
    checked = ran["payload"]["alert"]
    assert checked["low"] <= checked["expected"] <= checked["high"] and checked["measure"] == "purchases"
