"""Each analytic equals an independent pandas computation on generated data, on DuckDB, PostgreSQL and chdb."""

from __future__ import annotations

import re
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).parent))
from analytics_env import loaded_envs  # noqa: E402
from engines import ENGINES  # noqa: E402

from warehouse.analytics import (  # noqa: E402
    FunnelRequest,
    PathsRequest,
    RetentionRequest,
    SegmentRequest,
    TopItemsRequest,
    TrendRequest,
    UnknownUser,
    UserProfileRequest,
    funnel,
    paths,
    retention,
    segment_breakdown,
    top_items,
    trend,
    user_profile,
)
from warehouse.analytics._base import run  # noqa: E402
from warehouse.analytics.paths import compile_paths  # noqa: E402

SEEDS = (11, 12, 13)


@pytest.fixture(scope="module", params=ENGINES)
def envs(request, tmp_path_factory):
    built = loaded_envs(request.param, tmp_path_factory, request, SEEDS)
    yield built
    for safe, _ in built.values():
        safe.readonly.close()


def _in_range(frame: pd.DataFrame, column: str, start: date | None, end: date | None) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    if start:
        keep &= frame[column] >= pd.Timestamp(start)
    if end:
        keep &= frame[column] < pd.Timestamp(end + timedelta(days=1))
    return frame[keep]


def _bucket(ts: pd.Series, unit: str) -> pd.Series:
    day = ts.dt.normalize()
    if unit == "day":
        return day
    if unit == "week":
        return day - pd.to_timedelta(day.dt.weekday, unit="D")
    return day - pd.to_timedelta(day.dt.day - 1, unit="D")


def _attribute(frames, events: pd.DataFrame, dimension: str | None) -> pd.Series:
    if dimension is None:
        return pd.Series("all", index=events.index)
    table, key = ("items", "item_id") if dimension in ("category", "brand") else ("users", "user_id")
    mapping = frames[table].set_index(key)[dimension]
    return events[key].map(mapping).fillna("(none)")


@pytest.mark.parametrize(
    "metric,event_type,interval,breakdown,start,end",
    [
        ("events", None, "day", None, None, None),
        ("unique_users", "view", "week", "country", date(2026, 3, 5), date(2026, 3, 30)),
        ("revenue", None, "month", "category", None, date(2026, 3, 31)),
        ("events", "add_to_cart", "week", "device", date(2026, 3, 10), None),
    ],
)
def test_trend_matches_pandas(envs, metric, event_type, interval, breakdown, start, end):
    for safe, frames in envs.values():
        req = TrendRequest(
            metric=metric, event_type=event_type, interval=interval, breakdown=breakdown, start=start, end=end
        )
        result = trend(safe, req)
        got = result.table
        ev = _in_range(frames["events"], "ts", start, end)
        kind = event_type or ("purchase" if metric == "revenue" else None)
        if kind:
            ev = ev[ev["event_type"] == kind]
        ev = ev.assign(period=_bucket(ev["ts"], interval).dt.date, segment=_attribute(frames, ev, breakdown))
        grouped = ev.groupby(["period", "segment"])
        expect = {
            "events": grouped.size(),
            "unique_users": grouped["user_id"].nunique(),
            "revenue": grouped["value"].sum(),
        }[metric]
        got_series = got.assign(segment=got["segment"] if breakdown else "all").set_index(["period", "segment"])[
            "value"
        ]
        assert sorted(got_series.index) == sorted(expect.index)
        np.testing.assert_allclose(
            got_series.sort_index().astype(float).values, expect.sort_index().astype(float).values, rtol=1e-5
        )
        users = re.search(r"([\d,]+) distinct users", result.summary)  # over the whole range, not summed
        # what was counted is named: a count over every event type is never read as one type's count
        assert result.summary.startswith(
            metric.replace("_", " ").capitalize() + (f" of {kind}" if kind else " of every event type")
        )
        assert users and int(users.group(1).replace(",", "")) == ev["user_id"].nunique()
        # the days asked for, else the data's own first and last day (not the first bucket's start)
        span = f"{start or ev['ts'].min().date()} to {end or ev['ts'].max().date()}"
        assert result.summary.split(": ", 1)[0].endswith(span), result.summary
        peak = expect.groupby(level="period").sum().idxmax()
        when = {"day": f"on {peak}", "week": f"in the week of {peak}", "month": f"in {str(peak)[:7]}"}[interval]
        assert "peak " in result.summary and f" {when})" in result.summary, result.summary
        if metric != "unique_users":  # "how many ... in <range>": the range's total is the summary's first number
            first = re.search(r"total ([\d,.]+)", result.summary)
            assert first and result.summary.index("total") < result.summary.index("peak")
            assert float(first.group(1).replace(",", "")) == pytest.approx(float(expect.sum()), rel=1e-6, abs=0.006)
        if breakdown:  # "how many ... in DE": each segment's total over the range, largest first
            by_segment = ev.groupby("segment")
            totals = {
                "events": by_segment.size(),
                "unique_users": by_segment["user_id"].nunique(),
                "revenue": by_segment["value"].sum(),
            }[metric]
            users = by_segment["user_id"].nunique()
            named = re.search(rf"By {breakdown} over the range: (.+?)( and (\d+) more segments?)?\.$", result.summary)
            assert named, result.summary
            parts = re.findall(r"(\S+) ([\d,.]+)(?: \(([\d,]+) users\))?(?:, |$)", named.group(1))
            assert len(parts) == min(len(totals), 8) and int(named.group(3) or 0) == len(totals) - len(parts)
            for segment, value, seg_users in parts:
                assert float(value.replace(",", "")) == pytest.approx(float(totals[segment]), abs=0.006)
                assert metric == "unique_users" or int(seg_users.replace(",", "")) == users[segment]
            shown = [float(v.replace(",", "")) for _, v, _ in parts]
            assert (
                shown == sorted(shown, reverse=True)
                and min(shown) >= max(totals.drop([p[0] for p in parts]), default=0) - 0.006
            )


def _pandas_funnel(frames, steps, window_h, start, end, breakdown):
    ev = frames["events"]
    entry = _in_range(ev[ev["event_type"] == steps[0]], "ts", start, end)
    cur = entry.groupby("user_id")["ts"].min().rename("t1").reset_index()
    window = pd.Timedelta(hours=window_h)
    for k, step in enumerate(steps[1:], start=2):
        cand = ev[ev["event_type"] == step][["user_id", "ts"]]
        merged = cur.merge(cand, on="user_id", how="left")
        ok = (merged["ts"] > merged[f"t{k - 1}"]) & (merged["ts"] <= merged["t1"] + window)
        first = merged[ok].groupby("user_id")["ts"].min()
        cur = cur.merge(first.rename(f"t{k}"), left_on="user_id", right_index=True, how="left")
    seg = cur["user_id"].map(frames["users"].set_index("user_id")[breakdown]).fillna("(none)") if breakdown else "all"
    cur = cur.assign(segment=seg)
    rows = {}
    for segment, part in cur.groupby("segment"):
        for k in range(1, len(steps) + 1):
            median = None
            if k > 1:
                gaps = (part[f"t{k}"] - part[f"t{k - 1}"]).dropna().dt.total_seconds()
                median = float(gaps.median()) if len(gaps) else None
            rows[(segment, k)] = (int(part[f"t{k}"].notna().sum()), median)
    return rows


@pytest.mark.parametrize(
    "steps,window_h,breakdown,start,end",
    [
        (["view", "add_to_cart", "purchase"], 168, None, None, None),
        (["view", "purchase"], 24, "country", date(2026, 3, 3), date(2026, 3, 25)),
        (["search", "view", "add_to_cart", "purchase"], 72, "device", None, None),
        (["view", "view", "view"], 6, "channel", None, date(2026, 3, 20)),
    ],
)
def test_funnel_matches_pandas(envs, steps, window_h, breakdown, start, end):
    for safe, frames in envs.values():
        req = FunnelRequest(steps=steps, window_hours=window_h, breakdown=breakdown, start=start, end=end)
        got = funnel(safe, req).table
        expect = _pandas_funnel(frames, steps, window_h, start, end, breakdown)
        seg = got["segment"] if breakdown else pd.Series("all", index=got.index)
        actual = {
            (s, int(k)): (int(u), None if pd.isna(m) else float(m))
            for s, k, u, m in zip(seg, got["step"], got["users"], got["median_seconds"])
        }
        assert {k: v[0] for k, v in actual.items()} == {k: v[0] for k, v in expect.items()}
        for key, (_, median) in expect.items():
            assert actual[key][1] == pytest.approx(median, abs=0.05) if median is not None else actual[key][1] is None
        first = got.groupby(seg)["users"].transform("first")
        np.testing.assert_allclose(got["conversion"], (got["users"] / first).round(4))


@pytest.mark.parametrize(
    "cohort_by,cohort_event,return_event,period,periods,start,end",
    [
        ("signup", None, None, "week", 4, None, None),
        ("first_event", None, "purchase", "day", 6, date(2026, 3, 4), date(2026, 3, 20)),
        ("first_event", "add_to_cart", "view", "week", 3, None, None),
        ("signup", None, "add_to_cart", "day", 2, date(2026, 3, 1), date(2026, 3, 15)),
    ],
)
def test_retention_matches_pandas(envs, cohort_by, cohort_event, return_event, period, periods, start, end):
    step = pd.Timedelta(days=7 if period == "week" else 1)
    for safe, frames in envs.values():
        req = RetentionRequest(
            cohort_by=cohort_by,
            cohort_event=cohort_event,
            return_event=return_event,
            period=period,
            periods=periods,
            start=start,
            end=end,
        )
        result = retention(safe, req)
        got = result.table
        assert len(result.queries) == 2 and "MAX" in result.queries[1].upper()  # the horizon's query is cited too
        ev = frames["events"]
        if cohort_by == "signup":
            users = _in_range(frames["users"].dropna(subset=["signup_ts"]), "signup_ts", start, end)
            cohorts = pd.Series(_bucket(users["signup_ts"], period).values, index=users["user_id"])
        else:
            first = (
                (ev if cohort_event is None else ev[ev["event_type"] == cohort_event]).groupby("user_id")["ts"].min()
            )
            first = _in_range(first.rename("ts").reset_index(), "ts", start, end)
            cohorts = pd.Series(_bucket(first["ts"], period).values, index=first["user_id"])
        act = ev if return_event is None else ev[ev["event_type"] == return_event]
        active = set(zip(act["user_id"], _bucket(act["ts"], period)))
        horizon = _bucket(ev["ts"], period).max()  # periods after the data's last event are not 0%: empty
        expect = {}
        for cohort, members in cohorts.groupby(cohorts):
            ids = list(members.index)
            shares = [
                round(sum((u, cohort + k * step) in active for u in ids) / len(ids), 4)
                if cohort + k * step <= horizon
                else None
                for k in range(periods + 1)
            ]
            expect[cohort.date()] = (len(ids), shares)
        actual = {
            row.cohort: (
                row.cohort_size,
                [None if pd.isna(v := getattr(row, f"period_{k}")) else v for k in range(periods + 1)],
            )
            for row in got.itertuples()
        }
        assert actual == expect
        if end is None:  # cohorts up to the data's end: the youngest have periods still to come
            assert any(None in shares for _, shares in expect.values())


@pytest.mark.parametrize(
    "anchor,direction,depth,within_session,start",
    [
        ("view", "next", 1, True, None),
        ("add_to_cart", "next", 2, False, date(2026, 3, 10)),
        ("purchase", "previous", 3, True, None),
        ("view", "previous", 2, False, None),
    ],
)
def test_paths_match_pandas(envs, anchor, direction, depth, within_session, start):
    for safe, frames in envs.values():
        req = PathsRequest(
            event_type=anchor, direction=direction, depth=depth, within_session=within_session, top_n=50, start=start
        )
        result = paths(safe, req)
        assert result.details["step_index"]  # loaded like every loader loads: the step index is fresh
        got = result.table
        window, _ = run(safe, compile_paths(req, steps=False), None)  # the window fallback agrees
        cols = [f"step_{k}" for k in range(1, depth + 1)] + ["occurrences"]
        assert window[cols].values.tolist() == got[cols].values.tolist()
        ev = frames["events"].sort_values(["ts", "event_id"])  # steps follow the whole history ...
        keys = ["user_id", "session_id"] if within_session else ["user_id"]
        groups = ev.groupby(keys, dropna=False, sort=False)["event_type"]
        filler = "(end)" if direction == "next" else "(start)"
        steps = pd.DataFrame(
            {f"step_{k}": groups.shift(-k if direction == "next" else k).fillna(filler) for k in range(1, depth + 1)}
        )
        anchored = (ev["event_type"] == anchor) & ev.index.isin(_in_range(ev, "ts", start, None).index)
        anchors = steps[anchored]  # ... from the anchors in the range
        expect = anchors.value_counts().to_dict()
        cols = [f"step_{k}" for k in range(1, depth + 1)]
        actual = {
            tuple(r[:-1]) if depth > 1 else r[0]: r[-1] for r in got[cols + ["occurrences"]].itertuples(index=False)
        }
        expect = {k if depth > 1 else k[0]: v for k, v in expect.items()}
        assert len(actual) == min(50, len(expect))
        assert {k: expect.get(k) for k in actual} == actual
        left_out = [v for k, v in expect.items() if k not in actual]
        assert not left_out or max(left_out) <= min(actual.values())
        assert list(got["occurrences"]) == sorted(got["occurrences"], reverse=True)
        np.testing.assert_allclose(got["share"], (got["occurrences"] / len(anchors)).round(4))


@pytest.mark.parametrize(
    "metric,event_type,category",
    [
        ("events", None, None),
        ("unique_users", "view", "audio"),
        ("revenue", None, None),
        ("events", "purchase", "books"),
    ],
)
def test_top_items_match_pandas(envs, metric, event_type, category):
    for safe, frames in envs.values():
        got = top_items(safe, TopItemsRequest(metric=metric, event_type=event_type, category=category, limit=100)).table
        ev = frames["events"].dropna(subset=["item_id"])
        kind = event_type or ("purchase" if metric == "revenue" else None)
        if kind:
            ev = ev[ev["event_type"] == kind]
        if category:
            ev = ev[ev["item_id"].map(frames["items"].set_index("item_id")["category"]) == category]
        grouped = ev.groupby("item_id")
        expect = pd.DataFrame(
            {
                "event_count": grouped.size(),
                "unique_users": grouped["user_id"].nunique(),
                "revenue": grouped["value"].sum().round(2),
            }
        )
        actual = got.set_index("item_id")[["event_count", "unique_users", "revenue"]].sort_index()
        assert list(actual.index) == sorted(expect.index)
        assert actual["event_count"].tolist() == expect.sort_index()["event_count"].tolist()
        assert actual["unique_users"].tolist() == expect.sort_index()["unique_users"].tolist()
        np.testing.assert_allclose(actual["revenue"], expect.sort_index()["revenue"], rtol=1e-5, atol=0.02)
        key = {"events": "event_count", "unique_users": "unique_users", "revenue": "revenue"}[metric]
        assert list(got[key]) == sorted(got[key], reverse=True)


@pytest.mark.parametrize("metric,event_type", [("events", "view"), ("revenue", None), ("unique_users", None)])
def test_top_items_summary_totals_every_matching_item(envs, metric, event_type):
    """'How many users viewed an item' is answered by a ranking's summary: totals over all items, not the top rows."""
    for safe, frames in envs.values():
        result = top_items(safe, TopItemsRequest(metric=metric, event_type=event_type, limit=2))
        ev = frames["events"].dropna(subset=["item_id"])
        kind = event_type or ("purchase" if metric == "revenue" else None)
        if kind:
            ev = ev[ev["event_type"] == kind]
        found = re.search(
            r"Over all ([\d,]+) items with such events: ([\d,]+) events by ([\d,]+) distinct users", result.summary
        )
        assert found, result.summary
        assert [int(g.replace(",", "")) for g in found.groups()] == [
            ev["item_id"].nunique(),
            len(ev),
            ev["user_id"].nunique(),
        ]
        assert len(result.table) == 2 < ev["item_id"].nunique()
        revenue = re.search(r"distinct users, revenue ([\d,.]+)\.", result.summary)
        if metric == "revenue":
            assert revenue and float(revenue.group(1).replace(",", "")) == pytest.approx(ev["value"].sum(), abs=0.006)
        else:
            assert revenue is None


@pytest.mark.parametrize(
    "dimension,conversion_event,start",
    [
        ("country", "purchase", None),
        ("category", "add_to_cart", date(2026, 3, 15)),
        ("channel", "purchase", None),
        ("brand", "view", None),
    ],
)
def test_segment_breakdown_matches_pandas(envs, dimension, conversion_event, start):
    for safe, frames in envs.values():
        result = segment_breakdown(
            safe,
            SegmentRequest(
                dimension=dimension, conversion_event=conversion_event, start=start, sort_by="conversion_rate"
            ),
        )
        got = result.table
        ev = _in_range(frames["events"], "ts", start, None)
        ev = ev.assign(segment=_attribute(frames, ev, dimension))
        grouped = ev.groupby("segment")
        conv = ev[ev["event_type"] == conversion_event].groupby("segment")["user_id"].nunique()
        revenue = ev[ev["event_type"] == "purchase"].groupby("segment")["value"].sum()
        actual = got.set_index("segment").sort_index()
        assert actual["events"].to_dict() == grouped.size().to_dict()
        assert actual["users"].to_dict() == grouped["user_id"].nunique().to_dict()
        assert actual["converted_users"].to_dict() == conv.reindex(actual.index, fill_value=0).to_dict()
        np.testing.assert_allclose(actual["revenue"], revenue.reindex(actual.index, fill_value=0).round(2), atol=0.02)
        # whatever the sort, the summary names the leader in users who converted and in events
        for label, counts in (
            (f"did {conversion_event}", conv.reindex(actual.index, fill_value=0)),
            ("Most events", grouped.size()),
        ):
            named = re.search(rf"{label}: (.+?) \(([\d,]+)\)", result.summary)
            assert named and int(named.group(2).replace(",", "")) == counts.max()
            assert counts[named.group(1)] == counts.max()  # one of the leaders (ties exist)


def test_user_profile_matches_pandas(envs):
    for safe, frames in envs.values():
        for uid in ("u000", "u007", "ghost1"):
            res = user_profile(safe, UserProfileRequest(user_id=uid, recent=5))
            ev = frames["events"][frames["events"]["user_id"] == uid]
            assert res.details["events"] == len(ev)
            assert res.details["events_by_type"] == ev["event_type"].value_counts().to_dict()
            orders = frames["orders"][frames["orders"]["user_id"] == uid]
            assert res.details["orders"] == len(orders)
            assert res.details["total_spent"] == pytest.approx(round(orders["total"].sum(), 2), abs=0.02)
            latest = ev.sort_values(["ts", "event_id"], ascending=False).head(5)
            assert list(res.table["event_type"]) == list(latest["event_type"])
            if uid.startswith("u"):
                email = frames["users"].set_index("user_id").loc[uid, "email"]
                assert res.details["email"] == email[0] + "***@" + email.split("@")[1]
                assert email not in res.summary + str(res.details)


def test_unknown_user_and_scope(envs):
    safe, frames = envs[SEEDS[0]]
    with pytest.raises(UnknownUser, match="nobody"):
        user_profile(safe, UserProfileRequest(user_id="nobody"))
    with pytest.raises(UnknownUser):
        user_profile(safe, UserProfileRequest(user_id="u001"), user_scope="u002")
    scoped = trend(safe, TrendRequest(metric="events"), user_scope="u002").table
    assert scoped["value"].sum() == (frames["events"]["user_id"] == "u002").sum()
    items = top_items(safe, TopItemsRequest(limit=100), user_scope="u002").table
    mine = frames["events"][(frames["events"]["user_id"] == "u002")].dropna(subset=["item_id"])
    assert items["event_count"].sum() == len(mine)


@pytest.mark.parametrize("request_model", [TrendRequest, TopItemsRequest])
def test_an_event_filter_says_all_rather_than_null(envs, request_model):
    """Measured: offered null, the embedded model wrote ``"event_type": null`` for "how many purchases"
    and counted every event. The schema offers one value per choice: a type, or "all"."""
    schema = request_model.model_json_schema()["properties"]["event_type"]
    assert "anyOf" not in schema and schema["enum"][-1] == "all" and "purchase" in schema["enum"]
    assert request_model(event_type="all").event_type is None
    assert request_model(event_type="all") == request_model() == request_model(event_type=None)
    run_analytic = trend if request_model is TrendRequest else top_items
    for safe, _ in envs.values():
        every = run_analytic(safe, request_model(event_type="all")).table
        pd.testing.assert_frame_equal(every, run_analytic(safe, request_model()).table)
    with pytest.raises(ValidationError) as bad:
        request_model(event_type="sale")
    # one error naming every accepted value, "all" included
    assert len(bad.value.errors()) == 1 and "'purchase', 'review' or 'all'" in bad.value.errors()[0]["msg"]
