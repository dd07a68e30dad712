"""Grounded decoding on the real tools over a real DuckDB layer: the schema a step's grammar is built
from allows only ids and values the conversation names, and dimensions that apply to the measure."""

from __future__ import annotations

from typing import ClassVar

import jsonschema
import pytest

from agent._grammar import call_schema, tool_grammar
from agent.grounded_args import grounded_tools
from agent.grounded_filters import id_tokens, question_numbers, question_tokens
from agent.tool_runner import ToolRunner, agent_schemas


@pytest.fixture(scope="module")
def parts(analyst_parts):
    tools = analyst_parts["tools_for_scope"](None)
    runner = ToolRunner(tools)
    return agent_schemas(tools), {n: runner.schema(n) for n in runner.names}


def _allowed(parts, question: str, evidence: str | None = None, latest: str | None = None):
    schemas, models = parts
    tools = {t["function"]["name"]: t for t in grounded_tools(schemas, models, evidence or question, question, latest)}

    def ok(name: str, args: dict) -> bool:
        if name not in tools:
            return False
        try:
            jsonschema.validate({"name": name, "arguments": args}, call_schema(tools[name]))
        except jsonschema.ValidationError:
            return False
        return True

    return ok


def test_a_filter_value_nobody_named_cannot_be_written(parts):
    ok = _allowed(parts, "Which brand has the most purchases?")
    assert ok("query", {"measure": "purchases", "dimensions": ["brand"]})
    assert not ok(
        "query",
        {"measure": "purchases", "dimensions": ["brand"], "filters": [{"dimension": "brand", "value": "Apple"}]},
    )
    named = _allowed(parts, "How many purchases of Acme in the US on mobile?")
    assert not named("query", {"measure": "purchases", "filters": [{"dimension": "country", "value": "DE"}]})
    assert named(
        "query",
        {
            "measure": "purchases",
            "filters": [{"dimension": "device", "value": "mobile"}, {"dimension": "country", "value": "US"}],
        },
    )
    assert named("query", {"measure": "purchases", "filters": [{"dimension": "brand", "value": "Acme"}]})
    assert not named("query", {"measure": "purchases", "filters": [{"dimension": "device", "value": "desktop"}]})


def test_an_id_comes_from_the_conversation_and_a_tool_needing_one_waits_for_it(parts):
    first = _allowed(parts, "Which customer has the most orders? What will they do next?")
    assert not first("user_profile", {"user_id": "77"})
    assert not first(
        "query", {"measure": "orders", "dimensions": ["user"], "filters": [{"dimension": "user", "value": "77"}]}
    )
    assert first("query", {"measure": "orders", "dimensions": ["user"], "limit": 1})
    # after the ranking returned user 2280, the predictor can be called for that user and no other
    later = _allowed(
        parts,
        "Which customer has the most orders? What will they do next?",
        "Which customer has the most orders?\norders by user: 2280 (102), 311 (97)",
    )
    assert later("user_profile", {"user_id": "2280"}) and not later("user_profile", {"user_id": "77"})


def test_a_dimension_is_offered_only_with_a_measure_it_applies_to(parts):
    ok = _allowed(parts, "Average rating of reviews that mention the battery, and revenue by battery?")
    assert ok("query", {"measure": "avg_rating", "filters": [{"dimension": "review_text", "value": "battery"}]})
    assert not ok("query", {"measure": "revenue", "filters": [{"dimension": "review_text", "value": "battery"}]})
    ranked = _allowed(parts, "Which category has the most purchases, and which the most sign-ups?")
    assert not ranked("query", {"measure": "signups", "dimensions": ["category"]})  # users have no item
    assert ranked("query", {"measure": "purchases", "dimensions": ["category"]})
    # a rate's events go with a rate only
    rate = _allowed(parts, "Of the users who viewed, how many went on to purchase?")
    assert rate("query", {"measure": "conversion_rate", "base_event": "view", "target_event": "purchase"})
    assert not rate("query", {"measure": "users_who_viewed", "base_event": "view", "target_event": "purchase"})
    either = _allowed(parts, "How many of the users who viewed an item are from the US?")  # one behavior
    assert either("query", {"measure": "users_who_viewed", "filters": [{"dimension": "country", "value": "US"}]})
    assert not either("query", {"measure": "users_who_viewed", "base_event": "view", "target_event": "purchase"})


def test_a_rates_base_and_target_follow_the_questions_order(parts):
    ok = _allowed(parts, "Among people who added something to cart in October, what share bought it?")
    assert ok(
        "query",
        {
            "measure": "conversion_rate",
            "base_event": "add_to_cart",
            "target_event": "purchase",
            "start": "2026-10-01",
            "end": "2026-10-31",
        },
    )
    assert not ok(
        "query",
        {
            "measure": "conversion_rate",
            "base_event": "purchase",
            "target_event": "add_to_cart",
            "start": "2026-10-01",
            "end": "2026-10-31",
        },
    )
    # users of one behavior counted by another: a rate (its result gives the count and the share)
    count = _allowed(parts, "Of the users who registered in the last 7 days, how many have searched?")
    assert count(
        "query", {"measure": "conversion_rate", "base_event": "signup", "target_event": "search", "last_days": 7}
    )
    assert not count("query", {"measure": "searches", "last_days": 7})


def test_only_the_named_behaviors_counts_are_offered_and_distinct_users_do_not_rank_users(parts):
    ok = _allowed(parts, "Which user added the most items to cart last week?")
    assert ok("query", {"measure": "add_to_carts", "dimensions": ["user"], "last_days": 7})
    assert not ok("query", {"measure": "views", "dimensions": ["user"], "last_days": 7})
    assert not ok("query", {"measure": "users_who_added_to_cart", "dimensions": ["user"], "last_days": 7})
    assert not ok("query", {"measure": "users_who_added_to_cart", "last_days": 7})  # it groups by user
    assert ok("query", {"measure": "revenue", "dimensions": ["user"], "last_days": 7})  # not a count of one event


def test_a_text_filter_holds_the_words_asked_for_and_is_required_then(parts):
    ok = _allowed(parts, "How many reviews brought up delivery last week?")
    assert ok(
        "query", {"measure": "reviews", "last_days": 7, "filters": [{"dimension": "review_text", "value": "delivery"}]}
    )
    assert not ok("query", {"measure": "reviews", "last_days": 7})
    assert not ok(
        "query", {"measure": "reviews", "last_days": 7, "filters": [{"dimension": "review_text", "value": "week"}]}
    )
    plain = _allowed(parts, "Among brands with at least 30 reviews, which one has the best average rating?")
    assert plain("query", {"measure": "avg_rating", "dimensions": ["brand"], "min_rows": 30})
    assert not plain(
        "query",
        {
            "measure": "avg_rating",
            "dimensions": ["brand"],
            "min_rows": 30,
            "filters": [{"dimension": "review_text", "value": "best"}],
        },
    )


def test_a_floor_on_groups_and_a_bound_on_a_value_are_the_ones_the_question_names(parts):
    floor = _allowed(parts, "Among brands with at least 30 reviews, which one has the best average rating?")
    assert not floor("query", {"measure": "avg_rating", "dimensions": ["brand"]})  # the floor is required
    assert not floor("query", {"measure": "avg_rating", "dimensions": ["brand"], "min_rows": 20})
    assert not floor(  # 30 is the floor, not a rating
        "query",
        {
            "measure": "avg_rating",
            "dimensions": ["brand"],
            "min_rows": 30,
            "filters": [{"dimension": "rating", "value": "30"}],
        },
    )
    bound = _allowed(parts, "How many reviews of 3 stars or fewer mention sizing?")
    asked = {"dimension": "rating", "op": "lte", "value": 3}
    text = {"dimension": "review_text", "value": "sizing"}
    assert bound("query", {"measure": "reviews", "filters": [asked, text]})
    assert not bound("query", {"measure": "reviews", "filters": [{**asked, "op": "gte"}, text]})
    assert not bound("query", {"measure": "reviews", "filters": [{"dimension": "rating", "value": "3"}, text]})
    assert not bound("query", {"measure": "reviews", "min_rows": 3, "filters": [asked, text]})  # nothing grouped
    assert not bound("query", {"measure": "reviews", "filters": [text]})  # the bound is required
    hours = _allowed(parts, "How many purchases happen at hour 19 or later?")
    assert hours("query", {"measure": "purchases", "filters": [{"dimension": "hour_of_day", "op": "gte", "value": 19}]})
    assert not _allowed(parts, "How many purchases happen at hour 30 or later?")(
        "query", {"measure": "purchases", "filters": [{"dimension": "hour_of_day", "op": "gte", "value": 30}]}
    )  # no hour 30


def test_a_percentile_is_asked_of_a_median_measure(parts):
    ok = _allowed(parts, "What's the 90th percentile of events per session?")
    assert ok("query", {"measure": "median_events_per_session", "percentile": 90})
    assert not ok("query", {"measure": "median_events_per_session"})
    assert not ok("query", {"measure": "avg_events_per_session", "percentile": 90})
    assert not ok("query", {"measure": "median_events_per_session", "percentile": 50})
    plain = _allowed(parts, "What's the median number of events per session?")
    assert plain("query", {"measure": "median_events_per_session"})
    assert not plain("query", {"measure": "median_events_per_session", "percentile": 90})


def test_an_id_named_after_an_entity_is_no_value_of_another_dimension(parts):
    ok = _allowed(parts, "Where is user 1234 based, and what device do they use?")
    assert ok(
        "query", {"measure": "events", "dimensions": ["device"], "filters": [{"dimension": "user", "value": "1234"}]}
    )
    assert not ok(
        "query",
        {"measure": "events", "dimensions": ["device"], "filters": [{"dimension": "signup_month", "value": "1234"}]},
    )


def test_the_window_is_the_one_the_question_names(parts):
    ok = _allowed(parts, "Who was the top spender over the last 30 days?")
    assert ok("query", {"measure": "revenue", "dimensions": ["user"], "last_days": 30})
    assert not ok("query", {"measure": "revenue", "dimensions": ["user"]})  # named, so required
    assert not ok("query", {"measure": "revenue", "dimensions": ["user"], "last_days": 7})
    october = _allowed(parts, "Revenue in October?")
    assert not october("query", {"measure": "revenue", "start": "2026-09-01", "end": "2026-09-30"})
    assert not _allowed(parts, "Which brand sells best?")("query", {"measure": "purchases", "last_days": 30})


def test_the_narrowed_schemas_compile_to_a_grammar(parts):
    pytest.importorskip("llama_cpp", reason="grammar compilation needs the local-llm extra")
    schemas, models = parts
    question = "Compare buyers from email and social, and user 4711's favorite category?"
    grammar = tool_grammar(grounded_tools(schemas, models, question, question), allow_text=False)
    assert '\\"email\\"' in grammar and '\\"4711\\"' in grammar


def test_lengths_of_time_dates_and_calendar_words_are_not_values():
    assert id_tokens("user 4711 in the last 30 days, since 2026-10-01, in 2025") == ["4711"]
    assert question_numbers("top 5 items over 14 days, 20% off") == ["5"]
    assert question_tokens("Sales of Acme in October, on Monday?") == ["Acme"]


def test_the_graph_gives_a_grammar_model_each_steps_narrowed_schemas(analyst_parts, tmp_path):
    from langchain_core.messages import AIMessage
    from langgraph.checkpoint.memory import InMemorySaver

    from agent.analyst import Analyst
    from fake_llm import ScriptedChatModel

    class GrammarModel(ScriptedChatModel):
        grounded_decoding: ClassVar[bool] = True

    call = AIMessage(
        content="",
        tool_calls=[{"name": "query", "args": {"measure": "orders", "dimensions": ["user"], "limit": 1}, "id": "c1"}],
    )
    model = GrammarModel(script=[call, AIMessage(content="The top customer placed the most orders.")])
    analyst = Analyst(
        model, analyst_parts["tools_for_scope"], analyst_parts["system_text"], checkpointer=InMemorySaver()
    )
    analyst.ask("Which customer has the most orders? What will they do next?")
    first, second = (kw.get("decode_tools") for kw in model.request_kwargs[:2])
    names = [t["function"]["name"] for t in first]
    assert "query" in names and "user_profile" not in names  # no id yet
    assert "user_profile" in [t["function"]["name"] for t in second]  # the ranking's ids are in the conversation
    # the prompt still shows every tool with its full schema (one cacheable prefix)
    assert "user_profile" in [t["function"]["name"] for t in model.request_kwargs[0]["tools"]]


def test_the_shape_comes_from_the_question(parts):
    compared = _allowed(parts, "Sign-ups in the last 14 days against the 14 days prior?")
    assert compared("query", {"measure": "signups", "last_days": 14, "compare_previous": True})
    assert not compared("query", {"measure": "signups", "last_days": 14})
    months = _allowed(parts, "Were there more orders in September than in August?")
    assert months("query", {"measure": "orders", "start": "2026-09-01", "end": "2026-09-30", "compare_previous": True})
    assert not months("query", {"measure": "orders", "start": "2026-08-01", "end": "2026-08-31"})
    single = _allowed(parts, "How many orders in the last 14 days?")
    assert not single("query", {"measure": "orders", "last_days": 14, "grain": "day"})
    assert not single("query", {"measure": "orders", "last_days": 14, "compare_previous": True})
    assert not single("query", {"measure": "orders", "last_days": 14, "dimensions": ["brand"]})
    weekly = _allowed(parts, "Orders per week in the last 28 days")
    assert weekly("query", {"measure": "orders", "last_days": 28, "grain": "week"})
    assert not weekly("query", {"measure": "orders", "last_days": 28, "grain": "day"})


def test_a_ranking_groups_by_the_dimension_it_names_and_a_follow_up_moves_the_window_back(parts):
    ranked = _allowed(parts, "Which brand had the most purchases in the last 14 days?")
    assert ranked("query", {"measure": "purchases", "last_days": 14, "dimensions": ["brand"]})
    assert not ranked("query", {"measure": "purchases", "last_days": 14})
    assert not ranked("query", {"measure": "purchases", "last_days": 14, "dimensions": ["item"]})
    question = "How many sign-ups in the last 14 days?\nWhat about the 14 days before that?"
    back = _allowed(parts, question, question, "What about the 14 days before that?")
    assert back("query", {"measure": "signups", "last_days": 14, "periods_back": 1})
    assert not back("query", {"measure": "signups", "last_days": 14})
    first = _allowed(parts, "How many sign-ups in the last 14 days?")
    assert not first("query", {"measure": "signups", "last_days": 14, "periods_back": 1})


def test_a_share_question_gets_share_measures_and_a_count_no_rate(parts):
    share = _allowed(parts, "What fraction of users who viewed an item in the last 14 days added one to cart?")
    assert share(
        "query", {"measure": "conversion_rate", "last_days": 14, "base_event": "view", "target_event": "add_to_cart"}
    )
    assert not share("query", {"measure": "users_who_added_to_cart", "last_days": 14})
    count = _allowed(parts, "How many users added something to cart in the last 14 days?")
    assert count("query", {"measure": "users_who_added_to_cart", "last_days": 14})
    assert not count(
        "query", {"measure": "conversion_rate", "last_days": 14, "base_event": "view", "target_event": "add_to_cart"}
    )


def test_a_row_limit_is_a_usual_size_or_the_questions_and_only_with_groups(parts):
    top = _allowed(parts, "Top 7 brands by purchases")
    assert top("query", {"measure": "purchases", "dimensions": ["brand"], "limit": 7})
    assert top("query", {"measure": "purchases", "dimensions": ["brand"], "limit": 10})
    assert not top("query", {"measure": "purchases", "dimensions": ["brand"], "limit": 1000})
    total = _allowed(parts, "How many purchases in the last 14 days?")
    assert total("query", {"measure": "purchases", "last_days": 14})
    assert not total("query", {"measure": "purchases", "last_days": 14, "limit": 5})


def test_a_number_with_thousands_separators_is_no_id():
    assert id_tokens("users who added to cart: 3,310; user 4711") == ["4711"]


def test_two_adjacent_months_without_a_comparison_allow_the_period_after(parts):
    ok = _allowed(parts, "Of the users who bought in August, what share bought in September too?")
    assert ok(
        "query",
        {
            "measure": "conversion_rate",
            "start": "2026-08-01",
            "end": "2026-08-31",
            "base_event": "purchase",
            "target_event": "purchase",
            "target_window": "next",
        },
    )
    assert not _allowed(parts, "What share of August buyers also viewed?")(
        "query",
        {
            "measure": "conversion_rate",
            "start": "2026-08-01",
            "end": "2026-08-31",
            "base_event": "purchase",
            "target_event": "view",
            "target_window": "next",
        },
    )


def test_a_day_of_a_month_is_no_id_or_value():
    assert id_tokens("signed up in the week of October 12, like user 4711") == ["4711"]
    assert question_numbers("the week of Oct 5, top 3") == ["3"]


def test_a_country_named_by_its_name_or_its_people_is_its_code(parts):
    ok = _allowed(parts, "Do German reviewers rate lower than French ones? Give both average ratings.")
    both = {"dimension": "country", "op": "in", "value": ["DE", "FR"]}
    assert ok("query", {"measure": "avg_rating", "dimensions": ["country"], "filters": [both]})
    assert not ok("query", {"measure": "avg_rating"})  # two values of one dimension: grouped by it
    assert not ok(
        "query",
        {"measure": "avg_rating", "dimensions": ["country"], "filters": [{"dimension": "country", "value": "US"}]},
    )
    zh = _allowed(parts, "美国用户最近7天买了多少次？")
    assert zh("query", {"measure": "purchases", "last_days": 7, "filters": [{"dimension": "country", "value": "US"}]})
    assert not zh(
        "query", {"measure": "purchases", "last_days": 7, "filters": [{"dimension": "country", "value": "DE"}]}
    )


def test_a_share_of_a_count_is_the_count_where_the_named_values_hold_over_all(parts):
    ok = _allowed(parts, "What share of purchases happen on weekends?")
    weekend = {"dimension": "weekday", "op": "in", "value": ["0", "6"]}
    assert ok("query", {"measure": "purchases", "share_of_all": True, "filters": [weekend]})
    assert not ok("query", {"measure": "purchases", "filters": [weekend]})  # a count is no share
    assert not ok("query", {"measure": "purchases", "share_of_all": True})  # the share of which rows
    assert not ok(
        "query",
        {"measure": "purchases", "share_of_all": True, "filters": [{"dimension": "weekday", "value": "1"}]},
    )
    none = _allowed(parts, "What share of sessions end up with a purchase?")
    assert not none("query", {"measure": "purchases", "share_of_all": True})  # no value named: no such share


def test_first_time_buyers_who_bought_again_are_a_rate_of_a_behavior_with_itself(parts):
    ok = _allowed(
        parts,
        "Of the customers who made their first ever purchase in the last 30 days, how many have bought a second time?",
    )
    call = {"measure": "conversion_rate", "base_event": "purchase", "target_event": "purchase", "last_days": 30}
    assert ok("query", {**call, "base_first": True})
    assert not ok("query", call)  # a first purchase asked for: required


def test_an_id_named_after_one_key_is_no_value_of_another(parts):
    ok = _allowed(parts, "Through which channel did user 4711 find us?")
    assert ok(
        "query", {"measure": "events", "dimensions": ["channel"], "filters": [{"dimension": "user", "value": "4711"}]}
    )
    assert not ok(
        "query", {"measure": "events", "dimensions": ["channel"], "filters": [{"dimension": "item", "value": "4711"}]}
    )
    product = _allowed(parts, "How many users viewed product 4711?")
    assert product("query", {"measure": "users_who_viewed", "filters": [{"dimension": "item", "value": "4711"}]})
    assert not product("query", {"measure": "users_who_viewed", "filters": [{"dimension": "user", "value": "4711"}]})


def test_one_behavior_in_two_windows_as_a_share_is_a_rate(parts):
    ok = _allowed(parts, "What share of users active in September were also active in October?")
    call = {"measure": "conversion_rate", "base_event": "active", "target_event": "active"}
    assert ok("query", {**call, "start": "2026-09-01", "end": "2026-09-30", "target_window": "next"})
    assert not ok("query", {"measure": "purchase_session_share", "start": "2026-09-01", "end": "2026-09-30"})
    assert not ok("query", {**call, "start": "2026-09-01", "end": "2026-10-31", "target_window": "next"})


def test_a_quoted_word_is_offered_in_its_quotes_to_match_as_written(parts):
    ok = _allowed(parts, 'How many reviews mention sizing? Count the ones containing "size".')
    assert ok("query", {"measure": "reviews", "filters": [{"dimension": "review_text", "value": "'size'"}]})
    # the quoted word is what to look for: the mention's own word is not offered beside it
    assert not ok("query", {"measure": "reviews", "filters": [{"dimension": "review_text", "value": "sizing"}]})


def test_no_value_the_grammar_offers_holds_a_double_quote(parts):
    # measured: an enum value with a double quote ('"size"') made llama.cpp's grammar parser fail the question
    schemas, models = parts
    question = 'How many reviews of 3 stars or fewer mention sizing? Count the ones containing "size".'
    tools = grounded_tools(schemas, models, question, question)

    def strings(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from (value if key == "enum" and isinstance(value, list) else strings(value))
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)

    offered = [v for t in tools for v in strings(t["function"]["parameters"]) if isinstance(v, str)]
    assert "'size'" in offered and not [v for v in offered if '"' in v]


def test_a_value_the_question_names_is_a_filter_and_two_are_compared_exactly(parts):
    ok = _allowed(parts, "How many purchases did mobile users make last week?")
    mobile = {"dimension": "device", "value": "mobile"}
    assert ok("query", {"measure": "purchases", "last_days": 7, "filters": [mobile]})
    assert not ok("query", {"measure": "purchases", "last_days": 7})  # the value is named: a filter is due
    two = _allowed(parts, "Do German reviewers rate lower than French ones?")
    both = {"dimension": "country", "op": "in", "value": ["DE", "FR"]}
    assert two("query", {"measure": "avg_rating", "dimensions": ["country"], "filters": [both]})
    assert not two("query", {"measure": "avg_rating", "dimensions": ["country"]})
    assert not two(
        "query", {"measure": "avg_rating", "dimensions": ["country"], "filters": [{**both, "value": ["DE"]}]}
    )
    assert not two(  # German and French name countries, not brands
        "query",
        {
            "measure": "avg_rating",
            "dimensions": ["country"],
            "filters": [both, {"dimension": "brand", "value": "German"}],
        },
    )


def test_a_measure_per_session_is_for_a_question_about_sessions(parts):
    ok = _allowed(parts, "What share of purchases happen on weekends?")
    assert not ok("query", {"measure": "purchase_session_share"})
    sessions = _allowed(parts, "What share of sessions end up with a purchase?")
    assert sessions("query", {"measure": "purchase_session_share"})


def test_users_of_one_behavior_without_another_are_counted_by_the_rate_only(parts):
    ok = _allowed(parts, "How many registered users have no activity at all in the data?")
    assert not ok("query", {"measure": "active_users"})


def test_a_rate_is_called_with_both_its_behaviors_and_each_dimension_once(parts):
    ok = _allowed(parts, "What is the conversion rate by device over the last 30 days?")
    rate = {"measure": "conversion_rate", "dimensions": ["device"], "last_days": 30}
    assert not ok("query", rate)  # failed at run time before: "conversion_rate needs base_event and target_event"
    assert ok("query", {**rate, "base_event": "active", "target_event": "purchase"})
    assert not ok(
        "query", {**rate, "dimensions": ["device", "device"], "base_event": "view", "target_event": "purchase"}
    )


def test_a_measure_named_by_its_own_phrase_is_the_one_offered(parts):
    ok = _allowed(parts, "How did the average order value in October compare with September?")
    window = {"start": "2026-10-01", "end": "2026-10-31", "compare_previous": True}
    assert ok("query", {**window, "measure": "avg_order_value"})
    assert not ok("query", {**window, "measure": "orders"})
    assert _allowed(parts, "What was the AOV last week?")("query", {"measure": "avg_order_value", "last_days": 7})
    # a phrase naming a rate's base keeps the rate: "active users" here are who the share is of
    shares = _allowed(parts, "What share of active users made a purchase last week?")
    assert shares(
        "query", {"measure": "conversion_rate", "last_days": 7, "base_event": "active", "target_event": "purchase"}
    )


def test_a_sign_up_count_is_no_count_of_active_users(parts):
    ok = _allowed(parts, "How many users from Germany signed up in the last 30 days?")
    germany = {"last_days": 30, "filters": [{"dimension": "country", "value": "DE"}]}
    assert ok("query", {**germany, "measure": "signups"})
    assert not ok("query", {**germany, "measure": "active_users"})


def test_a_value_of_several_words_is_named_spaced_and_names_no_behavior(parts):
    question = "Do paid search users buy more often than organic ones? Compare the share of each who purchased."
    schemas, models = parts
    shape = models["query"].shape_choices(question, question)
    assert "search" not in shape.behaviors and shape.dimensions == ["channel"]
    ok = _allowed(parts, question)
    both = {"dimension": "channel", "op": "in", "value": ["organic", "paid_search"]}  # the layer's order
    rate = {"measure": "conversion_rate", "dimensions": ["channel"], "filters": [both]}
    assert ok("query", {**rate, "base_event": "active", "target_event": "purchase"})
    assert not ok(
        "query",
        {
            **rate,
            "filters": [{**both, "value": ["organic", "organic"]}],
            "base_event": "active",
            "target_event": "purchase",
        },
    )


def test_an_n_star_review_is_a_rating_filter_and_no_id(parts):
    ok = _allowed(parts, 'How many 5-star reviews use the word "love"?')
    five, love = {"dimension": "rating", "op": "eq", "value": 5}, {"dimension": "review_text", "value": "'love'"}
    assert ok("query", {"measure": "reviews", "filters": [five, love]})
    assert not ok("query", {"measure": "reviews", "filters": [love]})
    assert not ok("query", {"measure": "reviews", "filters": [five, love, {"dimension": "item", "value": "5-star"}]})


def test_a_word_naming_several_values_of_a_number_dimension_filters_on_all_of_them(parts):
    ok = _allowed(parts, "What share of purchases happen on weekends?")
    weekend = {"dimension": "weekday", "op": "in", "value": ["0", "6"]}
    assert ok("query", {"measure": "purchases", "share_of_all": True, "filters": [weekend]})
    assert not ok("query", {"measure": "purchases", "share_of_all": True, "filters": [{**weekend, "value": ["0"]}]})
    assert not ok(
        "query", {"measure": "purchases", "share_of_all": True, "filters": [{"dimension": "weekday", "value": "0"}]}
    )


def test_users_of_one_behavior_who_never_did_another_are_the_rate_without_it(parts):
    ok = _allowed(parts, "How many registered users have no activity at all in the data?")
    rate = {"measure": "conversion_rate", "base_event": "signup", "target_event": "active"}
    assert ok("query", {**rate, "without": True})
    assert not ok("query", rate)
    assert not _allowed(parts, "What share of signups were active?")("query", {**rate, "without": True})


def test_no_window_before_without_a_window_and_a_rate_is_never_trivially_of_active_users(parts):
    question = "Do paid search users buy more often than organic ones? Give the share of each group's active users."
    ok = _allowed(parts, question)
    both = {"dimension": "channel", "op": "in", "value": ["organic", "paid_search"]}
    rate = {"measure": "conversion_rate", "dimensions": ["channel"], "filters": [both]}
    # "more often than" compares, but there is no window to compare with the one before
    assert not ok("query", {**rate, "base_event": "active", "target_event": "purchase", "compare_previous": True})
    assert ok("query", {**rate, "base_event": "active", "target_event": "purchase"})
    # buyers are active in the window they buy in: that share would be 100%
    assert not ok("query", {**rate, "base_event": "purchase", "target_event": "active"})
    # active again in the period after is a real share
    back = _allowed(parts, "What share of October's buyers were active again the next month?")
    assert back(
        "query",
        {
            "measure": "conversion_rate",
            "start": "2026-10-01",
            "end": "2026-10-31",
            "base_event": "purchase",
            "target_event": "active",
            "target_window": "next",
        },
    )


def test_a_count_of_users_naming_no_behavior_is_a_count_of_people_and_without_time_the_user_base(parts):
    everyone = _allowed(parts, "Which country has the most users?")
    assert everyone("query", {"measure": "signups", "dimensions": ["country"]})  # the users table's rows
    assert not everyone("query", {"measure": "active_users", "dimensions": ["country"]})
    assert not everyone("query", {"measure": "events", "dimensions": ["country"]})
    recent = _allowed(parts, "How many users from Germany were there in the last 7 days?")
    active = {"measure": "active_users", "last_days": 7, "filters": [{"dimension": "country", "value": "DE"}]}
    assert recent("query", active)
    assert not recent("query", {**active, "measure": "sessions"})
    buyers = _allowed(parts, "How many customers purchased in the last 7 days?")  # the people who did it
    assert buyers("query", {"measure": "users_who_purchased", "last_days": 7})
    assert not buyers("query", {"measure": "purchases", "last_days": 7})
    things = _allowed(parts, "How many purchases did customers make in the last 7 days?")  # purchases counted
    assert things("query", {"measure": "purchases", "last_days": 7})


def test_a_question_in_chinese_names_the_layers_measures_and_dimensions_by_their_chinese_words(parts):
    ranking = _allowed(parts, "哪个品类的总收入最高？")
    assert ranking("query", {"measure": "revenue", "dimensions": ["category"], "limit": 1})
    assert not ranking("query", {"measure": "revenue", "dimensions": ["brand"], "limit": 1})
    assert not ranking("query", {"measure": "orders", "dimensions": ["category"], "limit": 1})
    value = _allowed(parts, "过去30天的平均订单金额是多少？")  # 订单 alone (orders) is inside the longer phrase
    assert value("query", {"measure": "avg_order_value", "last_days": 30})
    assert not value("query", {"measure": "orders", "last_days": 30})
    people = _allowed(parts, "哪个国家的用户最多？")
    assert people("query", {"measure": "signups", "dimensions": ["country"]})
    assert not people("query", {"measure": "signups", "dimensions": ["user"]})  # 用户 is the measure here


def test_a_share_of_its_own_is_offered_only_when_the_question_names_what_it_is_a_share_of(parts):
    from agent.grounded_args import _narrow_ratios

    shares = {"positive_review_share": True, "negative_review_share": True, "conversion_rate": True}
    phrases = {"negative_review_share": ["complaint rate", "差评率"]}

    def offered(question: str) -> list[str]:
        properties = {"measure": {"enum": ["purchases", "conversion_rate", *shares][:4]}}
        _narrow_ratios(properties, shares, phrases, {"conversion_rate"}, question)
        return properties["measure"]["enum"]

    # the review shares are shares of reviews: not of purchases, not of a channel's buyers
    assert offered("What share of purchases happen on weekends?") == ["purchases", "conversion_rate"]
    assert "positive_review_share" not in offered("Which channel has the highest share of its users buying?")
    assert "negative_review_share" in offered("What's our complaint rate?")
    assert "negative_review_share" in offered("差评率是多少？")
    assert "positive_review_share" in offered("What percentage of reviews are positive?")
    # on the real layer: a share of sessions is offered when sessions are named
    sessions = _allowed(parts, "What share of sessions end with a purchase?")
    assert sessions("query", {"measure": "purchase_session_share"})


def test_a_per_user_measure_named_by_its_phrase_is_not_grouped_by_user(parts):
    per_user = _allowed(parts, "What's the average number of sessions per user?")  # "per user": the measure
    assert per_user("query", {"measure": "avg_sessions_per_user"})
    assert not per_user("query", {"measure": "avg_sessions_per_user", "dimensions": ["user"]})
    ranking = _allowed(parts, "Which user has the most sessions?")  # each user's sessions: a count by user
    assert ranking("query", {"measure": "sessions", "dimensions": ["user"], "limit": 1})
    assert not ranking("query", {"measure": "avg_sessions_per_user", "dimensions": ["user"], "limit": 1})
