"""Running a query spec: resolve its window against the data, compile, execute read-only, summarise."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from warehouse.analytics._base import Result, bar_chart, line_chart, run
from warehouse.group_size import SUPPRESSED, GroupFloor, is_suppressed
from warehouse.safe_sql import SafeSql
from warehouse.semantic.compiler import compile_spec, next_window
from warehouse.semantic.layer import LayerError, Measure, SemanticLayer
from warehouse.semantic.spec import ADDITIVE, SpecBase, Window, as_dict

SHOWN = 8


def data_span(safe: SafeSql, user_scope: str | None) -> tuple[date, date]:
    """The first and last day of the (caller's) events: windows are relative to the last."""
    frame, _ = run(safe, "SELECT MIN(ts) AS first, MAX(ts) AS last FROM events", user_scope)
    first, last = frame.iloc[0]["first"], frame.iloc[0]["last"]
    if pd.isna(last):
        raise LayerError("the warehouse has no events in scope, so there is nothing to measure")
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


_COUNTS = ["value", "base_users", "both_users", "units"]
_PREVIOUS_ROWS = 200
"""Groups read of the window before (the spec's largest row limit), so each row shown finds its own."""
"""The columns a suppressed row loses: its value and the counts it was computed from."""


def run_query(
    safe: SafeSql, layer: SemanticLayer, spec: SpecBase, *, user_scope: str | None = None, min_group_users: int = 0
) -> Result:
    """Answer ``spec``: its table (grain, dimensions, value), the SQL that ran, a summary and a chart.

    ``min_group_users`` > 0: a row computed from fewer users than that is suppressed (``warehouse.group_size``)."""
    measure = layer.measure(spec.measure)
    floor = GroupFloor(min_group_users, user_scope)
    first, last = data_span(safe, user_scope)
    window = spec.window(last, first)
    # Without: the rate's SQL ranks the opposite way, so its row limit keeps the groups asked for.
    flipped = {"order": "asc" if spec.order == "desc" else "desc"} if spec.without and spec.dimensions else {}
    frame, ran = run(
        safe, compile_spec(layer, spec.model_copy(update=flipped), window, safe.dialect, floor), user_scope
    )
    frame, suppressed = floor.apply(_without(frame, spec), _COUNTS)
    if suppressed and spec.grain == "none" and spec.dimensions:  # a ranked place would hint at the value
        frame = frame.sort_values(SUPPRESSED, kind="stable").reset_index(drop=True)
    queries = [ran]
    previous = None
    shown = measure
    if spec.share_of_all:
        _check_share(measure, spec)
        whole = spec.model_copy(update={"filters": [], "share_of_all": False})
        all_frame, all_sql = run(safe, compile_spec(layer, whole, window, safe.dialect, floor), user_scope)
        queries.append(all_sql)
        frame = _as_share(frame, all_frame, spec)
        shown = measure.model_copy(update={"format": "ratio"})
    if spec.compare_previous:
        window.bounds("compare_previous")
        before = window.before()
        # every group of the window before, not only its own top rows: the rows shown are this window's
        earlier = spec.model_copy(update={**flipped, "limit": _PREVIOUS_ROWS}) if spec.dimensions else spec
        prev_frame, prev_sql = run(safe, compile_spec(layer, earlier, before, safe.dialect, floor), user_scope)
        prev_frame, _ = floor.apply(_without(prev_frame, spec), _COUNTS)
        queries.append(prev_sql)
        previous = (before, prev_frame)
    frame = _rounded(_merge_previous(frame, previous, spec), shown)
    summary = _summary(shown, spec, window, frame, previous, parts_of=measure) + floor.note(suppressed, len(frame))
    return Result(
        "query",
        frame.drop(columns=["groups"], errors="ignore"),
        queries,
        summary,
        _chart(shown, spec, frame),
        details={"spec": as_dict(spec), "window": [str(window.start or first), str(window.end or last)]},
    )


def _check_share(measure: Measure, spec: SpecBase) -> None:
    if measure.agg not in ADDITIVE:
        raise LayerError(f"share_of_all is for counts and sums, not {measure.name!r} ({measure.agg}); leave it out")
    if not spec.filters:
        raise LayerError("share_of_all needs a filter: the share of which rows (e.g. device = mobile)")
    if spec.compare_previous:
        raise LayerError("share_of_all and compare_previous together are not supported; ask one at a time")


def _as_share(part: pd.DataFrame, whole: pd.DataFrame, spec: SpecBase) -> pd.DataFrame:
    """``part`` (the filtered rows' measure) as a share of ``whole`` (every row's), per grain and dimensions;
    the two counts kept as ``part`` and ``whole``."""
    keys = _keys(spec)
    totals = whole[[*keys, "value"]].rename(columns={"value": "whole"})
    merged = part.rename(columns={"value": "part"})
    merged = merged.merge(totals, on=keys, how="left") if keys else merged.assign(whole=totals["whole"].iloc[0])
    merged["value"] = pd.to_numeric(merged["part"]).astype(float) / pd.to_numeric(merged["whole"]).astype(float)
    if spec.dimensions and spec.grain == "none":
        merged = merged.sort_values("value", ascending=spec.order == "asc", kind="stable").reset_index(drop=True)
    return merged


def _rounded(frame: pd.DataFrame, measure: Measure) -> pd.DataFrame:
    """Values as the measure's format shows them (money and statistics to cents, ratios to 4 places)."""
    digits = {"money": 2, "number": 2, "ratio": 4}.get(measure.format)
    for column in ("value", "previous", "change"):
        if column in frame and digits is not None:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float).round(digits)
    return frame


def _keys(spec: SpecBase) -> list[str]:
    return [*([spec.grain] if spec.grain != "none" else []), *spec.dimensions]


def _merge_previous(frame: pd.DataFrame, previous: tuple[Window, pd.DataFrame] | None, spec: SpecBase) -> pd.DataFrame:
    if previous is None:
        return frame
    prev = previous[1][[*_keys(spec), "value"]].rename(columns={"value": "previous"})
    merged = (
        frame.merge(prev, on=_keys(spec), how="left")
        if _keys(spec)
        else frame.assign(previous=prev["previous"].iloc[0] if len(prev) else None)
    )
    merged["change"] = merged["value"] - merged["previous"]
    return merged


def fmt(measure: Measure, value: Any) -> str:
    """One value as the answer should say it."""
    if value is None or pd.isna(value):
        return "none"
    if measure.format == "ratio":
        return f"{100 * float(value):.1f}%"
    if measure.format == "money":
        return f"{float(value):,.2f}"
    if measure.format == "number":
        return f"{float(value):,.2f}".rstrip("0").rstrip(".")
    return f"{int(round(float(value))):,}"


def _span(window: Window) -> str:
    if window.start is None:
        return "over all data"
    return f"from {window.start} to {window.end} ({window.label})"


def _what(measure: Measure, spec: SpecBase) -> str:
    what = measure.name.replace("_", " ")
    if spec.share_of_all:
        what = f"share of {what}"
    if spec.percentile:
        what = f"{_ordinal(spec.percentile)} percentile of {what.removeprefix('median ')}"
    if measure.agg == "rate":

        def did(event: str | None) -> str:
            return "were active" if event == "active" else "signed up" if event == "signup" else f"did {event}"

        later = "later" if spec.base_event == "signup" else "also"
        target = "were active" if spec.target_event == "active" else f"did {spec.target_event}"
        if spec.target_event == spec.base_event and spec.base_event != "active":
            later, target = "later", f"did {spec.target_event} again"
        first = " for the first time" if spec.base_first else ""
        what = f"share of users who {did(spec.base_event)}{first} who {later} {target}"
        if spec.target_window == "next":
            what = f"share of users who {did(spec.base_event)} who {target} in the period right after"
        if spec.without:
            what = f"share of users who {did(spec.base_event)}{first} who {_did_not(spec)}"
    if spec.min_rows:
        rows = (
            "users" if measure.agg == "rate" else f"{measure.per}s" if measure.per else measure.entity.replace("_", " ")
        )
        what += f" (groups with at least {spec.min_rows:,} {rows})"
    if spec.filters:
        what += " where " + " and ".join(
            f"{f.dimension} {_OPS.get(f.op or '', 'matches')} {_value(f.value)}" for f in spec.filters
        )
    return what


_OPS = {"eq": "=", "ne": "is not", "in": "in", "contains": "contains", "gte": "at least", "lte": "at most"}
_OPS |= {"gt": "more than", "lt": "less than"}


def _value(value: Any) -> str:
    """A filter's value as the summary shows it: 3 (not 3.0), 'DE', ['DE', 'FR']."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _without(frame: pd.DataFrame, spec: SpecBase) -> pd.DataFrame:
    """A rate's rows as the share who did not do its target (``without``): those users counted, ranked again."""
    if not spec.without or "both_users" not in frame:
        return frame
    out = frame.copy()
    out["both_users"] = out["base_users"] - out["both_users"]
    out["value"] = 1.0 - out["value"].astype(float)
    if spec.dimensions and spec.grain == "none":
        out = out.sort_values("value", ascending=spec.order == "asc", kind="stable").reset_index(drop=True)
    return out


def _did_not(spec: SpecBase) -> str:
    """The users of a rate's base who did not do its target, said as the target: "were never active"."""
    never = "never" if spec.target_window == "same" and not spec.target_after else "not"
    if spec.target_event == "active":
        return f"were {never} active" + (" in the period after" if spec.target_window == "next" else "")
    return f"did not do {spec.target_event}" + (" again" if spec.target_event == spec.base_event else "")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _summary(
    measure: Measure,
    spec: SpecBase,
    window: Window,
    frame: pd.DataFrame,
    previous: tuple[Window, pd.DataFrame] | None,
    parts_of: Measure | None = None,
) -> str:
    head = f"{_what(measure, spec)}, {_span(window)}"
    if measure.agg == "rate" and spec.target_window == "next":
        after = next_window(window)
        head += f" (the period after: {after.start} to {after.end})"
    if frame.empty:
        return f"{head}: no matching rows."
    if not _keys(spec):
        row = frame.iloc[0]
        if is_suppressed(row):
            return f"{head}: suppressed."
        text = f"{head}: {fmt(measure, row['value'])}"
        if measure.agg == "rate":
            both, base = int(row["both_users"]), int(row["base_users"])
            rest = f"the other {base - both:,} did" if spec.without else f"{base - both:,} {_did_not(spec)}"
            text += f" ({both:,} of {base:,} users; {rest})"
        if "part" in row and parts_of is not None:
            text += f" ({fmt(parts_of, row['part'])} of {fmt(parts_of, row['whole'])})"
        if previous is not None:
            start, end = previous[0].bounds("compare_previous")
            text += (
                f". {previous[0].label[:1].upper()}{previous[0].label[1:]} ({start} to {end}): "
                f"{fmt(measure, row['previous'])}; {_change(measure, row['change'], row['previous'])}"
            )
        return text + "."
    if spec.grain != "none" and not spec.dimensions and frame["value"].notna().any():
        top = frame.loc[frame["value"].astype(float).idxmax()]
        low = frame.loc[frame["value"].astype(float).idxmin()]
        text = (
            f"{head}, per {spec.grain} ({len(frame)} {spec.grain}s): highest {_label(top, spec.grain)} "
            f"({fmt(measure, top['value'])}), lowest {_label(low, spec.grain)} ({fmt(measure, low['value'])})"
        )
        if measure.agg in {"count", "sum"}:
            text += f"; all {spec.grain}s together {fmt(measure, frame['value'].sum())}"
        return text + "."
    keys = _keys(spec)
    groups = int(frame["groups"].iloc[0]) if "groups" in frame else len(frame)
    shown = []
    for _, row in frame.head(SHOWN).iterrows():
        # A bare number as a label reads as a value: "user 2280: 102", not "2280: 102" (measured: the
        # embedded model reported the count of remaining rows as the top user's id).
        label = " / ".join(
            f"{k.replace('_', ' ')} {text}" if (text := _label(row, k)).isdigit() else text for k in keys
        )
        if is_suppressed(row):
            shown.append(f"{label}: suppressed")
            continue
        extra = f" ({int(row['both_users']):,} of {int(row['base_users']):,})" if measure.agg == "rate" else ""
        if "part" in row and parts_of is not None:
            extra = f" ({fmt(parts_of, row['part'])} of {fmt(parts_of, row['whole'])})"
        prev = f", before {fmt(measure, row['previous'])}" if "previous" in row else ""
        shown.append(f"{label}: {fmt(measure, row['value'])}{extra}{prev}")
    by = " and ".join(keys)
    more = "; the others are in the table" if groups > len(shown) else ""
    if spec.grain != "none":
        return f"{head}, by {by} ({groups} in all, in time order): " + "; ".join(shown) + more + "."
    # The first row named as the answer to a ranking (measured: the embedded model reported the second row
    # of "apparel: 4,996; audio: 4,417; ..." as the most favorited category, twice in one run).
    top = "highest" if spec.order == "desc" else "lowest"
    rest = f"; then {'; '.join(shown[1:])}" if len(shown) > 1 else ""
    return f"{head}, by {by} ({groups} in all): the {top} is {shown[0]}{rest}{more}."


_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def period_label(grain: str, value: Any) -> str:
    """A period as people name it: 2026-10 for a month, the week of 2026-10-19, a day as its date."""
    day = pd.Timestamp(value).date()
    return {"month": day.strftime("%Y-%m"), "week": f"the week of {day}"}.get(grain, str(day))


def _label(row: pd.Series, key: str) -> str:
    value = row[key]
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "(none)"
    if key in {"day", "week", "month"}:
        return period_label(key, value)
    text = _WEEKDAYS[int(value)] if key == "weekday" else str(value)
    for column in row.index:
        if column.startswith(f"{key}_") and column not in {"base_users", "both_users"} and isinstance(row[column], str):
            text += f" ({row[column]})"
    return text


def _change(measure: Measure, change: Any, previous: Any) -> str:
    """``change +35.1% (a difference of +1,204.50)``: the change as a share of the window before first, then the
    difference; a share's change only in percentage points (a percentage of a percentage misleads)."""
    if (
        measure.format == "ratio"
        or change is None
        or previous is None
        or pd.isna(change)
        or pd.isna(previous)
        or float(previous) == 0
    ):
        return f"change {_signed(measure, change)}"
    return f"change {100 * float(change) / abs(float(previous)):+.1f}% (a difference of {_signed(measure, change)})"


def _signed(measure: Measure, value: Any) -> str:
    if value is None or pd.isna(value):
        return "none"
    sign = "+" if float(value) >= 0 else "-"
    if measure.format == "ratio":  # a share's change is in percentage points, not a percentage of itself
        return f"{sign}{100 * abs(float(value)):.1f} percentage points"
    return sign + fmt(measure, abs(float(value)))


def _chart(measure: Measure, spec: SpecBase, frame: pd.DataFrame) -> dict[str, Any] | None:
    if frame.empty or not _keys(spec):
        return None
    title = _what(measure, spec)
    if spec.grain != "none":
        series = spec.dimensions[0] if spec.dimensions else None
        return line_chart(title, frame, spec.grain, "value", series)
    key = spec.dimensions[0]
    return bar_chart(title, [str(v) for v in frame[key]], list(frame["value"]), horizontal=True)
