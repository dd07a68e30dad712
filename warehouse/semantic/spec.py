"""The query spec: what a question asks of the layer, as named things. Its enums come from the layer."""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import EnumType, StrEnum
from typing import Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from warehouse.analytics._base import Day
from warehouse.semantic.layer import LayerError, SemanticLayer
from warehouse.semantic.linking import CJK as _CJK
from warehouse.semantic.shape import ShapeChoices, shape_choices
from warehouse.semantic.windows import WindowChoices, window_choices

Grain = Literal["none", "day", "week", "month"]
_ONE_EVENT = re.compile(r"^event_type\s*=\s*'([^']+)'$")
_TIME_RANGES = {"hour_of_day": range(24), "weekday": range(7)}
"""The values of the time parts that are numbers (a bound on them must fall inside)."""
ADDITIVE = frozenset({"count", "count_distinct", "sum"})
"""Aggregates whose value over a subset is a part of their value over all rows (``share_of_all``)."""
FilterOp = Literal["eq", "ne", "in", "contains", "gte", "lte", "gt", "lt"]


class Window(BaseModel):
    """Resolved inclusive day bounds (None: unbounded) and how to name them."""

    start: date | None
    end: date | None
    label: str

    def bounds(self, needed_by: str) -> tuple[date, date]:
        """(start, end) of a bounded window; LayerError naming what needs one for "all data"."""
        if self.start is None or self.end is None:
            raise LayerError(f"{needed_by} needs a window (last_days or start/end)")
        return self.start, self.end

    def before(self, periods: int = 1) -> Window:
        """The window ``periods`` lengths earlier: whole calendar months move by months (September before
        October, not the 31 days before October 1), any other window by its number of days."""
        start, end = self.bounds("a window before")
        months = _whole_months(start, end)
        if months:
            first = _add_months(start, -months * periods)
            last = _add_months(first, months) - timedelta(days=1)
            n = months * periods
            return Window(start=first, end=last, label="the month before" if n == 1 else f"the {n} months before")
        days = (end - start).days + 1
        return Window(
            start=start - timedelta(days=days * periods),
            end=end - timedelta(days=days * periods),
            label=f"the {days} days before",
        )


def _add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month (``day`` is a first of a month)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _whole_months(start: date, end: date) -> int:
    """How many calendar months ``start``..``end`` spans when it is whole months (first to last day), else 0."""
    after = end + timedelta(days=1)
    if start.day != 1 or after.day != 1:
        return 0
    return (after.year * 12 + after.month) - (start.year * 12 + start.month)


class FilterBase(BaseModel):
    """A row filter; ``spec_model`` narrows ``dimension`` to the layer's dimensions."""

    model_config = ConfigDict(extra="forbid")

    dimension: str = Field(..., description="The dimension filtered on.")
    op: FilterOp | None = Field(
        None,
        description="eq, ne, in (list), contains, gte (at least), lte (at most), gt (more than), lt (less than); "
        "default: contains for a text dimension, else eq.",
    )
    value: Union[str, float, list[str]] = Field(..., description="The value (a list for in).")  # noqa: UP007


class SpecBase(BaseModel):
    """Fields every spec has; ``spec_model`` narrows measure, dimensions, filters and events to the layer's enums."""

    model_config = ConfigDict(extra="forbid")

    last_days: int | None = Field(
        None, ge=1, le=3660, description="Window: the N days ending on the data's last day (7 = last week)."
    )
    start: Day | None = Field(None, description="Window start day YYYY-MM-DD (instead of last_days).")
    end: Day | None = Field(None, description="Window end day YYYY-MM-DD, included.")
    periods_back: int = Field(
        0, ge=0, le=52, description="Move the window back by whole window lengths (1 = the same length just before it)."
    )
    compare_previous: bool = Field(False, description="Also give the window just before and the change.")
    grain: Grain = Field("none", description="One row per day, week or month.")
    base_event: str | None = Field(None, description="conversion_rate only: users who did this ...")
    target_event: str | None = Field(None, description="conversion_rate only: ... the share who also did this.")
    target_after: bool = Field(
        False,
        description="conversion_rate only: count target_event only at or after "
        "the user's first base_event (went on to).",
    )
    base_first: bool = Field(
        False,
        description="conversion_rate only: only users whose first base_event ever falls in the window "
        "(first-time buyers), not everyone who did it in the window.",
    )
    without: bool = Field(
        False,
        description="conversion_rate only: the share who did NOT do target_event (signed up but never active, "
        "bought but never reviewed); the result counts them.",
    )
    target_window: Literal["same", "next"] = Field(
        "same",
        description="conversion_rate only: next = count target_event in the period right after the window "
        "(same length; after a calendar month, the next month): came back the next week.",
    )
    share_of_all: bool = Field(
        False,
        description="The measure where the filters hold as a share of the measure over every row of the window "
        "(what share of purchases are on mobile); counts and sums only, needs a filter.",
    )
    percentile: int | None = Field(
        None, ge=1, le=99, description="median measures only: this percentile instead of the median (90 = p90)."
    )
    min_rows: int | None = Field(
        None,
        ge=1,
        description="With dimensions: keep only groups with at least this many rows (reviews, orders, events, "
        "sessions) behind the measure (brands with at least 30 reviews).",
    )
    order: Literal["desc", "asc"] = Field("desc", description="Sort by the measure: highest or lowest first.")
    limit: int = Field(20, ge=1, le=200, description="Rows shown when grouped.")
    # Last, in this order: the layer's model redefines them with its enums and keeps their places.
    measure: str = Field(..., description="What to count, sum, average or rate.")
    dimensions: list[str] = Field(
        default_factory=list, max_length=2, description="Group by these (a ranking: highest first)."
    )
    filters: list[FilterBase] = Field(default_factory=list, max_length=4, description="Row filters.")

    def grounded_values(self) -> list[str]:
        """Values that must come from the conversation (the question or an earlier result): ids filtered
        on (a dimension whose column is a key, e.g. user or item). A model that writes an id nobody gave
        is guessing; the agent sends such a call back (``agent.tool_runner``)."""
        keys = type(self).id_dimensions
        out = []
        for f in self.filters:
            if str(f.dimension) in keys:
                out += [str(v) for v in (f.value if isinstance(f.value, list) else [f.value])]
        return out

    id_dimensions: ClassVar[frozenset[str]] = frozenset()
    filter_dimensions: ClassVar[dict[str, tuple[str, list[str]]]] = {}
    """Per filterable dimension: its kind (id, text, number or listed) and its listed values (a number: its
    range when known, hour of day 0-23) (``agent.grounded_args``)."""
    measure_dimensions: ClassVar[dict[str, list[str]]] = {}
    """Per measure: the dimensions that apply to it (group by or filter on)."""
    last_day: ClassVar[date | None] = None
    only_for: ClassVar[dict[str, list[str]]] = {}
    """Fields that mean something only for some measures (a rate's events): field -> those measures."""
    dimension_words: ClassVar[dict[str, list[str]]] = {}
    """Per dimension: the words that name it (its name, its column, its synonyms)."""
    measure_words: ClassVar[list[str]] = []
    measure_phrases: ClassVar[dict[str, list[str]]] = {}
    """Per measure: the phrases that name it alone (of several words, or an acronym): "average order value",
    "AOV"; a question naming one is about that measure (``agent.grounded_args``)."""
    people: ClassVar[str | None] = None
    """The users' key dimension ("who wrote the most reviews")."""
    share_measures: ClassVar[dict[str, bool]] = {}
    """Per measure: True for a share (a rate, a ratio), False for a rate's opposite (a count, a sum ...)."""
    behavior_words: ClassVar[dict[str, list[str]]] = {}
    """Per behavior (event type, signup, active): the words that name it (the layer's ``behaviors``)."""
    session_measures: ClassVar[frozenset[str]] = frozenset()
    people_counts: ClassVar[frozenset[str]] = frozenset()
    """Measures counting people: distinct users of events, and the users table's rows."""
    """Measures per session (events per session, the share of sessions with a purchase): only for a question
    naming sessions or visits."""
    value_aliases: ClassVar[dict[str, dict[str, list[str]]]] = {}
    """Per dimension: per listed value, the words that name it (DE: Germany, German, 德国)."""
    event_counts: ClassVar[dict[str, str]] = {}
    """Counts of one behavior (purchases, users_who_purchased; signups; active_users) -> that behavior."""

    @classmethod
    def window_choices(cls, question: str) -> WindowChoices | None:
        """The windows the question names (``windows.window_choices``) against the data's last day."""
        return window_choices(question, cls.last_day)

    @classmethod
    def shape_choices(cls, question: str, latest: str) -> ShapeChoices:
        """What the thread's questions (``latest`` the last) say of comparison, grain and grouping
        (``shape.shape_choices``)."""
        listed = {n: values for n, (kind, values) in cls.filter_dimensions.items() if kind == "listed"}
        return shape_choices(
            question,
            latest,
            cls.dimension_words,
            cls.measure_words,
            listed,
            cls.people,
            cls.behavior_words,
            cls.value_aliases,
        )

    @model_validator(mode="after")
    def _once_each(self):
        # A dimension or filter given twice means it once (the grammar cannot say "unique"; measured: a
        # ranking by ["user", "user"] failed inside the summary).
        self.dimensions = list(dict.fromkeys(self.dimensions))
        self.filters = [f for i, f in enumerate(self.filters) if f not in self.filters[:i]]
        return self

    @model_validator(mode="after")
    def _window(self):
        if self.last_days is not None and (self.start or self.end):
            raise ValueError("give last_days or start/end, not both")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}; swap them")
        return self

    def window(self, anchor: date, first: date) -> Window:
        """The spec's window resolved against the data's first and last day."""
        if self.last_days is not None:
            end = anchor - timedelta(days=self.periods_back * self.last_days)
            start = end - timedelta(days=self.last_days - 1)
            label = (
                f"last {self.last_days} days"
                if not self.periods_back
                else f"{self.last_days} days, {self.periods_back} period(s) back"
            )
            return Window(start=start, end=end, label=label)
        if self.start or self.end:
            start, end = self.start or first, self.end or anchor
            window = Window(start=start, end=end, label="the dates asked")
            return window.before(self.periods_back) if self.periods_back else window
        return Window(start=None, end=None, label="all data")


def _names(title: str, values) -> type[StrEnum]:
    """An enum of names in the layer's order. Not ``Literal``: typing caches a Literal by its set of values,
    so another layer's Literal with the same names in another order would give this schema that order."""
    make: EnumType = StrEnum  # through the metaclass: mypy reads ``StrEnum(title, ...)`` as a member lookup
    names = make(title, [(v, v) for v in values])
    assert issubclass(names, StrEnum)
    return names


def spec_model(layer: SemanticLayer) -> type[SpecBase]:
    """The pydantic model of a query spec over ``layer``: measure, dimensions and filters are its enums."""
    # Classes made at run time, used inside the field types given to create_model: typed Any, since a
    # static checker cannot treat a variable as a type (``list[groupable]``, ``events | None``).
    measures: Any = _names("Measure", layer.measures)
    groupable: Any = _names("GroupDimension", [n for n in layer.dimensions if n != "review_text"])
    filterable: Any = _names("FilterDimension", layer.dimensions)
    events: Any = _names("EventType", [*layer.event_types, "active"])
    base_events: Any = _names("BaseEvent", [*layer.event_types, "active", "signup"])
    filter_model: Any = create_model(
        "Filter",
        __base__=FilterBase,
        __doc__="Keep only rows where the dimension matches.",
        dimension=(filterable, Field(..., description="The dimension filtered on.")),
    )
    doc = (
        "Compute one measure of the semantic layer over a time window, optionally grouped by dimensions or "
        "per day/week/month, filtered, compared with the window before."
    )
    model = create_model(
        "QuerySpec",
        __base__=SpecBase,
        __doc__=doc,
        measure=(measures, Field(..., description="What to count, sum, average or rate.")),
        dimensions=(
            list[groupable],
            Field(default_factory=list, max_length=2, description="Group by these (a ranking: highest first)."),
        ),
        filters=(list[filter_model], Field(default_factory=list, max_length=4, description="Row filters.")),
        base_event=(
            base_events | None,
            Field(None, description="conversion_rate only: users who did this (active: any event) ..."),
        ),
        target_event=(
            events | None,
            Field(None, description="conversion_rate only: ... the share who also did this (active: any event)."),
        ),
    )
    model.id_dimensions = frozenset(n for n, d in layer.dimensions.items() if d.column.endswith("_id"))
    model.filter_dimensions = {
        n: (
            "id" if n in model.id_dimensions else "text" if d.text else "number" if d.entity == "time" else "listed",
            list(d.values) or [str(v) for v in _TIME_RANGES.get(d.column, ())]
            if d.entity == "time"
            else list(d.values),
        )
        for n, d in layer.dimensions.items()
    }
    model.last_day = layer.last_day
    rates = [m.name for m in layer.measures.values() if m.agg == "rate"]
    model.only_for = {
        name: rates for name in ("base_event", "target_event", "target_after", "target_window", "base_first", "without")
    }
    model.only_for["percentile"] = [m.name for m in layer.measures.values() if m.agg == "median"]
    model.only_for["share_of_all"] = [m.name for m in layer.measures.values() if m.agg in ADDITIVE]
    model.measure_dimensions = {
        m.name: [n for n, d in layer.dimensions.items() if layer.applies(m, d)] for m in layer.measures.values()
    }
    model.dimension_words = {
        n: list(
            dict.fromkeys(
                [n.replace("_", " "), *([d.column.replace("_", " ")] if d.column.isidentifier() else []), *d.synonyms]
            )
        )
        for n, d in layer.dimensions.items()
    }
    model.measure_words = list(
        dict.fromkeys(
            w
            for m in layer.measures.values()
            for w in (m.name.replace("_", " "), m.name.replace("avg_", "average ").replace("_", " "), *m.synonyms)
        )
    )
    # A Chinese word is a phrase of its own (no spaces), unless it names a dimension too (用户: the user, users)
    dimension_words = {w for ws in model.dimension_words.values() for w in ws}
    model.measure_phrases = {
        m.name: [
            w
            for w in dict.fromkeys(
                (m.name.replace("_", " "), m.name.replace("avg_", "average ").replace("_", " "), *m.synonyms)
            )
            if " " in w or (w.isupper() and len(w) >= 2) or (_CJK.search(w) and w not in dimension_words)
        ]
        for m in layer.measures.values()
    }
    model.share_measures = {m.name: m.agg == "rate" or m.format == "ratio" for m in layer.measures.values()}
    model.behavior_words = {n: list(w) for n, w in layer.behaviors.items()}
    model.value_aliases = {n: dict(d.aliases) for n, d in layer.dimensions.items() if d.aliases}
    model.session_measures = frozenset(m.name for m in layer.measures.values() if m.per == "session")
    model.people_counts = frozenset(
        m.name
        for m in layer.measures.values()
        if (m.agg == "count_distinct" and m.column == "user_id" and not m.per)
        or (m.entity == "users" and m.agg == "count")
    )
    model.event_counts = {
        m.name: hit.group(1)
        for m in layer.measures.values()
        if m.agg in {"count", "count_distinct"} and m.where and (hit := _ONE_EVENT.match(m.where.strip()))
    }
    # The two behaviors that are no event type count too: sign-ups (the users table's rows) and being
    # active (any event): "how many users from Germany signed up" is no count of active users.
    for m in layer.measures.values():
        if m.where or m.name in model.event_counts:
            continue
        if m.entity == "users" and m.agg == "count" and "signup" in layer.behaviors:
            model.event_counts[m.name] = "signup"
        elif (
            m.entity == "events" and m.agg == "count_distinct" and m.column == "user_id" and "active" in layer.behaviors
        ):
            model.event_counts[m.name] = "active"
    model.people = next((n for n, d in layer.dimensions.items() if d.entity == "users" and d.column == "user_id"), None)
    return model


def as_dict(spec: BaseModel) -> dict[str, Any]:
    """A spec as the JSON a thread remembers and a saved report re-runs (defaults left out)."""
    return spec.model_dump(mode="json", exclude_defaults=True)
