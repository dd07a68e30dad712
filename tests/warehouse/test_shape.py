"""The shape a question gives a query: comparison with the window before, a window moved back, a grain,
the dimensions it groups by (warehouse/semantic/shape.py)."""

from __future__ import annotations

import pytest

from warehouse.semantic.bounds import bounds_named, percentile_named
from warehouse.semantic.shape import named_dimensions, shape_choices

WORDS = {
    "country": ["country"],
    "device": ["device"],
    "category": ["category"],
    "brand": ["brand"],
    "item": ["item", "product"],
    "user": ["user", "customer", "buyer"],
    "weekday": ["weekday", "day of the week"],
    "hour_of_day": ["hour", "time of day"],
}
MEASURES = ["purchases", "active users", "users", "revenue", "views", "users who purchased", "orders"]
LISTED = {"device": ["mobile", "desktop", "tablet"], "country": ["US", "DE", "IN"], "category": ["audio", "toys"]}


def shape(question: str, latest: str | None = None):
    return shape_choices(question, latest or question, WORDS, MEASURES, LISTED, people="user")


@pytest.mark.parametrize(
    ("question", "compare", "back"),
    [
        ("Orders in the last 14 days against the 14 days prior?", True, False),
        ("How do this past week's purchases compare with the previous week?", True, False),
        ("Did revenue grow over the last 30 days?", None, False),
        ("How many purchases in the last 30 days?", False, False),
        ("What about the 14 days before that?", False, True),
        ("And the week before?", False, True),
    ],
)
def test_the_window_before_is_asked_for_or_moved_to(question, compare, back):
    got = shape(question)
    assert (got.compare, got.periods_back) == (compare, back)


def test_a_follow_up_keeps_a_comparison_optional_but_only_its_own_words_require_it():
    got = shape("Did views rise in the last 7 days?\nAnd for mobile?", "And for mobile?")
    assert got.compare is None and not got.periods_back


@pytest.mark.parametrize(
    ("question", "grains"),
    [
        ("Show me purchases per week in October", ["week"]),
        ("Monthly revenue since August", ["month"]),
        ("Which day had the most orders?", ["day"]),
        ("Our strongest sales week?", ["week"]),
        ("How did views trend over time?", None),
        ("Which day of the week gets the most views?", []),
        ("How many purchases in the week of October 5?", []),
        ("How many purchases in the last 7 days?", []),
    ],
)
def test_a_grain_only_when_named_any_for_a_trend(question, grains):
    assert shape(question).grains == grains


@pytest.mark.parametrize(
    ("question", "dimensions", "grouped"),
    [
        ("Which product category sold the most?", ["category"], True),
        ("Which buyer placed the most orders?", ["user"], True),
        ("Who spent the most last month?", ["user"], True),
        ("Top 5 brands by revenue", ["brand"], True),
        ("Which day of the week is busiest?", ["weekday"], True),
        ("What sells best?", None, False),
        ("How many active users in October?", [], False),
        ("How many users who purchased came back?", [], False),
        ("Do mobile users buy more than desktop users?", ["device"], True),
        ("Purchases from the US in the last week", [], False),
        ("What device does user 77 use, and from what country?", ["device", "country"], True),
    ],
)
def test_the_dimensions_a_question_groups_by(question, dimensions, grouped):
    got = shape(question)
    assert (got.dimensions, got.grouped) == (dimensions, grouped)


def test_a_relative_who_is_no_question_about_people_and_short_codes_keep_their_case():
    assert named_dimensions("Share of users who purchased in the US", WORDS, MEASURES, LISTED, "user") == ([], [], [])
    # "in" is a word here, not India's code; two codes name the country dimension
    assert named_dimensions("Views in the US and DE", WORDS, MEASURES, LISTED, "user") == ([], [], ["country"])
    assert named_dimensions("Views in the US in October", WORDS, MEASURES, LISTED, "user") == ([], [], [])


@pytest.mark.parametrize(
    ("question", "shares"),
    [
        ("What fraction of cart adders bought something?", True),
        ("Give the favorites-to-purchase conversion for September", True),
        ("How many of the searchers came back the next week?", None),
        ("How many purchases in the last 7 days?", False),
        ("By what percent did orders grow from August to September?", False),
    ],
)
def test_a_share_is_asked_for_allowed_or_not(question, shares):
    assert shape(question).shares is shares


def test_a_rate_after_the_base_behavior_or_in_the_next_period_only_when_asked():
    also = shape("Of the users who searched, how many also bought?")
    assert not also.after and not also.next_period
    assert shape("What share of searchers later bought something?").after
    assert shape("Of the buyers in August, what share came back the following month?").next_period


def test_the_one_with_the_most_is_what_a_question_asks_about():
    got = shape("Take the customer with the highest spend and tell me their country")
    assert got.dimensions == ["user"] and got.grouped


@pytest.mark.parametrize(
    ("question", "bounds", "floor"),
    [
        ("How many reviews of 3 stars or fewer mention sizing?", [("lte", "3", "star")], None),
        ("Reviews rated at least 4 in October?", [("gte", "4", "")], None),
        ("How many orders over 100 last week?", [("gt", "100", "")], None),
        ("4星及以上的评论有多少？", [("gte", "4", "star")], None),
        ("Among brands with at least 30 reviews, which is best rated?", [], 30),
        ("Which users with more than 10 orders spent most?", [], 11),
        ("How many purchases in the last 30 days?", [], None),
    ],
)
def test_the_numbers_a_question_bounds_values_and_groups_by(question, bounds, floor):
    assert bounds_named(question) == (bounds, floor)


def test_a_percentile_is_read_as_people_write_it():
    assert [percentile_named(q) for q in ("the 90th percentile", "p95 latency", "the upper quartile", "90分位")] == [
        90,
        95,
        75,
        90,
    ]
    assert percentile_named("the median order value") is None
