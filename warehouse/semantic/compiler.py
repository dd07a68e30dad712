"""A query spec compiled to one SQL statement: written for DuckDB, transpiled by sqlglot per dialect."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlglot
from sqlglot import exp

from warehouse.group_size import GROUP_USERS, GroupFloor
from warehouse.semantic.layer import TIME_COLUMN, Dimension, LayerError, Measure, SemanticLayer, entity_rows, same_rows
from warehouse.semantic.linking import stem
from warehouse.semantic.spec import SpecBase, Window

_JOINS = {
    "users": "LEFT JOIN users AS u ON u.user_id = {a}.user_id",
    "items": "LEFT JOIN items AS i ON i.item_id = {a}.item_id",
}
_ALIAS = {"users": "u", "items": "i"}
_TIME_PARTS = {"hour_of_day": "EXTRACT(HOUR FROM {t})", "weekday": "EXTRACT(DOW FROM {t})"}


def lit(value: Any) -> str:
    """A SQL literal: numbers as numbers, everything else a quoted string."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return exp.Literal.string(str(value)).sql()
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def qualify(sql: str, alias: str) -> str:
    """``sql`` (an expression over one table's columns) with every column qualified by ``alias``."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for column in tree.find_all(exp.Column):
        column.set("table", exp.to_identifier(alias))
    return tree.sql("duckdb")


def _day(value) -> str:
    return f"TIMESTAMP {lit(datetime.combine(value, time.min).strftime('%Y-%m-%d %H:%M:%S'))}"


class _Select:
    """The FROM/JOIN/WHERE of one entity's rows, collecting the joins its dimensions and filters need."""

    def __init__(self, layer: SemanticLayer, measure: Measure, alias: str = "b") -> None:
        self.layer, self.measure, self.alias = layer, measure, alias
        self.joins: dict[str, str] = {}
        self.where: list[str] = []

    def expr(self, dim: Dimension, *, label: bool = False) -> str:
        """The SQL of ``dim`` on this entity's rows (joining users or items when it needs them)."""
        if not self.layer.applies(self.measure, dim):
            usable = [d for d, v in self.layer.dimensions.items() if self.layer.applies(self.measure, v)]
            raise LayerError(
                f"dimension {dim.name!r} does not apply to measure {self.measure.name!r} "
                f"({self.measure.entity} rows); usable: {', '.join(usable)}"
            )
        if dim.entity == "time":
            return _TIME_PARTS[dim.column].format(t=f"{self.alias}.{TIME_COLUMN[self.measure.entity]}")
        if same_rows(dim.entity, self.measure.entity):
            return qualify(dim.column, self.alias)
        key = {"users": "user_id", "items": "item_id"}[dim.entity]
        if dim.column == key and not label:
            return f"{self.alias}.{key}"
        self.joins[dim.entity] = _JOINS[dim.entity].format(a=self.alias)
        return qualify(dim.label if label and dim.label is not None else dim.column, _ALIAS[dim.entity])

    def window(self, window: Window, *, whole_sessions: bool = True) -> None:
        column = TIME_COLUMN[self.measure.entity]
        if column is None:
            if window.start or window.end:
                raise LayerError(f"measure {self.measure.name!r} has no time; leave the window out")
            return
        if _of_sessions(self.measure) and (window.start or window.end):
            # A session belongs to the window of its first event, with all of its events (a visit that
            # starts on the window's last evening and ends after midnight is one whole session of it).
            starts = [f"MIN({column}) >= {_day(window.start)}"] if window.start else []
            if window.end:
                starts.append(f"MIN({column}) < {_day(window.end + timedelta(days=1))}")
            self.where.append(
                f"{self.alias}.session_id IN (SELECT session_id FROM {entity_rows(self.measure.entity)} "
                f"GROUP BY session_id HAVING {' AND '.join(starts)})"
            )
            if whole_sessions:
                return
        if window.start:
            self.where.append(f"{self.alias}.{column} >= {_day(window.start)}")
        if window.end:
            self.where.append(f"{self.alias}.{column} < {_day(window.end + timedelta(days=1))}")

    def filter(self, dimension: str, op: str, value: Any) -> None:
        dim = self.layer.dimension(dimension)
        target = self.expr(dim, label=op == "contains" and dim.label is not None)
        values = value if isinstance(value, list) else [value]
        values = [_known(dim, v) for v in values]
        if op == "in":
            self.where.append(f"{target} IN ({', '.join(lit(v) for v in values)})")
        elif op == "contains" and dim.text and re.fullmatch(r'"[^"]+"|\'[^\']+\'', str(values[0]).strip()):
            # In quotes: the words as written ("size", not "sizing"), as a search engine reads quotes.
            exact = str(values[0]).strip()[1:-1].lower()
            self.where.append(f"LOWER(CAST({target} AS VARCHAR)) LIKE {lit('%' + exact + '%')}")
        elif op == "contains" and dim.text:
            # Free text mentions a word in its forms: each word by its stem (leaking, leaks -> leak).
            stems = [stem(w) for w in re.findall(r"\w+", str(values[0]).lower())] or [str(values[0]).lower()]
            self.where.extend(f"LOWER(CAST({target} AS VARCHAR)) LIKE {lit('%' + stem + '%')}" for stem in stems)
        elif op == "contains":
            self.where.append(f"LOWER(CAST({target} AS VARCHAR)) LIKE {lit('%' + str(values[0]).lower() + '%')}")
        else:
            symbol = {"eq": "=", "ne": "<>", "gte": ">=", "lte": "<=", "gt": ">", "lt": "<"}[op]
            self.where.append(f"{target} {symbol} {lit(values[0])}")

    def sql_from(self, entity: str) -> str:
        where = f" WHERE {' AND '.join(self.where)}" if self.where else ""
        return f"FROM {entity_rows(entity)} AS {self.alias} {' '.join(self.joins.values())}{where}"


def _of_sessions(measure: Measure) -> bool:
    """Whether ``measure`` counts or measures whole sessions (its window bounds where sessions start)."""
    return measure.entity == "events" and (
        measure.per == "session" or (measure.agg == "count_distinct" and measure.column == "session_id")
    )


_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def _known(dim: Dimension, value: Any) -> Any:
    """``value`` spelt as the data spells it; LayerError listing the values when the data has no such value."""
    if isinstance(value, float) and value.is_integer() and dim.entity in {"users", "items"}:
        value = str(int(value))
    if dim.entity == "time" and isinstance(value, str) and _NUMBER.match(value):
        return float(value)  # an hour or a weekday, written as text by a grammar
    if not dim.values or not isinstance(value, str):
        return value
    numbers = [float(v) for v in dim.values if _NUMBER.match(v)]
    numeric = len(numbers) == len(dim.values)
    for known in dim.values:
        if known.casefold() == value.casefold():
            return float(known) if numeric else known
    if numeric and _NUMBER.match(value) and min(numbers) <= float(value) <= max(numbers):
        return float(value)  # a bound between listed numbers ("rating at most 3.5")
    raise LayerError(f"{dim.name} has no value {value!r}; its values: {', '.join(dim.values)}")


def _op(layer: SemanticLayer, f: Any) -> str:
    """A filter's operator; left out, a text dimension's is contains (its values are words), others' eq."""
    return f.op or ("contains" if layer.dimension(f.dimension).text else "eq")


def _filters(select: _Select, spec: SpecBase) -> None:
    for f in spec.filters:
        select.filter(f.dimension, _op(select.layer, f), f.value)


def _median(column: str | None, percentile: int | None) -> str:
    """The median of ``column``, or its ``percentile`` (linear interpolation between the closest ranks, as
    the median is: DuckDB's QUANTILE_CONT, PostgreSQL's PERCENTILE_CONT, on ClickHouse quantileExactInclusive
    through ``warehouse.clickhouse_sql``)."""
    return f"QUANTILE_CONT({column}, {percentile / 100})" if percentile else f"MEDIAN({column})"


def _aggregate(measure: Measure, alias: str, percentile: int | None = None) -> str:
    column = qualify(measure.column, alias) if measure.column else None
    return {
        "count": "COUNT(*)",
        "count_distinct": f"COUNT(DISTINCT {column})",
        "sum": f"SUM({column})",
        "avg": f"AVG({column})",
        "median": _median(column, percentile),
        "min": f"MIN({column})",
        "max": f"MAX({column})",
    }[measure.agg]


def _grouped(select: _Select, spec: SpecBase) -> tuple[list[str], list[str]]:
    """(select expressions with their names, group-by expressions) of the spec's grain and dimensions."""
    named, groups = [], []
    if spec.grain != "none":
        column = TIME_COLUMN[select.measure.entity]
        if column is None:
            raise LayerError(f"measure {select.measure.name!r} has no time; use grain none")
        bucket = f"DATE_TRUNC('{spec.grain}', {select.alias}.{column})"
        named.append(f"CAST({bucket} AS DATE) AS {spec.grain}")
        groups.append(bucket)
    for name in spec.dimensions:
        dim = select.layer.dimension(name)
        value = select.expr(dim)
        named.append(f"{value} AS {name}")
        groups.append(value)
        if dim.label:
            named.append(f"MAX({select.expr(dim, label=True)}) AS {name}_{dim.label}")
    return named, groups


def _having(spec: SpecBase) -> str:
    """`` HAVING COUNT(*) >= n``: groups with at least ``min_rows`` rows (per-unit measures: units; a rate:
    users who did the base behavior)."""
    return f" HAVING COUNT(*) >= {int(spec.min_rows)}" if spec.min_rows else ""


def _ordered(spec: SpecBase, names: list[str]) -> str:
    if spec.grain != "none":
        return f"ORDER BY {spec.grain}" + "".join(f", {n}" for n in names[1:])
    if spec.dimensions:
        return f"ORDER BY value {spec.order.upper()} NULLS LAST, {', '.join(spec.dimensions)} LIMIT {spec.limit}"
    return ""


def compile_spec(
    layer: SemanticLayer, spec: SpecBase, window: Window, dialect: str = "duckdb", floor: GroupFloor | None = None
) -> str:
    """The SQL answering ``spec`` over ``window``, in ``dialect`` (columns: grain, dimensions, value[, ...]);
    with a ``floor`` that is on, also the distinct users behind each row (``group_users``)."""
    measure = layer.measure(spec.measure)
    if spec.percentile and measure.agg != "median":
        medians = [m.name for m in layer.measures.values() if m.agg == "median"]
        raise LayerError(
            f"percentile is for median measures ({', '.join(medians)}), not {measure.name!r}; leave it out"
        )
    if spec.min_rows and not spec.dimensions:
        raise LayerError("min_rows keeps groups with enough rows: it needs dimensions to group by; leave it out")
    floor = floor if floor is not None and floor.on else None
    sql = (
        _rate(layer, measure, spec, window, floor)
        if measure.agg == "rate"
        else _plain(layer, measure, spec, window, floor)
    )
    return sqlglot.transpile(sql, read="duckdb", write=_dialect(dialect))[0]


def _dialect(name: str) -> str:
    return {"postgresql": "postgres"}.get(name, name)


def _row_users(select: _Select, floor: GroupFloor | None) -> str:
    """``, <distinct users> AS group_users`` of the entity's rows (order lines: their orders' users), or nothing."""
    if floor is None:
        return ""
    if select.measure.entity == "order_items":
        select.joins["orders"] = f"LEFT JOIN orders AS o ON o.order_id = {select.alias}.order_id"
        return f", {floor.users_sql('o.user_id')} AS {GROUP_USERS}"
    return f", {floor.users_sql(f'{select.alias}.user_id')} AS {GROUP_USERS}"


def _plain(layer: SemanticLayer, measure: Measure, spec: SpecBase, window: Window, floor: GroupFloor | None) -> str:
    if spec.base_event or spec.target_event:
        raise LayerError(f"base_event and target_event are for conversion_rate, not {measure.name!r}; leave them out")
    rate_only = [
        name
        for name, set_ in (
            ("without", spec.without),
            ("base_first", spec.base_first),
            ("target_after", spec.target_after),
            ("target_window", spec.target_window != "same"),
        )
        if set_
    ]
    if rate_only:
        raise LayerError(f"{', '.join(rate_only)} is for conversion_rate, not {measure.name!r}; leave it out")
    select = _Select(layer, measure)
    if measure.where and measure.per_agg != "any":  # any: every row of the unit, the condition per row
        select.where.append(qualify(measure.where, "b"))
    select.window(window, whole_sessions=spec.grain == "none")  # by day: each day's own events
    _filters(select, spec)
    named, groups = _grouped(select, spec)
    group_by = f" GROUP BY {', '.join(groups)}{_having(spec)}" if groups else ""
    total = ", COUNT(*) OVER () AS groups" if spec.dimensions and spec.grain == "none" else ""
    if measure.per:
        unit = "b.session_id" if measure.per == "session" else "b.user_id"
        time_col = TIME_COLUMN[measure.entity]
        per = {
            "count": "COUNT(*)",
            "any": f"MAX(CASE WHEN {qualify(measure.where or 'TRUE', 'b')} THEN 1.0 ELSE 0.0 END)",
            "sessions": "COUNT(DISTINCT b.session_id)",
            "sum": f"SUM({qualify(measure.column, 'b')})" if measure.column else "",
            "duration_minutes": f"DATE_DIFF('second', MIN(b.{time_col}), MAX(b.{time_col})) / 60.0",
        }[measure.per_agg]
        inner_names = [n.rsplit(" AS ", 1)[1] for n in named]
        unit_user = ", MIN(b.user_id) AS unit_user" if floor is not None else ""
        inner = (
            f"SELECT {''.join(n + ', ' for n in named)}{unit} AS unit, {per} AS x{unit_user} "
            f"{select.sql_from(measure.entity)} GROUP BY {', '.join([*groups, unit])}"
        )
        outer_agg = (
            "AVG(x)"
            if measure.agg == "avg"
            else _median("x", spec.percentile)
            if measure.agg == "median"
            else {"sum": "SUM(x)", "min": "MIN(x)", "max": "MAX(x)"}.get(measure.agg, "AVG(x)")
        )
        cols = "".join(f"{n}, " for n in inner_names)
        outer_group = f" GROUP BY {', '.join(inner_names)}{_having(spec)}" if inner_names else ""
        users = f", {floor.users_sql('unit_user')} AS {GROUP_USERS}" if floor is not None else ""
        sql = (
            f"SELECT {cols}{outer_agg} AS value, COUNT(*) AS units{total}{users} "
            f"FROM ({inner}) AS per_unit{outer_group}"
        )
    else:
        users = _row_users(select, floor)
        sql = (
            f"SELECT {''.join(n + ', ' for n in named)}{_aggregate(measure, 'b', spec.percentile)} AS value{total}{users} "
            f"{select.sql_from(measure.entity)}{group_by}"
        )
    return f"{sql} {_ordered(spec, [n.rsplit(' AS ', 1)[1] for n in named])}".strip()


def next_window(window: Window) -> Window:
    """The period right after ``window``: the next calendar month after a whole month, else the same
    number of days; LayerError for an open window (there is no "after" to it)."""
    if window.start is None or window.end is None:
        raise LayerError("target_window next needs a bounded window: give last_days or start and end")
    after = window.end + timedelta(days=1)
    if window.start.day == 1 and after.day == 1 and (after.year, after.month) == _month_after(window.start):
        end = date(*_month_after(after), 1) - timedelta(days=1)
        return Window(start=after, end=end, label="the next month")
    days = (window.end - window.start).days + 1
    return Window(start=after, end=window.end + timedelta(days=days), label=f"the {days} days after")


def _month_after(day: date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def _rate(layer: SemanticLayer, measure: Measure, spec: SpecBase, window: Window, floor: GroupFloor | None) -> str:
    base, target = spec.base_event, spec.target_event
    if not base or not target:
        raise LayerError(
            "conversion_rate needs base_event and target_event (of users who did base_event, "
            "the share who also did target_event)"
        )
    if spec.grain != "none":
        raise LayerError("conversion_rate has no grain; ask one window at a time (or use the funnel tool)")
    for name in spec.dimensions:
        if layer.dimension(name).entity != "users":
            raise LayerError(f"conversion_rate groups by user attributes only, not {name!r}")
    events = layer.measures.get("events") or Measure(name="events", description="", entity="events", agg="count")
    hit = _Select(layer, events, alias="b")
    if target != "active":  # active: any event
        hit.where.append(f"b.event_type = {lit(target)}")
    later = next_window(window) if spec.target_window == "next" else None
    if spec.base_first and base in {"signup"}:
        raise LayerError("base_first is for an event: a signup is a user's first by itself; leave it out")
    if base == "signup":
        first = _Select(layer, Measure(name="signups", description="", entity="users", agg="count"), alias="b")
        first.window(window)
        for f in spec.filters:  # user attributes bound the signups, item attributes the later events
            on_users = layer.dimension(f.dimension).entity == "users"
            (first if on_users else hit).filter(f.dimension, _op(layer, f), f.value)
        hit.joins = {"a": "JOIN a ON a.user_id = b.user_id", **hit.joins}
        hit.where.append("b.ts >= a.signup_ts")
        if later is not None:
            hit.window(later)
        cte = (
            f"WITH a AS (SELECT b.user_id, b.signup_ts {first.sql_from('users')}), "
            f"t AS (SELECT DISTINCT b.user_id {hit.sql_from('events')})"
        )
    else:
        _filters(hit, spec)
        first = _Select(layer, events, alias="b")
        if base != "active":
            first.where.append(f"b.event_type = {lit(base)}")
        having = ""
        if spec.base_first:  # the user's first base event ever falls in the window: a cohort of new ones
            start, end = window.bounds("base_first")
            having = f" HAVING MIN(b.ts) >= {_day(start)} AND MIN(b.ts) < {_day(end + timedelta(days=1))}"
        else:
            first.window(window)
        _filters(first, spec)
        hit.window(later or window)
        # "bought a second time": in the same window, a second such event from the first one on
        again = target == base and base != "active" and later is None
        if spec.target_after or again:  # "went on to": the target at or after the user's first base event
            hit.joins = {"a": "JOIN a ON a.user_id = b.user_id", **hit.joins}
            hit.where.append("b.ts >= a.t0")
        hits = (
            f"SELECT b.user_id {hit.sql_from('events')} GROUP BY b.user_id HAVING COUNT(*) >= 2"
            if again
            else f"SELECT DISTINCT b.user_id {hit.sql_from('events')}"
        )
        cte = (
            f"WITH a AS (SELECT b.user_id, MIN(b.ts) AS t0 {first.sql_from('events')} GROUP BY b.user_id{having}), "
            f"t AS ({hits})"
        )
    outer = _Select(layer, events, alias="a")
    named, groups = [], []
    for name in spec.dimensions:
        value = outer.expr(layer.dimension(name))
        named.append(f"{value} AS {name}")
        groups.append(value)
    group_by = f" GROUP BY {', '.join(groups)}{_having(spec)}" if groups else ""
    joins = " ".join(outer.joins.values())
    users = f", {floor.users_sql('a.user_id')} AS {GROUP_USERS}" if floor is not None else ""
    total = ", COUNT(*) OVER () AS groups" if spec.dimensions else ""  # how many groups before the row limit
    sql = (
        f"{cte} SELECT {''.join(n + ', ' for n in named)}COUNT(*) AS base_users, COUNT(t.user_id) AS both_users, "
        f"CAST(COUNT(t.user_id) AS DOUBLE) / NULLIF(COUNT(*), 0) AS value{total}{users} "
        f"FROM a LEFT JOIN t ON t.user_id = a.user_id {joins}{group_by}"
    )
    return f"{sql} {_ordered(spec, spec.dimensions)}".strip()
