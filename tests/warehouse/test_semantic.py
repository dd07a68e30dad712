"""The semantic layer on real DuckDB and PostgreSQL: every measure shape equals an independent pandas count."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from analytics_env import open_loaded
from behavior_data import make_tables

from warehouse.semantic import LayerError, build_layer, run_query, spec_model
from warehouse.semantic.coverage import Coverage
from warehouse.semantic.layer import extend, load_overrides


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request, tmp_path_factory):
    cluster = request.getfixturevalue("pg_cluster") if request.param == "postgres" else None
    frames = make_tables(11)
    reviews = frames["reviews"]
    reviews["body"] = ["the battery died" if i % 4 == 0 else "fine product" for i in range(len(reviews))]
    safe, _ = open_loaded(request.param, tmp_path_factory.mktemp(f"sem{request.param}"), cluster, frames)
    layer = build_layer(safe.readonly)
    yield safe, frames, layer, spec_model(layer)
    safe.readonly.close()


def _value(env, **spec) -> pd.DataFrame:
    safe, _, layer, model = env
    return run_query(safe, layer, model(**spec))


def _with_file(layer, tmp_path, text: str):
    """``layer`` extended by an operator's layer file holding ``text``."""
    path = tmp_path / "semantic.yaml"
    path.write_text(text, encoding="utf-8")
    return extend(layer, load_overrides(path), str(path))


def _last_day(frames) -> pd.Timestamp:
    return frames["events"]["ts"].max().normalize()


def _in_last(frame: pd.DataFrame, column: str, last: pd.Timestamp, days: int, back: int = 0) -> pd.DataFrame:
    end = last - timedelta(days=days * back) + timedelta(days=1)
    return frame[(frame[column] >= end - timedelta(days=days)) & (frame[column] < end)]


def test_a_count_over_the_last_days_and_the_window_before(env):
    _, frames, _, _ = env
    events, last = frames["events"], _last_day(frames)
    result = _value(env, measure="purchases", last_days=7, compare_previous=True)
    now = (_in_last(events, "ts", last, 7)["event_type"] == "purchase").sum()
    before = (_in_last(events, "ts", last, 7, back=1)["event_type"] == "purchase").sum()
    row = result.table.iloc[0]
    assert (row["value"], row["previous"], row["change"]) == (now, before, now - before)
    assert f"(last 7 days): {now:,}. The 7 days before" in result.summary
    # the change relative to before first, then the difference
    assert f"change {100 * (now - before) / before:+.1f}% (a difference of {now - before:+,})" in result.summary
    assert len(result.queries) == 2 and all("purchase" in q for q in result.queries)
    shifted = _value(env, measure="purchases", last_days=7, periods_back=1)
    assert shifted.table.iloc[0]["value"] == before


def test_a_dimension_ranked_by_distinct_users(env):
    _, frames, _, _ = env
    events = frames["events"].merge(frames["items"], on="item_id", how="left")
    gold = (
        events[events["event_type"] == "purchase"].groupby("category")["user_id"].nunique().sort_values(ascending=False)
    )
    result = _value(env, measure="users_who_purchased", dimensions=["category"])
    got = result.table.dropna(subset=["category"]).set_index("category")["value"]
    assert got.to_dict() == gold.to_dict()
    assert result.table.iloc[0]["value"] == gold.iloc[0] and str(gold.index[0]) in result.summary


def test_revenue_per_month_and_its_highest_month(env):
    _, frames, _, _ = env
    purchases = frames["events"][frames["events"]["event_type"] == "purchase"]
    gold = purchases.groupby(purchases["ts"].dt.to_period("M"))["value"].sum()
    result = _value(env, measure="revenue", grain="month")
    got = dict(zip(result.table["month"].astype(str).str[:7], result.table["value"].astype(float)))
    assert got == pytest.approx({str(k): v for k, v in gold.items()})
    assert f"highest {gold.idxmax()} ({gold.max():,.2f})" in result.summary


def test_conversion_rate_between_two_behaviors_as_a_share_of_users(env):
    _, frames, _, _ = env
    events, last = frames["events"], _last_day(frames)
    window = _in_last(events, "ts", last, 14)
    viewers = set(window[window["event_type"] == "view"]["user_id"])
    buyers = set(window[window["event_type"] == "purchase"]["user_id"])
    result = _value(env, measure="conversion_rate", base_event="view", target_event="purchase", last_days=14)
    row = result.table.iloc[0]
    assert (row["base_users"], row["both_users"]) == (len(viewers), len(viewers & buyers))
    assert row["value"] == round(len(viewers & buyers) / len(viewers), 4)  # a ratio to 4 places


def test_users_of_one_behavior_who_did_not_do_another_are_counted_and_ranked(env):
    _, frames, _, _ = env
    events, last = frames["events"], _last_day(frames)
    window = _in_last(events, "ts", last, 14)
    viewers = set(window[window["event_type"] == "view"]["user_id"])
    not_buyers = viewers - set(window[window["event_type"] == "purchase"]["user_id"])
    spec = dict(measure="conversion_rate", base_event="view", target_event="purchase", last_days=14, without=True)
    result = _value(env, **spec)
    row = result.table.iloc[0]
    assert (row["base_users"], row["both_users"]) == (len(viewers), len(not_buyers))
    assert row["value"] == round(len(not_buyers) / len(viewers), 4)
    assert "who did not do purchase" in result.summary and f"{len(not_buyers):,} of {len(viewers):,}" in result.summary
    # by country, highest share without first, the row limit keeping those (not the rate's own top rows)
    ranked = _value(env, **spec, dimensions=["country"], limit=2).table
    users = frames["users"].set_index("user_id")["country"]
    share = pd.Series({u: u in not_buyers for u in viewers}).groupby(users).mean()
    assert list(ranked["country"]) == list(share.sort_values(ascending=False, kind="stable").index[:2])


def test_a_rates_own_fields_on_another_measure_are_refused_naming_the_fix(env):
    with pytest.raises(LayerError, match="without is for conversion_rate, not 'events'; leave it out"):
        _value(env, measure="events", without=True)
    with pytest.raises(LayerError, match="target_window is for conversion_rate"):
        _value(env, measure="purchases", last_days=7, target_window="next")


def test_a_ranking_compared_with_the_window_before_gives_each_shown_group_its_own_before(env):
    result = _value(env, measure="events", dimensions=["country"], limit=2, last_days=7, compare_previous=True)
    before = _value(env, measure="events", dimensions=["country"], limit=50, last_days=7, periods_back=1).table
    earlier = dict(zip(before["country"], before["value"]))
    assert all(row["previous"] == earlier[row["country"]] for _, row in result.table.iterrows())
    assert "in all)" in result.summary and f"({len(before)} in all)" in result.summary


def test_a_rate_of_users_who_went_on_to_do_the_target_after_their_first_base_event(env):
    _, frames, _, _ = env
    events = frames["events"]
    first = events[events["event_type"] == "search"].groupby("user_id")["ts"].min()
    buys = events[events["event_type"] == "purchase"].merge(first.rename("t0"), on="user_id")
    later = buys[buys["ts"] >= buys["t0"]]["user_id"].nunique()
    result = _value(env, measure="conversion_rate", base_event="search", target_event="purchase", target_after=True)
    assert (result.table.iloc[0]["base_users"], result.table.iloc[0]["both_users"]) == (len(first), later)
    anytime = _value(env, measure="conversion_rate", base_event="search", target_event="purchase")
    assert anytime.table.iloc[0]["both_users"] >= later


def test_signups_in_a_window_and_how_many_later_purchased(env):
    _, frames, _, _ = env
    users, events = frames["users"], frames["events"]
    start, end = (
        users["signup_ts"].min().normalize() + timedelta(days=5),
        users["signup_ts"].min().normalize() + timedelta(days=20),
    )
    cohort = users[(users["signup_ts"] >= start) & (users["signup_ts"] < end + timedelta(days=1))]
    signups = _value(env, measure="signups", start=str(start.date()), end=str(end.date()))
    assert signups.table.iloc[0]["value"] == len(cohort)
    merged = events[events["event_type"] == "purchase"].merge(cohort, on="user_id")
    later = merged[merged["ts"] >= merged["signup_ts"]]["user_id"].nunique()
    rate = _value(
        env,
        measure="conversion_rate",
        base_event="signup",
        target_event="purchase",
        start=str(start.date()),
        end=str(end.date()),
    )
    assert (rate.table.iloc[0]["base_users"], rate.table.iloc[0]["both_users"]) == (len(cohort), later)


def test_cohort_fractions_active_in_the_period_right_after(env):
    """Users active in one window who were active again in the next (same length; after a whole calendar
    month, the next month), and a signup week's share active the week after."""
    _, frames, _, _ = env
    events, users = frames["events"], frames["users"]
    last = _last_day(frames)
    week = _in_last(events, "ts", last, 7, back=1)  # the 7 days before the last 7
    again = set(_in_last(events, "ts", last, 7)["user_id"])
    result = _value(
        env,
        measure="conversion_rate",
        base_event="active",
        target_event="active",
        last_days=7,
        periods_back=1,
        target_window="next",
    )
    row = result.table.iloc[0]
    assert (row["base_users"], row["both_users"]) == (week["user_id"].nunique(), len(set(week["user_id"]) & again))
    assert "the period after" in result.summary
    month = (last - pd.offsets.MonthBegin(1)).normalize()  # the month the last day falls in
    start = (month - pd.offsets.MonthBegin(1)).normalize()
    end = month - timedelta(days=1)
    base = events[(events["ts"] >= start) & (events["ts"] < month)]
    nxt = events[(events["ts"] >= month) & (events["ts"] < month + pd.offsets.MonthBegin(1))]
    monthly = _value(
        env,
        measure="conversion_rate",
        base_event="active",
        target_event="active",
        start=str(start.date()),
        end=str(end.date()),
        target_window="next",
    ).table.iloc[0]
    assert monthly["both_users"] == len(set(base["user_id"]) & set(nxt["user_id"]))
    first = users["signup_ts"].min().normalize()
    cohort = users[(users["signup_ts"] >= first) & (users["signup_ts"] < first + timedelta(days=7))]
    later = events[(events["ts"] >= first + timedelta(days=7)) & (events["ts"] < first + timedelta(days=14))]
    signup = _value(
        env,
        measure="conversion_rate",
        base_event="signup",
        target_event="active",
        start=str(first.date()),
        end=str((first + timedelta(days=6)).date()),
        target_window="next",
    ).table.iloc[0]
    assert (signup["base_users"], signup["both_users"]) == (
        len(cohort),
        len(set(cohort["user_id"]) & set(later["user_id"])),
    )


def test_the_period_after_an_open_window_is_refused_naming_the_fix(env):
    with pytest.raises(Exception, match="bounded window"):
        _value(env, measure="conversion_rate", base_event="active", target_event="active", target_window="next")


def test_median_events_per_session_and_per_user(env):
    _, frames, _, _ = env
    events = frames["events"]
    per_session = events.dropna(subset=["session_id"]).groupby("session_id").size()
    got = _value(env, measure="median_events_per_session").table.iloc[0]["value"]
    # sessions with no id are one NULL group in SQL; the layer counts them as one unit like GROUP BY does
    with_null = pd.concat([per_session, pd.Series([events["session_id"].isna().sum()])])
    assert float(got) in {float(per_session.median()), float(with_null.median())}
    per_user = events.groupby("user_id").size()
    assert float(_value(env, measure="avg_events_per_user").table.iloc[0]["value"]) == round(per_user.mean(), 2)


def test_a_window_holds_the_sessions_that_start_in_it_with_all_their_events(env):
    _, frames, _, _ = env
    events, last = frames["events"], _last_day(frames)
    sessions = events.dropna(subset=["session_id"]).groupby("session_id")["ts"].agg(["min", "max", "size"])
    start = last - timedelta(days=6)
    # a session whose first event is before the window is not one of its sessions, one starting in it is
    started = sessions[(sessions["min"] >= start) & (sessions["min"] < last + timedelta(days=1))]
    straddling = sessions[(sessions["min"] < start) & (sessions["max"] >= start)]
    assert len(straddling) > 0, "the data must have a session across the window's start for this to test anything"
    assert _value(env, measure="sessions", last_days=7).table.iloc[0]["value"] == len(started)
    got = float(_value(env, measure="avg_events_per_session", last_days=7).table.iloc[0]["value"])
    assert got == round(started["size"].mean(), 2)  # every event of those sessions, none cut at the edge


def test_a_per_user_count_of_the_wrong_kind_is_refused_naming_the_fix(env, tmp_path):
    _, _, layer, _ = env
    bad = "measures:\n  visits:\n    description: x\n    entity: orders\n    agg: avg\n    per: user\n    per_agg: sessions\n"
    with pytest.raises(LayerError, match="per_agg sessions counts events' session ids; set entity: events"):
        _with_file(layer, tmp_path, bad)
    summed = "measures:\n  spend:\n    description: x\n    entity: orders\n    agg: avg\n    per: session\n    per_agg: sum\n    column: total\n"
    with pytest.raises(LayerError, match="per_agg sum is per user; set per: user"):
        _with_file(layer, tmp_path, summed)


def test_per_user_sessions_orders_and_spend(env):
    _, frames, _, _ = env
    events, orders = frames["events"], frames["orders"]
    sessions = events.dropna(subset=["session_id"]).groupby("user_id")["session_id"].nunique()
    sessions = sessions.reindex(events["user_id"].unique(), fill_value=0)  # a user with events but no session id
    got = float(_value(env, measure="avg_sessions_per_user").table.iloc[0]["value"])
    assert got == round(sessions.mean(), 2)
    per_customer = orders.groupby("user_id")
    assert float(_value(env, measure="avg_orders_per_user").table.iloc[0]["value"]) == round(
        per_customer.size().mean(), 2
    )
    spend = _value(env, measure="avg_spend_per_user", dimensions=["device"])
    gold = (
        orders.merge(frames["users"], on="user_id")
        .groupby(["device", "user_id"])["total"]
        .sum()
        .groupby("device")
        .mean()
    )
    assert spend.table.set_index("device")["value"].astype(float).to_dict() == pytest.approx(gold.to_dict(), abs=0.01)


def test_the_share_of_sessions_with_a_purchase(env):
    safe = env[0]
    rows = safe.readonly.query("SELECT session_id, event_type FROM events").rows  # the rows as loaded
    events = pd.DataFrame(rows, columns=["session_id", "event_type"])
    bought = events.assign(p=events["event_type"] == "purchase").groupby("session_id", dropna=False)["p"].any()
    result = _value(env, measure="purchase_session_share")
    got = float(result.table.iloc[0]["value"])
    assert 0 < got < 1 and abs(got - bought.mean()) < 0.0001
    assert "%" in result.summary  # a share reads as a percentage


def test_an_aggregate_over_reviews_whose_text_mentions_a_word(env):
    _, frames, _, _ = env
    reviews = frames["reviews"]
    gold = reviews[reviews["body"].str.contains("battery")]["rating"].mean()
    result = _value(
        env, measure="avg_rating", filters=[{"dimension": "review_text", "op": "contains", "value": "Battery"}]
    )
    assert float(result.table.iloc[0]["value"]) == round(gold, 2)
    # a text dimension's filter matches words when no operator is given (its values are not a list)
    plain = _value(env, measure="avg_rating", filters=[{"dimension": "review_text", "value": "battery"}])
    assert float(plain.table.iloc[0]["value"]) == round(gold, 2)


def test_users_ranked_by_a_measure_and_a_filter_on_a_user_attribute(env):
    _, frames, _, _ = env
    events = frames["events"].merge(frames["users"], on="user_id")
    mobile = events[(events["device"] == "mobile") & (events["event_type"] == "purchase")]
    gold = mobile.groupby("user_id")["value"].sum().sort_values(ascending=False)
    result = _value(
        env, measure="revenue", dimensions=["user"], limit=3, filters=[{"dimension": "device", "value": "MOBILE"}]
    )  # spelt as the data spells it
    assert list(result.table["user"]) == list(gold.index[:3])
    assert "'mobile'" in result.queries[0] and f"({len(gold)} in all" in result.summary


def test_the_user_scope_confines_every_measure(env):
    safe, frames, layer, model = env
    uid = frames["events"]["user_id"].value_counts().index[0]
    mine = frames["events"][frames["events"]["user_id"] == uid]
    scoped = run_query(safe, layer, model(measure="events", dimensions=["user"]), user_scope=uid)
    assert scoped.table["user"].tolist() == [uid] and scoped.table.iloc[0]["value"] == len(mine)


def test_questions_the_layer_cannot_say_get_errors_naming_the_fix(env):
    safe, _, layer, model = env
    with pytest.raises(LayerError, match="has no value 'Mars'; its values: "):
        run_query(safe, layer, model(measure="events", filters=[{"dimension": "country", "value": "Mars"}]))
    with pytest.raises(LayerError, match="does not apply to measure 'signups'"):
        run_query(safe, layer, model(measure="signups", dimensions=["category"]))
    with pytest.raises(LayerError, match="needs base_event and target_event"):
        run_query(safe, layer, model(measure="conversion_rate"))
    with pytest.raises(ValueError, match="measure"):
        model(measure="profit")


def test_the_spec_schema_offers_the_layers_names_as_enums(env):
    _, _, layer, model = env
    defs = model.model_json_schema()["$defs"]
    assert defs["Measure"]["enum"] == list(layer.measures)  # in the layer's order, every time
    dims = defs["GroupDimension"]["enum"]
    assert "category" in dims and "review_text" not in dims  # text is for filtering, not grouping
    assert "review_text" in defs["FilterDimension"]["enum"]


def test_a_calendar_month_compares_with_the_month_before_not_the_same_number_of_days(env):
    _, frames, _, _ = env
    events, last = frames["events"], _last_day(frames)
    month = (last - pd.offsets.MonthBegin(1)).normalize() if last.day != 1 else last
    prior = (month - pd.offsets.MonthBegin(1)).normalize()
    end = month + pd.offsets.MonthEnd(0)
    day = events["ts"].dt.normalize()

    def purchases(a, b) -> int:
        return int(((day >= a) & (day <= b) & (events["event_type"] == "purchase")).sum())

    result = _value(env, measure="purchases", start=str(month.date()), end=str(end.date()), compare_previous=True)
    row = result.table.iloc[0]
    assert row["value"] == purchases(month, end)
    assert row["previous"] == purchases(prior, month - timedelta(days=1))  # the whole previous month
    assert f"The month before ({prior.date()} to {(month - timedelta(days=1)).date()})" in result.summary
    back = _value(env, measure="purchases", start=str(month.date()), end=str(end.date()), periods_back=1)
    assert back.table.iloc[0]["value"] == purchases(prior, month - timedelta(days=1))


def test_an_operator_file_adds_a_measure_and_removes_one(env, tmp_path):
    safe, frames, layer, _ = env
    extended = _with_file(
        layer,
        tmp_path,
        "measures:\n  refunded_orders:\n    description: orders refunded\n    entity: orders\n"
        "    agg: count\n    where: status = 'refunded'\nremove: [cart_removals]\n",
    )
    assert "refunded_orders" in extended.measures and "cart_removals" not in extended.measures
    got = run_query(safe, extended, spec_model(extended)(measure="refunded_orders")).table.iloc[0]["value"]
    assert got == (frames["orders"]["status"] == "refunded").sum()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("measures: [1, 2]", "measures must be a mapping"),
        (
            "measures:\n  bad:\n    description: x\n    entity: events\n    agg: sum\n",
            "measure 'bad' is invalid: .*needs a column",
        ),
        (
            "measures:\n  bad:\n    description: x\n    entity: planets\n    agg: count\n",
            "measure 'bad' is invalid: entity",
        ),
        ("remove: [nothing_like_it]\n", "neither a measure nor a dimension"),
        ("behaviors:\n  teleport: [beamed]\n", "behaviors names 'teleport', which is no event type"),
        ("behaviors:\n  purchase: bought\n", "behaviors must be a mapping of event type -> list of words"),
        ("tables: {}\n", "top level must be a mapping"),
        (
            "dimensions:\n  tier:\n    description: x\n    entity: users\n    column: country\n"
            "    values: [gold]\n    aliases: {platinum: [top]}\n",
            "dimension 'tier' is invalid: .*aliases name 'platinum', not among its values \\(gold\\)",
        ),
        ("measures: {a: [\n", "not valid YAML"),
    ],
)
def test_a_bad_layer_file_is_refused_naming_the_entry(env, tmp_path, text, message):
    _, _, layer, _ = env
    path = tmp_path / "semantic.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LayerError, match=message):
        extend(layer, load_overrides(path), str(path))


def test_an_operator_file_names_values_in_its_users_words(env, tmp_path):
    safe, _, layer, _ = env
    model = spec_model(
        _with_file(
            layer,
            tmp_path,
            "dimensions:\n  device:\n    description: the user's device\n    entity: users\n    column: device\n"
            "    values: [mobile, desktop, tablet]\n    aliases: {mobile: [phone, smartphone]}\n",
        )
    )
    question = "How many phone users bought versus desktop users?"
    shape = model.shape_choices(question, question)
    assert shape.dimensions == ["device"] and shape.grouped  # phone and desktop: two values of device


def test_an_operator_file_adds_words_for_a_behavior(env, tmp_path):
    _, _, layer, _ = env
    assert "bought" in layer.behaviors["purchase"] and "signed up" in layer.behaviors["signup"]
    extended = spec_model(_with_file(layer, tmp_path, "behaviors:\n  purchase: [checked out]\n"))
    shape = extended.shape_choices("Of those who searched, what share checked out?", "x")
    assert shape.behaviors == ("search", "purchase")


def test_a_quantity_no_word_of_the_layer_names_is_missing_until_the_file_names_it(env, tmp_path):
    _, _, layer, _ = env
    question = "What's the average basket margin of our buyers in April?"
    assert Coverage(layer).missing(question) == "basket margin"
    assert Coverage(layer).missing("What's the average order value of our buyers in April?") is None
    margin = (
        "measures:\n  margin:\n    description: order total less cost\n    entity: orders\n    agg: sum\n"
        "    column: total * 0.3\n    synonyms: [basket margin]\n"
    )
    assert Coverage(_with_file(layer, tmp_path, margin)).missing(question) is None


def test_an_attribute_a_ranking_asks_for_is_missing_when_none_of_its_words_is_known(env):
    missing = Coverage(env[2]).missing
    assert missing("Which city has the most buyers?") == "city"
    assert missing("Which loyalty tier was the most active last month?") == "loyalty tier"
    assert missing("Which brand brought in the most revenue?") is None  # brand: a dimension
    assert missing("Which German shoppers spent the most?") is None  # German: a country's alias
    assert missing("Which acquisition channel brought in the most sign-ups in October?") is None
    # the attribute is the word after "which", unknown, before a verb that is a behavior ("buys")
    assert missing("Which gender buys more electronics?") == "gender"
    assert missing("Among brands with at least 30 reviews, which is best rated?") is None
    assert missing("Which product category sells best?") is None


def test_the_businesss_own_spending_is_missing_from_behavior_data(env):
    missing = Coverage(env[2]).missing
    assert missing("How much did we spend on ads in October?") == "our own costs (ad or marketing spend)"
    assert missing("What was our marketing budget last month?") is not None
    assert missing("How much did customers spend in October?") is None  # their spend is revenue


def test_a_text_filter_matches_every_form_of_each_word(env):
    _, frames, _, _ = env
    died = int(frames["reviews"]["body"].str.contains("battery died").sum())
    assert died > 0
    for asked in ("battery died", "Batteries DIED"):  # each word by its stem: batteries -> battery
        result = _value(env, measure="reviews", filters=[{"dimension": "review_text", "value": asked}])
        assert result.table.iloc[0]["value"] == died, asked
        assert "LIKE '%battery%'" in result.queries[0]
    # in double quotes, the words as written: "batteries died" is in no review, "battery died" is
    quoted = _value(env, measure="reviews", filters=[{"dimension": "review_text", "value": '"Batteries died"'}])
    assert quoted.table.iloc[0]["value"] == 0
    exact = _value(env, measure="reviews", filters=[{"dimension": "review_text", "value": '"battery died"'}])
    assert exact.table.iloc[0]["value"] == died and "LIKE '%battery died%'" in exact.queries[0]
