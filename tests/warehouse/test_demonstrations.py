"""Demonstrations generated from a real DuckDB layer: every generated call validates and runs, an
operator's measure brings its own, and the nearest ones to a question (real MiniLM embedder) fit it."""

from __future__ import annotations

from datetime import date

import pytest
from analytics_env import open_loaded
from behavior_data import make_tables

from warehouse.semantic import build_layer, run_query, spec_model
from warehouse.semantic.demonstrations import (
    ID_PLACEHOLDER,
    TEXT_PLACEHOLDER,
    Demonstration,
    DemonstrationIndex,
    demonstration_index,
    layer_demonstrations,
)
from warehouse.semantic.layer import extend


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    safe, _ = open_loaded("duckdb", tmp_path_factory.mktemp("demos"), None, make_tables(5))
    yield safe, build_layer(safe.readonly)
    safe.readonly.close()


def test_every_generated_call_validates_and_runs_on_the_warehouse(env):
    safe, layer = env
    model = spec_model(layer)
    demos = layer_demonstrations(layer, date(2026, 10, 31))
    assert len(demos) > 100
    measures_shown = {d.args["measure"] for d in demos}
    assert measures_shown == set(layer.measures)  # every measure is demonstrated
    ran = 0
    for d in demos:
        spec = model(**d.args)  # raises on an argument the layer does not have
        if TEXT_PLACEHOLDER in str(d.args) or ID_PLACEHOLDER in str(d.args):
            continue
        result = run_query(safe, layer, spec)
        assert result.summary, d
        ran += 1
    assert ran > 100


def test_shapes_cover_grains_rankings_windows_rates_and_text(env):
    _, layer = env
    demos = layer_demonstrations(layer, date(2026, 11, 15))
    by_question = {d.question: d.args for d in demos}
    assert by_question["Which week had the highest revenue?"] == {"measure": "revenue", "grain": "week"}
    assert by_question["Revenue in October?"] == {"measure": "revenue", "start": "2026-10-01", "end": "2026-10-31"}
    assert by_question["What share of users who searched also purchased?"] == {
        "measure": "conversion_rate",
        "base_event": "search",
        "target_event": "purchase",
    }
    ranking = by_question["Which category has the highest purchases?"]
    assert ranking == {"measure": "purchases", "dimensions": ["category"], "limit": 5}
    text = [d for d in demos if d.args.get("filters") and d.args["filters"][0]["dimension"] == "review_text"]
    assert text and all(d.args["measure"] in {"reviews", "avg_rating"} for d in text)
    # a user's synonyms are other wordings of the same demonstration
    orders = next(d for d in demos if d.question == "Which user has the highest orders?")
    assert "Which customer has the highest orders?" in orders.wordings
    # distinct users per user is always 1: never demonstrated
    assert not [d for d in demos if d.args.get("dimensions") == ["user"] and d.args["measure"] == "active_users"]


def test_an_operators_measure_is_demonstrated(env):
    _, layer = env
    own = extend(
        layer,
        {
            "measures": {
                "big_orders": {
                    "description": "orders over 100",
                    "entity": "orders",
                    "agg": "count",
                    "where": "total > 100",
                }
            }
        },
        "layer.yaml",
    )
    questions = [d.question for d in layer_demonstrations(own)]
    assert "How many big orders in total?" in questions
    assert "Which country has the highest big orders?" in questions


@pytest.fixture(scope="module")
def index(env):
    from vectorstore import Embedder

    _, layer = env
    extra = [
        Demonstration(f"What will shopper {ID_PLACEHOLDER} buy next?", "predict_next", {"user_id": ID_PLACEHOLDER})
    ]
    return demonstration_index(layer, extra, Embedder().embed, last_day=date(2026, 10, 31))


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Which customer placed the most orders?", {"measure": "orders", "dimensions": ["user"], "limit": 5}),
        (
            "What percentage of searchers went on to buy?",
            {"measure": "conversion_rate", "base_event": "search", "target_event": "purchase", "target_after": True},
        ),
        ("Median session length in minutes?", {"measure": "median_session_minutes"}),
    ],
)
def test_the_nearest_demonstrations_fit_the_question(index, question, expected):
    shown = [d.args for d, _ in index.nearest(question)]
    assert expected in shown, shown


def test_an_id_slot_is_shown_only_for_a_question_naming_an_id_and_a_window_is_not_matched(index):
    assert "predict_next" in [d.tool for d, _ in index.nearest("What will user 4711 buy next?")]
    assert "predict_next" not in [d.tool for d, _ in index.nearest("What will our users buy next?")]
    # the window is the question's own: with or without it the same demonstrations come
    assert index.describe("How many purchases in the last 30 days?") == index.describe("How many purchases?")


def test_without_an_embedder_no_demonstrations_and_no_error(env):
    _, layer = env

    def broken(texts):
        raise OSError("no model files")

    index = DemonstrationIndex(layer_demonstrations(layer), broken)
    assert index.describe("Which category sells most?") == ""
    assert index.nearest("again") == []


def test_the_layer_files_examples_come_first_and_a_broken_one_is_named(env):
    from warehouse.semantic.layer import LayerError

    _, layer = env
    own = extend(
        layer,
        {
            "examples": [
                {
                    "question": "Weekly buyers on phones?",
                    "args": {
                        "measure": "users_who_purchased",
                        "grain": "week",
                        "filters": [{"dimension": "device", "value": "mobile"}],
                    },
                }
            ]
        },
        "semantic.yaml",
    )
    first = layer_demonstrations(own)[0]
    assert (first.question, first.tool, first.args["grain"]) == ("Weekly buyers on phones?", "query", "week")
    with pytest.raises(LayerError, match=r"semantic.yaml: example 1 is invalid: args: Field required"):
        extend(layer, {"examples": [{"question": "Weekly buyers?"}]}, "semantic.yaml")
