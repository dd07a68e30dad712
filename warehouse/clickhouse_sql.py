"""SQL for ClickHouse from the portable (DuckDB/PostgreSQL) SQL the analytics, masks and the model write.

sqlglot's ClickHouse generator keeps a few functions ClickHouse does not have (``split_part``,
``regexp_replace(..., 'g')``, ``extract(epoch ...)``, ``extract(dow ...)``, ``percentile_cont ... within group``, ``quantile_cont(x, p)``), and ClickHouse's ``lead``/``lag`` over a non-nullable column give
its default (``''``) where the others give NULL. This rewrite fixes those on the parse tree
before the guard generates the SQL that runs; everything else is sqlglot's own transpilation.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

READ_DIALECT = "duckdb"
"""The syntax the guard reads for a ClickHouse warehouse: the one the analytics, the semantic layer
and the model write everywhere; sqlglot transpiles it."""


def written_dialect(engine: str) -> str:
    """The dialect callers write SQL in for an engine: DuckDB's syntax on ClickHouse, the engine's own elsewhere."""
    return READ_DIALECT if engine == "clickhouse" else engine


def _call(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _rewrite(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Extract) and node.this.name.upper() == "EPOCH":
        return _call("toFloat64", node.expression)  # seconds, fractional; a DateTime64 difference too
    if isinstance(node, exp.Extract) and node.this.name.upper() in {"DOW", "DAYOFWEEK"}:
        # toDayOfWeek is Monday 1 ... Sunday 7; modulo 7 it is DuckDB's and PostgreSQL's 0 Sunday ... 6 Saturday
        return exp.Paren(this=exp.Mod(this=_call("toDayOfWeek", node.expression), expression=exp.Literal.number(7)))
    if (
        isinstance(node, exp.WithinGroup)
        and isinstance(node.this, exp.PercentileCont)
        and isinstance(node.expression, exp.Order)
        and len(node.expression.expressions) == 1
    ):
        # PERCENTILE_CONT interpolates between the two nearest values, as quantileExactInclusive does
        return exp.ParameterizedAgg(
            this="quantileExactInclusive", expressions=[node.this.this], params=[node.expression.expressions[0].this]
        )
    if isinstance(node, exp.PercentileCont) and node.args.get("expression") is not None:
        # DuckDB's QUANTILE_CONT(x, p): the same interpolation
        return exp.ParameterizedAgg(this="quantileExactInclusive", expressions=[node.expression], params=[node.this])
    if isinstance(node, exp.SplitPart) and node.args.get("delimiter") is not None:
        index = node.args.get("part_index") or exp.Literal.number(1)
        return _call("arrayElement", _call("splitByString", node.args["delimiter"], node.this), index)
    if isinstance(node, exp.RegexpReplace):
        modifiers = node.args.get("modifiers")
        every = isinstance(modifiers, exp.Literal) and "g" in modifiers.this
        if modifiers is not None and not every:
            return node  # other flags: left for ClickHouse to refuse with its own message
        replacement = node.args.get("replacement") or exp.Literal.string("")
        return _call("replaceRegexpAll" if every else "replaceRegexpOne", node.this, node.expression, replacement)
    if isinstance(node, (exp.Lead, exp.Lag)) and node.args.get("default") is None:
        node.set("this", _call("toNullable", node.this))
    return node


def to_clickhouse(tree: exp.Expr) -> exp.Expr:
    """``tree`` with the functions ClickHouse lacks rewritten in place (returned for chaining)."""
    kinds = (exp.SplitPart, exp.RegexpReplace, exp.Lead, exp.Lag, exp.Extract, exp.WithinGroup, exp.PercentileCont)
    for node in list(tree.find_all(*kinds)):
        new = _rewrite(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def clickhouse_sql(sql: str, *, read: str = READ_DIALECT) -> str:
    """One portable SQL expression or statement as ClickHouse SQL."""
    return to_clickhouse(sqlglot.parse_one(sql, read=read)).sql("clickhouse")
