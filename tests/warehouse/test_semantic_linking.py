"""Schema linking on a real DuckDB layer: the entries nearest a question by meaning and by name words,
the grain asked for in words, and the values a question names; a window is not a grain."""

from __future__ import annotations

import pytest
from analytics_env import open_loaded
from behavior_data import make_tables

from warehouse.semantic import build_layer, spec_model
from warehouse.semantic.linking import Linker, words


@pytest.fixture(scope="module")
def layer(tmp_path_factory):
    safe, _ = open_loaded("duckdb", tmp_path_factory.mktemp("link"), None, make_tables(5))
    yield build_layer(safe.readonly)
    safe.readonly.close()


@pytest.fixture(scope="module")
def embedded(layer):
    from vectorstore import Embedder

    return Linker(layer, Embedder().embed)


def test_name_words_are_stemmed_so_inflections_meet():
    assert words("purchases") == words("purchased") == words("purchase")
    assert words("sessions per user") == {"session", "user"}


@pytest.mark.parametrize(
    "question, measure, dimension",
    [
        ("What's the median number of events per session?", "median_events_per_session", None),
        ("What hour of the day do we see the most purchases?", "purchases", "hour_of_day"),
        ("Which brand sold the most, by number of purchases?", "purchases", "brand"),
        ("Which weekday brings the most revenue?", "revenue", "weekday"),
    ],
)
def test_the_nearest_measure_and_dimension_lead(embedded, question, measure, dimension):
    links = embedded.link(question)
    assert links.measures[0].name == measure
    if dimension:
        assert links.dimensions[0].name == dimension


def test_a_window_is_not_a_grain_but_weekly_is(embedded):
    assert embedded.link("How many purchases in the last 30 days?").grains == []
    assert [g.name for g in embedded.link("Show weekly revenue").grains] == ["week"]
    assert [g.name for g in embedded.link("Revenue per month, please").grains] == ["month"]


def test_values_the_question_names_are_found_with_their_dimension(layer):
    device = layer.dimensions["device"].values[0]
    links = Linker(layer).link(f"How many {device} users bought something?")
    assert (("device", device)) in links.values
    # short codes match only in their own case: "in" and "it" are words, IN and IT countries
    countries = set(layer.dimensions["country"].values)
    lower = Linker(layer).link("what is in it for us")
    assert not {v for d, v in lower.values if d == "country"} & countries


def test_without_embeddings_name_words_still_link_and_unrelated_text_links_nothing(layer):
    lexical = Linker(layer)
    assert lexical.link("median events per session").measures[0].name == "median_events_per_session"
    assert lexical.link("最近7天一共有多少笔购买？").describe() == ""


def test_id_filters_are_the_values_a_call_must_find_in_the_conversation(layer):
    model = spec_model(layer)
    spec = model(
        measure="purchases", filters=[{"dimension": "user", "value": "77"}, {"dimension": "device", "value": "mobile"}]
    )
    assert spec.grounded_values() == ["77"]
    assert model(measure="purchases").grounded_values() == []


def test_an_embedder_that_fails_leaves_linking_to_name_words(layer):
    def broken(texts):
        raise OSError("no model files")

    linker = Linker(layer, broken)
    assert linker.link("median events per session").measures[0].name == "median_events_per_session"
    assert linker._embed is None  # not tried again on every question
