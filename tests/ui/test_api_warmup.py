"""`uba serve`'s warm-up: /health says warming until the model is ready, and a question sent meanwhile
waits for it outside its own timeout instead of failing."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import PrivateAttr

from agent.settings import Settings
from fake_llm import RuleChatModel, load_rules
from tests.ui.conftest import RULES, build_small_warehouse
from ui.api import create_app


class SlowToWarm(RuleChatModel):
    """A rule model that, like the embedded one, is busy while its prompt prefix is evaluated: a call
    waits for the prefill to finish (the test decides when it finishes)."""

    _busy: Any = PrivateAttr(default_factory=threading.Lock)
    _release: Any = PrivateAttr(default_factory=threading.Event)
    _prefilling: Any = PrivateAttr(default_factory=threading.Event)

    def prefill(self, messages, tools=()) -> int:
        with self._busy:
            self._prefilling.set()
            assert self._release.wait(120), "the test never let the warm-up finish"
        return 1000

    def _generate(self, *args, **kwargs):
        with self._busy:
            return super()._generate(*args, **kwargs)


@pytest.fixture
def data_dir(tmp_path):
    build_small_warehouse(tmp_path)
    return tmp_path


def test_a_question_during_the_warm_up_waits_for_the_model_and_is_answered(data_dir):
    from agent.factory import build_analyst

    settings = Settings(
        data_dir=data_dir, llm_backend="fake", llm_fake_rules=RULES, api_auth="none", api_question_timeout_s=5.0
    )
    model = SlowToWarm(rules=load_rules(RULES))
    app = create_app(settings, analyst_factory=lambda: build_analyst(settings, model=model), web=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/health").json()["model"] == "warming"
        assert app.state.runs.analyst is not None  # built (the model loaded) but not warmed up yet
        warming = threading.Thread(target=app.state.runs.warm, daemon=True)  # what `uba serve` starts
        warming.start()
        assert model._prefilling.wait(60)
        assert client.get("/health").json()["model"] == "warming"
        replies: list = []
        asking = threading.Thread(
            target=lambda: replies.append(client.post("/v1/ask", json={"question": "top items please"})), daemon=True
        )
        asking.start()
        asking.join(7)  # longer than the question's 5 s timeout: the warm-up must not count against it
        assert asking.is_alive() and not replies
        model._release.set()
        asking.join(120)
        warming.join(60)
        (reply,) = replies
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "ok" and reply.json()["tables"]
        assert client.get("/health").json()["model"] == "ready"
        timing = reply.headers["server-timing"]
        assert "warm" in timing


def test_a_failing_warm_up_is_reported_by_health_and_questions_still_get_a_clear_answer(data_dir):
    from agent.factory import build_analyst

    class Broken(RuleChatModel):
        def prefill(self, messages, tools=()) -> int:
            raise RuntimeError("weights file is truncated")

    settings = Settings(data_dir=data_dir, llm_backend="fake", llm_fake_rules=RULES, api_auth="none")
    app = create_app(
        settings, analyst_factory=lambda: build_analyst(settings, model=Broken(rules=load_rules(RULES))), web=False
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        with pytest.raises(RuntimeError, match="truncated"):
            app.state.runs.warm()
        health = client.get("/health").json()
        assert health["model"] == "failed" and "truncated" in health["analyst_error"]
        assert client.post("/v1/ask", json={"question": "top items please"}).status_code == 200
