"""Requests refused before any model call (agent/requests.py), and the step a question still asks for
after the results (a prediction for the user a ranking found), over the real demo warehouse and tools."""

from __future__ import annotations

import re

import pytest

from agent.requests import refusal
from fake_llm import tool_call

CHANGES = [
    "Delete all reviews with one star.",
    "Please update the price of item P0001 to 10",
    "Could you insert a row for user 7?",
    "Change every rating below 3 stars to 3 stars.",
    "Add a test order of 20 dollars for user 9.",
    "Create a table called top_buyers with our 50 best customers.",
    "Clean up the events table, it has too many rows.",
    "把所有差评都删掉。",
]
PERSONAL = [
    "List the email addresses of our top buyers.",
    "What's the e-mail address of user 12?",
    "Send me the emails of customers from Germany.",
]
MENTIONS = [
    "How did the number of orders change in October?",
    "How many users removed items from their cart?",
    "Add a breakdown by country.",
    "Drop the brand filter and show the top items.",
    "Create a chart of weekly revenue.",
    "How many buyers came from the email channel?",
    "Which customers changed their device?",
    "有多少用户从购物车删除了商品？",
    "来自电子邮件渠道的用户有多少？",
]
"""Questions that only mention a change or the e-mail channel: answered as usual."""


@pytest.mark.parametrize(
    ("question", "reason"),
    [*((q, "change") for q in CHANGES), *((q, "personal_data") for q in PERSONAL), *((q, None) for q in MENTIONS)],
)
def test_a_request_to_change_data_or_for_personal_data_is_refused_and_a_mention_is_not(question, reason):
    assert refusal(question) == reason


def test_a_refused_request_costs_no_model_call_and_says_why(make_analyst):
    analyst, model = make_analyst([])
    answer = analyst.ask("Delete every review with one star.")
    assert answer.status == "ok" and not model.requests and answer.usage.llm_calls == 0
    assert "only read" in answer.text and not answer.trace
    chinese = analyst.ask("请删除用户4711的所有订单")
    assert "不会修改数据" in chinese.text and not model.requests


def test_a_quantity_the_data_has_no_word_for_is_answered_as_missing_without_a_model_call(make_analyst, analyst_parts):
    analyst, model = make_analyst([], lacks=analyst_parts["lacks"])
    answer = analyst.ask("What's the average age of our buyers?")
    assert answer.status == "ok" and not model.requests and not answer.trace
    assert "The data has no age" in answer.text and not re.search(r"\d", answer.text)
    margin = analyst.ask("What was our gross margin on audio items in October?")
    assert "no gross margin" in margin.text and not model.requests
    # a measured "time" or "rate" of something the data does not record; people counted by an action it lacks
    assert "no delivery time" in analyst.ask("What's the average delivery time of our orders?").text
    assert "no unsubscribed event" in analyst.ask("How many users unsubscribed from the newsletter in October?").text
    assert not model.requests


@pytest.mark.parametrize(
    "question",
    [
        "What's the average order value in October?",
        "What's the median number of events per session?",
        "What was the 90th percentile of session length last week?",
        "What's our conversion rate from view to purchase?",
        "What is the average rating of reviews that mention the battery?",
        "How many sessions does a user have on average in September?",
        "What's the total revenue of the audio category?",
        "What's the average session length on mobile?",
        "How many users logged in yesterday?",
        "How many users acquired through paid search made at least one purchase?",
        "How many customers reviewed a product last week?",
    ],
)
def test_a_quantity_the_layer_names_goes_to_the_tools(analyst_parts, question):
    assert analyst_parts["lacks"](question) is None


def test_after_the_ranking_the_prediction_the_question_asks_for_is_the_next_call(make_analyst):
    def predict_for_the_top_user(messages):
        top = re.search(r"user (\d+):", messages[-2].content).group(1)  # the ranking's first row
        return tool_call("predict_next", user_id=top)

    analyst, model = make_analyst(
        [
            tool_call("query", measure="orders", dimensions=["user"], limit=3),
            predict_for_the_top_user,
            "They will most likely view an item.",
        ]
    )
    answer = analyst.ask("Which customer placed the most orders, and what will they do next?")
    assert model.request_kwargs[1].get("tool_choice") == "predict_next"
    assert [s.tool for s in answer.trace] == ["query", "predict_next"]
    assert model.request_kwargs[2].get("tool_choice") != "predict_next"  # once: then the answer


def test_a_named_users_attributes_are_their_profile_from_the_first_step(make_analyst, facts):
    analyst, model = make_analyst(
        [tool_call("user_profile", user_id="17"), "They signed up in the data's first weeks."]
    )
    answer = analyst.ask("When did user 17 sign up?")
    assert model.request_kwargs[0].get("tool_choice") == "user_profile"
    assert [s.tool for s in answer.trace] == ["user_profile"]
    # a question about what a user did is no profile question: the model chooses
    analyst, model = make_analyst([tool_call("query", measure="purchases"), f"{facts['purchases']} purchases."])
    analyst.ask("How many purchases has user 17 made?")
    assert model.request_kwargs[0].get("tool_choice") != "user_profile"
