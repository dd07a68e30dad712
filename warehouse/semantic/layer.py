"""The semantic layer: the warehouse as measures and dimensions a question can name.

Generated from the canonical schema and the data (only event types and attributes the data has),
then extended or overridden by a YAML file the operator edits (``docs/semantic-layer.md``).
Everything a query can say is here as data; the compiler (``compiler.py``) turns a spec into SQL.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar

import sqlglot
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from warehouse.errors import WarehouseError
from warehouse.yaml_file import read_mapping

logger = logging.getLogger(__name__)

Entity = Literal["events", "orders", "users", "reviews", "order_items", "review_sentiment"]
TIME_COLUMN: dict[str, str | None] = {
    "events": "ts",
    "orders": "ts",
    "users": "signup_ts",
    "reviews": "ts",
    "order_items": None,
    "review_sentiment": "ts",
}
"""The column a time window bounds, per entity (order_items has none of its own)."""
JOIN_KEYS: dict[str, tuple[str, ...]] = {
    "events": ("user_id", "item_id"),
    "orders": ("user_id",),
    "users": ("user_id",),
    "reviews": ("user_id", "item_id"),
    "order_items": ("item_id",),
    "review_sentiment": ("user_id", "item_id"),
}
"""The keys an entity's rows carry, so a dimension of users or items can join onto it."""
ENTITY_ROWS: dict[str, tuple[str, str]] = {
    "review_sentiment": (
        "reviews",
        "(SELECT r.review_id, r.user_id, r.item_id, r.ts, r.rating, r.title, r.body, "
        "s.sentiment, s.score FROM reviews AS r "
        "JOIN review_sentiment AS s ON s.review_id = r.review_id)",
    ),
}
"""Entities whose rows are another entity's rows with more columns: (that entity, the SQL of the rows).
Scored reviews are the reviews the indexer scored, with their ``sentiment`` and ``score``."""


def entity_rows(entity: str) -> str:
    """What a query on ``entity`` reads FROM: its table, or the SQL of its rows."""
    return ENTITY_ROWS[entity][1] if entity in ENTITY_ROWS else entity


def same_rows(dimension_entity: str, measure_entity: str) -> bool:
    """Whether a dimension of ``dimension_entity`` is a column of ``measure_entity``'s rows (no join needed)."""
    return dimension_entity == measure_entity or ENTITY_ROWS.get(measure_entity, ("",))[0] == dimension_entity


_NAME = r"^[a-z][a-z0-9_]{0,47}$"


class LayerError(WarehouseError):
    """The semantic layer file is invalid; the message names the entry and the fix."""


class Measure(BaseModel):
    """A number a question asks for: an aggregate over one entity's rows, maybe per session or user first."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME)
    description: str
    entity: Entity
    agg: Literal["count", "count_distinct", "sum", "avg", "median", "min", "max", "rate"]
    column: str | None = Field(None, description="the aggregated column or SQL expression of the entity's row")
    where: str | None = Field(None, description="SQL condition on the entity's row (alias-free column names)")
    per: Literal["session", "user"] | None = Field(
        None, description="first count rows per session or user (column: an expression over the group), then agg"
    )
    per_agg: Literal["count", "duration_minutes", "any", "sessions", "sum"] = "count"
    """Per session or user: its rows, its length in minutes, ``any``: 1 when any of its rows matches
    ``where`` (else 0), so ``avg`` is the share of sessions or users with such a row; per user also
    ``sessions``, its distinct sessions, or ``sum``, the sum of ``column`` over its rows (spend per customer)."""
    format: Literal["count", "money", "number", "ratio"] = "count"
    synonyms: list[str] = Field(default_factory=list)
    family: str | None = Field(None, description="measures of one family are listed on one line of the prompt")

    @model_validator(mode="after")
    def _consistent(self):
        if self.agg in {"sum", "avg", "min", "max", "count_distinct"} and not self.column and not self.per:
            raise ValueError(f"measure {self.name!r}: agg {self.agg!r} needs a column")
        if self.per_agg == "any" and not (self.per and self.where and self.agg == "avg"):
            raise ValueError(f"measure {self.name!r}: per_agg any needs per, where and agg avg (a share of units)")
        if self.per_agg in {"sessions", "sum"} and self.per != "user":
            raise ValueError(f"measure {self.name!r}: per_agg {self.per_agg} is per user; set per: user")
        if self.per_agg == "sessions" and self.entity != "events":
            raise ValueError(f"measure {self.name!r}: per_agg sessions counts events' session ids; set entity: events")
        if self.per_agg == "sum" and not self.column:
            raise ValueError(f"measure {self.name!r}: per_agg sum needs the column summed per user")
        if self.agg == "rate" and self.entity != "events":
            raise ValueError(f"measure {self.name!r}: a rate is between two behaviors, so its entity is events")
        for sql in (self.column, self.where):
            _check_sql(sql, self.name)
        return self


class Dimension(BaseModel):
    """Something to group or filter by: a column of an entity, joined by its key, or a part of the time."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME)
    description: str
    entity: Literal["users", "items", "events", "orders", "reviews", "time"]
    column: str = Field(description="the column, or for entity time one of hour_of_day, weekday, day, week, month")
    label: str | None = Field(None, description="a more readable column of the same entity shown beside the key")
    values: list[str] = Field(default_factory=list, description="the known values (filled from the data)")
    text: bool = Field(False, description="free text: a filter matches rows containing its words (op contains)")
    synonyms: list[str] = Field(default_factory=list)
    aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="per value, words that name it (DE: [Germany, German]); generated for ISO country codes",
    )

    @field_validator("column")
    @classmethod
    def _sql(cls, value: str) -> str:
        _check_sql(value, "dimension")
        return value

    @model_validator(mode="after")
    def _aliased_values(self):
        unknown = [v for v in self.aliases if v not in self.values] if self.entity != "time" else []
        if unknown:
            raise ValueError(
                f"aliases name {', '.join(map(repr, unknown))}, not among its values "
                f"({', '.join(self.values) or 'none listed'}); list them under values"
            )
        return self


class Example(BaseModel):
    """A question of the operator's with the call that answers it."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=3)
    tool: str = "query"
    args: dict[str, Any]


class SemanticLayer(BaseModel):
    """The measures and dimensions of one warehouse, by name."""

    model_config = ConfigDict(extra="forbid")

    measures: dict[str, Measure]
    dimensions: dict[str, Dimension]
    event_types: list[str] = Field(default_factory=list)
    source: str = "generated from the schema"
    last_day: date | None = None
    """The data's last event day when the layer was built (what "October" and "last week" refer to)."""
    examples: list[Example] = Field(default_factory=list)
    """The operator's own questions with their calls (the layer file's ``examples``), shown like the
    generated demonstrations (``demonstrations.py``)."""
    behaviors: dict[str, list[str]] = Field(default_factory=dict)
    """Per behavior a rate can name (an event type, ``signup``, ``active``): the words a question uses for it
    ("bought", "buyers", "paying customers" for purchase). The agent reads which behaviors a question names,
    in its order, to fix a rate's base and target (``shape.named_behaviors``)."""

    def measure(self, name: str) -> Measure:
        """The measure called ``name``; LayerError naming the known ones otherwise."""
        if name not in self.measures:
            raise LayerError(f"unknown measure {name!r}; known measures: {', '.join(self.measures)}")
        return self.measures[name]

    def dimension(self, name: str) -> Dimension:
        """The dimension called ``name``; LayerError naming the known ones otherwise."""
        if name not in self.dimensions:
            raise LayerError(f"unknown dimension {name!r}; known dimensions: {', '.join(self.dimensions)}")
        return self.dimensions[name]

    def applies(self, measure: Measure, dimension: Dimension) -> bool:
        """Whether ``dimension`` can group ``measure``'s rows (its entity joins onto the measure's). A rate
        between two behaviors, and a measure of one event type, name their event types themselves: the event
        type is no dimension of them (purchases where the type is view: none; the share of sessions with a
        purchase among purchase events: all of them); a count of
        distinct values is no measure of the groups of those values (distinct users per user is 1), nor a
        per-user statistic of one user ("sessions per user" by user is each user's sessions)."""
        if (
            dimension.entity == "events"
            and dimension.column == "event_type"
            and (measure.agg == "rate" or (measure.where and "event_type" in measure.where))
        ):  # a rate, or a count of purchases, names its event types itself
            return False
        if measure.agg == "count_distinct" and dimension.column == measure.column:  # one user per user: 1
            return False
        if measure.per == "user" and dimension.entity == "users" and dimension.column == "user_id":
            return False  # a mean over users, per user, is that user's own count: rank by the count instead
        if dimension.entity == "time":
            return TIME_COLUMN[measure.entity] is not None
        if same_rows(dimension.entity, measure.entity):
            return True
        key = {"users": "user_id", "items": "item_id"}.get(dimension.entity)
        return key is not None and key in JOIN_KEYS[measure.entity]

    def describe(self) -> str:
        """The layer as the compact list the agent's prompt and the UI show: what you can ask."""
        lines = ["Measures:"]
        families: dict[str, list[str]] = {}
        for m in self.measures.values():
            if m.family:
                if m.family not in families:
                    families[m.family] = []
                    lines.append(m.family)  # a placeholder, replaced by the family's line below
                families[m.family].append(m.name)
            else:
                lines.append(f"- {m.name}: {m.description}")
        lines = [f"- {', '.join(families[x])}: {x}" if x in families else x for x in lines]
        lines.append("Dimensions (group by or filter on):")
        for d in self.dimensions.values():
            named = [f"{v} {d.aliases[v][0]}" if d.aliases.get(v) else v for v in d.values]
            values = f" [{', '.join(named)}]" if d.values else ""
            lines.append(f"- {d.name}: {d.description}{values}")
        return "\n".join(lines)


def _check_sql(sql: str | None, owner: str) -> None:
    if sql is None:
        return
    try:
        sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ValueError(f"{owner}: {sql!r} is not a SQL expression ({str(exc).splitlines()[0]})") from None


def load_overrides(path: Path) -> dict[str, Any]:
    """The operator's YAML file as a dict (``measures`` / ``dimensions`` / ``remove``); LayerError when malformed."""
    data = read_mapping(path, LayerError, "the semantic layer file")
    if set(data) - {"measures", "dimensions", "remove", "examples", "behaviors"}:
        raise LayerError(
            f"{str(path)!r}: the top level must be a mapping with measures, dimensions, remove, examples "
            "and/or behaviors"
        )
    return data


_Entry = TypeVar("_Entry", Measure, Dimension)


def _entries(
    current: dict[str, _Entry], model: type[_Entry], overrides: dict[str, Any], kind: str, origin: str
) -> dict[str, _Entry]:
    """``current`` with the file's ``kind`` entries validated and added or replacing same-named ones."""
    out = dict(current)
    entries = overrides.get(kind) or {}
    if not isinstance(entries, dict):
        raise LayerError(f"{origin}: {kind} must be a mapping of name -> definition")
    for name, body in entries.items():
        try:
            out[name] = model.model_validate({"name": name, **(body or {})})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or name}: {e['msg']}" for e in exc.errors())
            raise LayerError(f"{origin}: {kind[:-1]} {name!r} is invalid: {problems}") from None
    return out


def extend(layer: SemanticLayer, overrides: dict[str, Any], origin: str) -> SemanticLayer:
    """``layer`` with the file's entries added or replacing same-named ones, and its ``remove`` names dropped."""
    measures = _entries(layer.measures, Measure, overrides, "measures", origin)
    dimensions = _entries(layer.dimensions, Dimension, overrides, "dimensions", origin)
    for name in overrides.get("remove") or []:
        if name not in measures and name not in dimensions:
            raise LayerError(f"{origin}: remove names {name!r}, which is neither a measure nor a dimension")
        measures.pop(name, None)
        dimensions.pop(name, None)
    if not measures:
        raise LayerError(f"{origin}: the layer has no measures left; remove fewer")
    examples = list(layer.examples)
    if not isinstance(overrides.get("examples") or [], list):
        raise LayerError(f"{origin}: examples must be a list of {{question, tool, args}}")
    for i, body in enumerate(overrides.get("examples") or []):
        try:
            examples.append(Example.model_validate(body))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'example'}: {e['msg']}" for e in exc.errors())
            raise LayerError(
                f"{origin}: example {i + 1} is invalid: {problems} "
                "(each example is {question: ..., tool: query, args: {...}})"
            ) from None
    return layer.model_copy(
        update={
            "measures": measures,
            "dimensions": dimensions,
            "source": origin,
            "examples": examples,
            "behaviors": _behaviors(layer, overrides.get("behaviors"), origin),
        }
    )


def _behaviors(layer: SemanticLayer, extra: Any, origin: str) -> dict[str, list[str]]:
    """The layer's behavior words with the file's ``behaviors`` (event type -> more words) added."""
    out = {name: list(words) for name, words in layer.behaviors.items()}
    if not extra:
        return out
    known = {*layer.event_types, "signup", "active"}
    if not isinstance(extra, dict) or not all(
        isinstance(w, list) and all(isinstance(x, str) and x.strip() for x in w) for w in extra.values()
    ):
        raise LayerError(
            f"{origin}: behaviors must be a mapping of event type -> list of words, e.g. purchase: [bought]"
        )
    for name, words in extra.items():
        if name not in known:
            raise LayerError(
                f"{origin}: behaviors names {name!r}, which is no event type of the data; known: {', '.join(sorted(known))}"
            )
        out[name] = list(dict.fromkeys([*out.get(name, []), *(w.strip() for w in words)]))
    return out
