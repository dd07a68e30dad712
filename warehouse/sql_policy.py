"""What the SQL guard lets a query touch: tables, columns, masked columns, row scopes and functions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import DateTime

from warehouse.event_steps import STEPS_TABLE, event_steps
from warehouse.review_sentiment import SENTIMENT_TABLE, review_sentiment
from warehouse.schema import PII_COLUMNS, metadata

EMAIL_MASK = "LEFT({col}, 1) || '***@' || SPLIT_PART({col}, '@', 2)"
"""``users.email`` as the guard exposes it: ``a***@example.com`` (initial and domain only)."""

EMAIL_IN_TEXT = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
PHONE_IN_TEXT = r"(\+[0-9]{1,3}[ .-]?)?\(?[0-9]{2,4}\)?[ .-]?[0-9]{3,4}[ .-]?[0-9]{3,5}"
"""Contact details inside free text (review titles and bodies), in a syntax both RE2 (DuckDB), POSIX
(PostgreSQL) and Python read alike; a scoped caller sees them as ``[email]`` / ``[phone]``."""

DERIVED_TABLES: frozenset[str] = frozenset({STEPS_TABLE, SENTIMENT_TABLE})
"""Tables computed from the canonical ones (the step index, review sentiment): queryable, but never offered as
where a canonical column lives, and left out of the schema the model reads (the semantic layer exposes them)."""

TEXT_PII_COLUMNS: frozenset[tuple[str, str]] = frozenset({("reviews", "title"), ("reviews", "body")})
"""Free-text columns whose contact details are masked for a scoped caller."""


_EMAIL_RE, _PHONE_RE = re.compile(EMAIL_IN_TEXT), re.compile(PHONE_IN_TEXT)


def mask_text_pii(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers replaced (what a scoped caller sees of free text)."""
    return _PHONE_RE.sub("[phone]", _EMAIL_RE.sub("[email]", text))


def text_pii_mask(column: str) -> str:
    """SQL masking e-mail addresses and phone numbers inside ``column`` (same syntax on DuckDB and PostgreSQL)."""
    return (
        f"regexp_replace(regexp_replace({column}, '{EMAIL_IN_TEXT}', '[email]', 'g'), "
        f"'{PHONE_IN_TEXT}', '[phone]', 'g')"
    )


# Row filters for a query scoped to one end user; ``:user`` becomes the quoted user id.
USER_SCOPE_FILTERS: dict[str, str] = {
    "users": "user_id = :user",
    "events": "user_id = :user",
    "orders": "user_id = :user",
    "reviews": "user_id = :user",
    STEPS_TABLE: "user_id = :user",
    "order_items": "order_id IN (SELECT order_id FROM {schema}.orders WHERE user_id = :user)",
    SENTIMENT_TABLE: "review_id IN (SELECT review_id FROM {schema}.reviews WHERE user_id = :user)",
}


@dataclass(frozen=True)
class TablePolicy:
    """One allow-listed table: the columns a query may see, masks for PII, and the per-user row filter."""

    name: str
    columns: tuple[str, ...]
    masked: Mapping[str, str] = field(default_factory=dict)
    scope_filter: str | None = None
    timestamps: tuple[str, ...] = ()
    """Timestamp columns: a date-only upper bound on them means the whole day (see the guard)."""


@dataclass(frozen=True)
class SqlPolicy:
    """The allow-list a guard enforces; tables keyed by lower-case name."""

    tables: Mapping[str, TablePolicy]

    @classmethod
    def canonical(cls) -> SqlPolicy:
        """The canonical behavior tables, the step index and the review sentiment, every column, ``users.email``
        masked, user scopes defined."""
        tables = {}
        for name, table in [*metadata.tables.items(), (STEPS_TABLE, event_steps), (SENTIMENT_TABLE, review_sentiment)]:
            masked = {col: EMAIL_MASK for (tab, col) in PII_COLUMNS if tab == name}
            tables[name] = TablePolicy(
                name=name,
                columns=tuple(c.name for c in table.columns),
                masked=masked,
                scope_filter=USER_SCOPE_FILTERS.get(name),
                timestamps=tuple(c.name for c in table.columns if isinstance(c.type, DateTime)),
            )
        return cls(tables)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Iterable[str]]) -> SqlPolicy:
        """A policy allowing exactly these tables and columns, nothing masked or scoped."""
        return cls({name.lower(): TablePolicy(name=name, columns=tuple(cols)) for name, cols in columns.items()})

    def table(self, name: str) -> TablePolicy | None:
        """The policy of ``name`` (case-insensitive), or None when not allow-listed."""
        return self.tables.get(name.lower())

    def wall_columns(self, table: str, present: Iterable[str], *, text: Callable[[str], str] | None = None) -> str:
        """The SELECT list an engine wall reads ``table`` through: allow-listed columns that exist, PII masked,
        free-text columns passed through ``text`` (a SQL wrapper) when given."""
        tp, present = self.tables[table.lower()], set(present)
        cols = []
        for col in (c for c in tp.columns if c in present):
            expr = ident = f'"{col}"'
            if col in tp.masked:
                expr = tp.masked[col].format(col=ident)
            elif text is not None and (tp.name, col) in TEXT_PII_COLUMNS:
                expr = text(ident)
            cols.append(f"{expr} AS {ident}")
        return ", ".join(cols)


# Function allow-list: sqlglot expression classes (by class name) known to be pure computations.
# Anything else (file readers, network, extension, settings, sleep, system catalogs) is refused.
ALLOWED_FUNCTION_CLASSES: frozenset[str] = frozenset(
    """
Count CountIf Sum Avg Min Max Median Quantile PercentileCont PercentileDisc ApproxQuantile
Stddev StddevPop StddevSamp Variance VariancePop Corr CovarPop CovarSamp ApproxDistinct
ArrayAgg GroupConcat StringAgg First Last AnyValue ArgMax ArgMin LogicalAnd LogicalOr Mode
RowNumber Rank DenseRank Ntile Lag Lead FirstValue LastValue NthValue PercentRank CumeDist
Abs Ceil Floor Round Sqrt Cbrt Pow Exp Ln Log Log2 Log10 Sign Mod Greatest Least Trunc Pi Random
Coalesce Nullif If Case Cast TryCast Exists Between Iif
Lower Upper Length Substring Concat ConcatWs Trim Replace Left Right StrPosition SplitPart
RegexpLike RegexpExtract RegexpReplace RegexpILike Initcap Pad Reverse Repeat Md5 Ascii Chr
DateTrunc TimestampTrunc TimeToStr StrToTime StrToDate Extract DateAdd DateSub DateDiff
TimestampDiff TimestampAdd TimestampSub TsOrDsAdd TsOrDsToDate TsOrDsDiff CurrentDate CurrentTimestamp
CurrentTime UnixToTime TimeToUnix TimeStrToTime TimeStrToDate TimeStrToUnix DateStrToDate DateToDateStr
DiToDate Date DateFromParts TimestampFromParts Timestamp ToChar Time
DayOfWeek DayOfWeekIso DayOfMonth DayOfYear WeekOfYear Year Month Day Quarter Hour Minute Second Week
Unnest Explode GenerateSeries GenerateDateArray Array ArraySize ArrayContains ArrayToString Struct
StructExtract Bracket JSONExtract JSONExtractScalar ParseJSON Levenshtein Format
""".split()
)

# Functions sqlglot does not model (parsed as anonymous calls), by lower-case name.
ALLOWED_ANONYMOUS_FUNCTIONS: frozenset[str] = frozenset(
    """
now date_part datepart epoch epoch_ms julianday strftime strptime to_char to_date to_timestamp
date_diff datediff date_add date_sub ifnull nvl iif instr printf format make_date make_timestamp
string_agg listagg bool_and bool_or every product mode histogram list_aggregate round_even
age justify_days justify_hours dayname monthname isodow dayofweek weekday yearweek
split_part position strpos starts_with ends_with contains regexp_matches regexp_full_match
char_length character_length octet_length lpad rpad ltrim rtrim btrim translate
ceiling power square trunc div gcd lcm isnan isinf nullifzero
percentile_cont percentile_disc quantile_cont quantile_disc approx_count_distinct
rank dense_rank ntile percent_rank cume_dist row_number
last_day time_bucket
""".split()
)

ALLOWED_TABLE_FUNCTIONS: frozenset[str] = frozenset({"GenerateSeries", "Unnest", "Explode"})
