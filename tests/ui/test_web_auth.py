"""With keys on, the web app asks for a key (its id and the key) before anything else."""

from __future__ import annotations

from fastapi.testclient import TestClient

from agent.settings import Settings
from tests.ui.conftest import RULES
from ui.api import create_app
from ui.api.keys import KeyStore


def test_web_app_needs_a_valid_key_when_keys_are_on(tmp_path):
    token, key = KeyStore.in_data_dir(tmp_path).create(label="analyst")
    settings = Settings(data_dir=tmp_path, llm_backend="fake", llm_fake_rules=RULES, api_auth="auto")
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["auth"] == "keys"
        assert client.get("/ui/config").status_code in (401, 403)
        wrong = client.post("/ui/login", data={"username": key.key_id, "password": token[:-2] + "xx"})
        assert wrong.status_code == 400
        other_id = client.post("/ui/login", data={"username": "someone", "password": token})
        assert other_id.status_code == 400
        right = client.post("/ui/login", data={"username": key.key_id, "password": token})
        assert right.status_code == 200 and right.json()["success"] is True
        assert client.get("/ui/config").status_code == 200
