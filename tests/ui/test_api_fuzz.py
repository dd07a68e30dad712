"""Schemathesis against the served OpenAPI schema, in-process: no generated request gets a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from agent.settings import Settings
from tests.ui.conftest import RULES, build_small_warehouse
from ui.api import create_app

# Bounded: every operation gets this many valid and this many schema-violating requests.
EXAMPLES = 15


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("uba-api-fuzz")
    build_small_warehouse(data_dir)
    app = create_app(
        Settings(
            data_dir=data_dir, llm_backend="fake", llm_fake_rules=RULES, api_auth="none", api_rate_per_min=100_000
        ),
        web=False,
    )
    app.state.runs.analyst  # noqa: B018 - built up front so no example pays for it
    with TestClient(app):
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_the_schema_covers_the_api(api_schema):
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert {
        "POST /v1/chat/completions",
        "POST /v1/ask",
        "GET /v1/threads/{thread_id}",
        "GET /health",
        "GET /metrics",
    } <= labels


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_every_error_is_json(api_schema, mode):
    seen: list[int] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case):
            response = case.call(timeout=60)
            seen.append(response.status_code)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
            )
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["message"] and error["code"] == response.status_code

        try:
            check()
        except Unsatisfiable:  # an operation without inputs (GET /health) has nothing to break
            assert mode is GenerationMode.NEGATIVE
    assert len(seen) >= EXAMPLES  # the generator really produced requests
    if mode is GenerationMode.NEGATIVE:
        assert any(400 <= s < 500 for s in seen)
