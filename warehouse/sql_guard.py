"""The SQL guard: one read-only SELECT over allow-listed tables, masked PII, forced LIMIT, regenerated SQL.

Every base-table reference is rewritten to a derived table that projects only allow-listed
columns (PII through its mask) and, for a scoped query, only the rows of one user; the real
table is schema-qualified there so no CTE can shadow it. CTEs are renamed to private names so
a reference the guard takes for a CTE can never resolve to a real table.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from warehouse.clickhouse_sql import READ_DIALECT as CLICKHOUSE_READ
from warehouse.clickhouse_sql import to_clickhouse
from warehouse.errors import Correction, GuardRejected, PolicyRefused
from warehouse.schema import events
from warehouse.sql_policy import (
    ALLOWED_ANONYMOUS_FUNCTIONS,
    ALLOWED_FUNCTION_CLASSES,
    ALLOWED_TABLE_FUNCTIONS,
    DERIVED_TABLES,
    SqlPolicy,
    TablePolicy,
)

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 200
MAX_LIMIT = 10_000
MAX_SQL_CHARS = 20_000
MAX_GROWTH = 1_000
"""Largest literal size of a string-growth function (repeat, lpad/rpad, format widths)."""

_SQLGLOT_DIALECTS = {
    "postgresql": "postgres",
    "duckdb": "duckdb",
    "sqlite": "sqlite",
    "mysql": "mysql",
    "clickhouse": "clickhouse",
}
_DEFAULT_SCHEMAS = {"duckdb": "main", "postgres": "public", "sqlite": "main", "clickhouse": "default"}

_FORBIDDEN_NODE_NAMES = """
Insert Update Delete Merge Create Drop Alter Command Copy Into Lock Set SetItem Pragma Transaction
Commit Rollback Use Describe Attach Detach Install Kill TruncateTable LoadData Grant Revoke Analyze
Cache Uncache Refresh Comment Parameter Placeholder SessionParameter Returning Show Export Summarize
""".split()
_FORBIDDEN_NODES = tuple(getattr(exp, name) for name in _FORBIDDEN_NODE_NAMES if hasattr(exp, name))


def sqlglot_dialect(name: str) -> str:
    """The sqlglot dialect for a SQLAlchemy dialect name (``postgresql`` -> ``postgres``)."""
    return _SQLGLOT_DIALECTS.get(name, name)


@dataclass(frozen=True)
class GuardedSql:
    """A query the guard accepted: the SQL to execute (regenerated), the tables it reads, its LIMIT."""

    sql: str
    tables: tuple[str, ...]
    limit: int


class SqlGuard:
    """Checks and rewrites one model-written query for a warehouse dialect and an allow-list."""

    def __init__(
        self,
        dialect: str,
        policy: SqlPolicy | None = None,
        *,
        default_limit: int = DEFAULT_LIMIT,
        max_limit: int = MAX_LIMIT,
        schema: str | None = None,
        view_schema: str | None = None,
    ) -> None:
        if not 1 <= default_limit <= max_limit:
            raise ValueError(f"default_limit {default_limit!r} must be between 1 and max_limit {max_limit!r}")
        self.dialect = sqlglot_dialect(dialect)
        # ClickHouse reads the SQL every other engine reads (DuckDB's syntax) and runs it transpiled.
        self.read_dialect = CLICKHOUSE_READ if self.dialect == "clickhouse" else self.dialect
        self.policy = policy or SqlPolicy.canonical()
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.schema = schema or _DEFAULT_SCHEMAS.get(self.dialect, "public")
        # Where the rewritten query reads: the engine wall's views (PostgreSQL) when the connection has them.
        self.view_schema = view_schema or self.schema
        self._scope_filters = {
            name: sqlglot.parse_one(tp.scope_filter.format(schema=self.view_schema), read="postgres")
            for name, tp in self.policy.tables.items()
            if tp.scope_filter
        }
        self._masks = {
            (name, col): sqlglot.parse_one(mask.format(col=col), read="postgres")
            for name, tp in self.policy.tables.items()
            for col, mask in tp.masked.items()
        }

    def check(self, sql: str, *, limit: int | None = None, user_scope: str | None = None) -> GuardedSql:
        """The safe form of ``sql``, or :class:`GuardRejected` with a reason the author can act on.

        Fails closed: any error inside the guard (a parse tree it does not expect, a tree too deep to
        walk) is a refusal, never an exception that escapes or a query that runs unchecked.
        """
        try:
            return self._check(sql, limit=limit, user_scope=user_scope)
        except GuardRejected:
            raise
        except RecursionError:
            raise GuardRejected("query is nested too deeply; simplify it") from None
        except Exception as exc:  # noqa: BLE001 - fail closed: whatever broke the check refuses the query
            logger.warning("guard refused a query it could not check (%s: %s): %.200s", type(exc).__name__, exc, sql)
            raise PolicyRefused(
                f"the guard could not check this query ({type(exc).__name__}); "
                "rewrite it as one plain SELECT over the allow-listed tables"
            ) from None

    def _check(self, sql: str, *, limit: int | None, user_scope: str | None) -> GuardedSql:
        root = self._parse(sql)
        ctes = self._rename_ctes(root)
        tables = self._check_nodes(root, ctes)
        self._rewrite_tables(root, tables, user_scope)
        effective = self._force_limit(root, limit)
        return GuardedSql(
            sql=self._generate(root),
            tables=tuple(sorted({tp.name for _, tp in tables})),
            limit=effective,
        )

    def _generate(self, root: exp.Expr) -> str:
        # copy=False: the tree is ours and thrown away; copying it doubled the guard's cost.
        if self.dialect == "clickhouse":
            root = to_clickhouse(root)
        return sqlglot.Dialect.get_or_raise(self.dialect).generate(root, copy=False, comments=False)

    # -- parsing -------------------------------------------------------------------------------
    def _parse(self, sql: str) -> exp.Expression:
        if not isinstance(sql, str) or not sql.strip():
            raise GuardRejected("empty query; send one SELECT statement")
        if len(sql) > MAX_SQL_CHARS:
            raise GuardRejected(f"query is {len(sql)} characters; keep it under {MAX_SQL_CHARS}")
        try:
            statements = [s for s in sqlglot.parse(sql, read=self.read_dialect) if s is not None]
        except (ParseError, TokenError) as exc:
            first = str(exc).splitlines()[0][:200]
            raise GuardRejected(f"could not parse the SQL ({first}); send one plain SELECT") from None
        except RecursionError:
            raise GuardRejected("query is nested too deeply; simplify it") from None
        if len(statements) != 1:
            chained = PolicyRefused if any(not isinstance(s, exp.Query) for s in statements) else GuardRejected
            raise chained(f"found {len(statements)} statements; send exactly one SELECT and no ';' chains")
        root = statements[0]
        while isinstance(root, (exp.Subquery, exp.Paren)) and not root.alias and isinstance(root.this, exp.Query):
            root = root.this
        if not isinstance(root, (exp.Select, exp.SetOperation)):
            raise PolicyRefused(f"{root.key.upper()} statements are not allowed; only SELECT / WITH ... SELECT")
        return root

    # -- checks --------------------------------------------------------------------------------
    @staticmethod
    def _rename_ctes(root: exp.Expression) -> dict[int, dict[str, str]]:
        """Give every CTE a private name; map id(query) -> {original lower name: private name}."""
        scopes: dict[int, dict[str, str]] = {}
        counter = 0
        for query in list(root.find_all(exp.Query)):
            with_ = query.args.get("with_")
            if not with_:
                continue
            names = scopes.setdefault(id(query), {})
            for cte in with_.expressions:
                private = f"_cte{counter}_{cte.alias_or_name}"[:60]
                counter += 1
                names[cte.alias_or_name.lower()] = private
                cte.args["alias"].set("this", exp.to_identifier(private, quoted=True))
        return scopes

    def _check_nodes(
        self, root: exp.Expression, ctes: dict[int, dict[str, str]]
    ) -> list[tuple[exp.Table, TablePolicy]]:
        real: list[tuple[exp.Table, TablePolicy]] = []
        columns: list[exp.Column] = []
        aliases: set[str] = set()
        for node in root.walk():
            if isinstance(node, _FORBIDDEN_NODES):
                raise PolicyRefused(f"{node.key.upper()} is not allowed; only read-only SELECT queries run here")
            if isinstance(node, exp.Select) and not node.expressions:
                raise GuardRejected("SELECT needs at least one column or expression")
            if isinstance(node, exp.Func) and not isinstance(node, (exp.Binary, exp.Unary)):
                self._check_function(node)
            elif isinstance(node, exp.Table):
                policy = self._resolve_table(node, ctes)
                if policy is not None:
                    real.append((node, policy))
            elif isinstance(node, exp.Column):
                columns.append(node)
            elif isinstance(node, exp.Alias):
                aliases.add(node.alias.lower())
            elif isinstance(node, exp.TableAlias):
                aliases.update(c.name.lower() for c in node.columns)
                aliases.add(node.name.lower())
        allowed = {c.lower() for _, tp in real for c in tp.columns} | aliases
        for column in columns:
            if isinstance(column.this, exp.Star):
                continue
            if column.name.lower() not in allowed:
                known = sorted({c for _, tp in real for c in tp.columns})
                # Measured: the model put events' columns on users/orders; name the tables that have it.
                owners = [
                    tp.name
                    for tp in self.policy.tables.values()
                    if column.name.lower() in {c.lower() for c in tp.columns} and tp.name not in DERIVED_TABLES
                ]
                # Measured: told only where it lives, the model dropped the filter or repeated the query.
                retarget = self._retargeted(root, columns)
                where = (
                    f"; {column.name!r} is a column of {', '.join(owners)}: "
                    + (
                        f"run this instead: {retarget[0]}"
                        if retarget and len(retarget[0]) <= 240
                        else f"query {'that table' if len(owners) == 1 else 'one of those tables'} instead"
                    )
                    if owners
                    else ""
                )
                raise GuardRejected(
                    f"unknown column {column.name!r}; available columns: {', '.join(known) or 'none'}{where}",
                    correction=Correction(
                        retarget[0], f"{retarget[1]} has no column {column.name!r}, so query {retarget[2]} instead"
                    )
                    if retarget
                    else None,
                )
        return real

    def _retargeted(self, root: exp.Expression, columns: list[exp.Column]) -> tuple[str, str, str] | None:
        """A one-table query rewritten onto the one other table that has all its columns:
        ``(sql, table named, table used)``.

        Measured: after "'event_type' is a column of events" the model sent the same query on
        ``orders`` again; a query it can copy is what it follows.
        """
        tables = list(root.find_all(exp.Table))
        if len(tables) != 1 or not isinstance(root, exp.Select) or any(c.table for c in columns):
            return None
        if any(isinstance(node, (exp.Subquery, exp.With)) for node in root.walk()):
            return None
        wanted = {c.name.lower() for c in columns if not isinstance(c.this, exp.Star)}
        fits = [
            tp.name
            for tp in self.policy.tables.values()
            if tp.name not in DERIVED_TABLES
            and tp.name.lower() != tables[0].name.lower()
            and wanted <= {c.lower() for c in tp.columns}
        ]
        if len(fits) > 1 and events.name in fits:
            fits = [events.name]  # columns several tables share (user_id, ts): activity lives in the event log
        if len(fits) != 1:
            return None
        rewritten = root.copy()
        next(rewritten.find_all(exp.Table)).set("this", exp.to_identifier(fits[0]))
        sql = self._generate(rewritten)
        return sql, tables[0].name, fits[0]

    def _check_function(self, node: exp.Func) -> None:
        self._check_growth(node)
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            if name in ALLOWED_ANONYMOUS_FUNCTIONS:
                return
        else:
            name = type(node).__name__
            if name in ALLOWED_FUNCTION_CLASSES:
                return
            name = node.sql_name().lower()
        raise GuardRejected(f"function {name!r} is not allowed; use plain SQL expressions and aggregates")

    @staticmethod
    def _check_growth(node: exp.Func) -> None:
        """Functions whose output can be far larger than their input take small literal sizes only (measured:
        ``string_agg(repeat('x', 100000000), '')`` peaked at 7.1 GB before the timeout could stop it)."""
        size, name = None, None
        if isinstance(node, exp.Repeat):
            size, name = node.args.get("times"), "repeat"
        elif isinstance(node, exp.Pad):
            size, name = node.expression, "lpad/rpad"
        elif isinstance(node, exp.Format) or (
            isinstance(node, exp.Anonymous) and node.name.lower() in ("printf", "format")
        ):
            pattern = node.this if isinstance(node, exp.Format) else (node.expressions or [None])[0]
            if not (isinstance(pattern, exp.Literal) and pattern.is_string) or re.search(r"\d{4,}", pattern.this):
                raise GuardRejected(f"format patterns must be literal text with widths under {MAX_GROWTH}")
            return
        if name is None:
            return
        if not (isinstance(size, exp.Literal) and size.is_int and int(size.this) <= MAX_GROWTH):
            raise GuardRejected(
                f"{name} takes a literal size of at most {MAX_GROWTH:,}; "
                f"got {size.sql() if size is not None else 'none'}"
            )

    def _resolve_table(self, node: exp.Table, ctes: dict[int, dict[str, str]]) -> TablePolicy | None:
        if not isinstance(node.this, exp.Identifier):
            if isinstance(node.this, exp.Func) and type(node.this).__name__ in ALLOWED_TABLE_FUNCTIONS:
                return None
            raise PolicyRefused(
                f"table source {node.this.sql(self.dialect)[:60]!r} is not allowed; read allow-listed tables"
            )
        name = node.name
        if node.catalog or (node.db and node.db.lower() != self.schema):
            raise GuardRejected(f"table {node.sql(self.dialect)!r} is not allowed; use unqualified table names")
        if not node.db:
            private = self._cte_for(node, name.lower(), ctes)
            if private is not None:
                alias = node.alias or name
                node.set("this", exp.to_identifier(private, quoted=True))
                if not node.alias:
                    node.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
                return None
        policy = self.policy.table(name)
        if policy is None:
            listed = ", ".join(tp.name for tp in self.policy.tables.values())
            raise GuardRejected(f"table {name!r} is not allowed; available tables: {listed}")
        return policy

    @staticmethod
    def _cte_for(node: exp.Expr, name: str, ctes: dict[int, dict[str, str]]) -> str | None:
        # Inside CTE i of a WITH, only CTEs 0..i-1 are visible (0..n with RECURSIVE); elsewhere all of them.
        child, parent, skip = node, node.parent, None
        while parent is not None:
            if isinstance(parent, exp.With) and isinstance(child, exp.CTE):
                position = next(i for i, cte in enumerate(parent.expressions) if cte is child)
                visible = parent.expressions if parent.args.get("recursive") else parent.expressions[:position]
                private = ctes.get(id(parent.parent), {}).get(name)
                if private is not None and any(cte.alias == private for cte in visible):
                    return private
                skip = parent.parent
            elif parent is not skip and name in ctes.get(id(parent), {}):
                return ctes[id(parent)][name]
            child, parent = parent, parent.parent
        return None

    # -- rewriting -----------------------------------------------------------------------------
    def _rewrite_tables(
        self, root: exp.Expression, tables: list[tuple[exp.Table, TablePolicy]], user_scope: str | None
    ) -> None:
        # Built with constructors rather than exp.select(...): the builders deep-copy every argument.
        for node, policy in tables:
            source = exp.Table(this=exp.to_identifier(policy.name, quoted=True), db=exp.to_identifier(self.view_schema))
            inner = exp.Select(
                expressions=[self._projected(policy, col) for col in policy.columns],
                from_=exp.From(this=source),
            )
            if user_scope is not None:
                condition = self._scope_filters.get(policy.name.lower())
                if condition is not None:
                    bound = exp.replace_placeholders(condition.copy(), user=exp.Literal.string(user_scope))
                    inner.set("where", exp.Where(this=bound))
            alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
            replacement = exp.Subquery(this=inner, alias=alias)
            for key in ("joins", "laterals", "pivots"):
                if node.args.get(key):
                    replacement.set(key, node.args[key])
            node.replace(replacement)

    def _projected(self, policy: TablePolicy, column: str) -> exp.Expression:
        mask = self._masks.get((policy.name.lower(), column))
        if mask is None:
            return exp.Column(this=exp.Identifier(this=column, quoted=True))
        masked = mask.copy().transform(
            lambda n: (
                exp.Column(this=exp.Identifier(this=column, quoted=True))
                if isinstance(n, exp.Column) and n.name == column
                else n
            ),
            copy=False,
        )
        return exp.Alias(this=masked, alias=exp.Identifier(this=column, quoted=True))

    def _force_limit(self, root: exp.Expression, requested: int | None) -> int:
        cap = min(requested or self.default_limit, self.max_limit)
        node = root.args.get("limit")
        if node is not None:
            value = node.args.get("count") if isinstance(node, exp.Fetch) else node.expression
            if not (isinstance(value, exp.Literal) and value.is_int):
                raise GuardRejected("LIMIT must be a plain integer")
            cap = min(int(value.this), self.max_limit)
        root.set("limit", exp.Limit(expression=exp.Literal.number(cap)))
        return cap
