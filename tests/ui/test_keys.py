"""API keys: stored hashed, verified, revoked; the ``uba keys`` commands."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from ui.api.keys import KeyStore, parse_rate
from ui.cli import app


def test_only_a_hash_of_the_key_is_stored(tmp_path):
    store = KeyStore.in_data_dir(tmp_path)
    token, key = store.create(user_scope="u042", rate_per_min=5, label="support bot")
    store.close()
    raw = (tmp_path / "api.sqlite").read_bytes()
    secret = token.split("_", 2)[2]  # uba_<key id>_<secret>; the secret itself may hold "_"
    assert token.encode() not in raw and secret.encode() not in raw
    rows = (
        sqlite3.connect(tmp_path / "api.sqlite").execute("SELECT key_id, key_hash, user_scope FROM api_keys").fetchall()
    )
    assert rows == [(key.key_id, rows[0][1], "u042")] and len(rows[0][1]) == 64


def test_verify_accepts_the_key_and_rejects_tampering_and_revocation(tmp_path):
    store = KeyStore.in_data_dir(tmp_path)
    token, key = store.create(rate_per_min=7)
    assert store.verify(token).key_id == key.key_id and store.verify(token).rate_per_min == 7
    assert store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.verify("") is None and store.verify("sk-not-ours") is None
    store.revoke(key.key_id)
    assert store.verify(token) is None and not store.has_active()


@pytest.mark.parametrize("text, expected", [("30/min", 30), ("5", 5), (" 12 / min ", 12)])
def test_rate_parsing(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["0/min", "fast", "-3", "3/hour"])
def test_bad_rates_are_refused_with_the_value(text):
    with pytest.raises(ValueError, match="per minute"):
        parse_rate(text)


def test_keys_commands_create_list_revoke(tmp_path, monkeypatch):
    monkeypatch.setenv("UBA_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--user-scope", "u007", "--rate", "10/min", "--json"])
    assert created.exit_code == 0, created.output
    made = json.loads(created.output)
    assert made["key"].startswith("uba_") and made["user_scope"] == "u007" and made["rate_per_min"] == 10
    listed = runner.invoke(app, ["keys", "list", "--json"])
    rows = json.loads(listed.output)
    assert [(r["key_id"], r["user_scope"], r["active"]) for r in rows] == [(made["id"], "u007", True)]
    assert made["key"] not in listed.output
    assert runner.invoke(app, ["keys", "revoke", made["id"]]).exit_code == 0
    assert json.loads(runner.invoke(app, ["keys", "list", "--json"]).output)[0]["active"] is False
    assert KeyStore.in_data_dir(tmp_path).verify(made["key"]) is None


def test_revoking_an_unknown_key_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("UBA_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["keys", "revoke", "feedfeedfeed"])
    assert result.exit_code != 0
