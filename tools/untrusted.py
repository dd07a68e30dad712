"""Which tool results carry customer-written text (reviews), which a caller must treat as data, never obey."""

from __future__ import annotations

import logging

import sqlglot
from sqlglot import exp

from tools.artifact import ToolArtifact

logger = logging.getLogger(__name__)

REVIEW_TEXT_COLUMNS = frozenset({"title", "body"})
"""The columns of ``reviews`` written by customers."""


def _whole_row_copy(select: exp.Select) -> bool:
    """True for ``SELECT <every column> FROM reviews``: the guard's stand-in for the table, which outputs
    the text columns whether or not the query around it reads them."""
    source = select.args.get("from_")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or table.name.lower() != "reviews" or select.args.get("joins"):
        return False
    names = {e.alias_or_name.lower() for e in select.expressions}
    return REVIEW_TEXT_COLUMNS <= names and {"review_id", "rating"} <= names


def _outputs_text(node: exp.Expression) -> bool:
    if isinstance(node, exp.Column) and node.name.lower() in REVIEW_TEXT_COLUMNS:
        return True
    return isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count)


def reads_review_text(sql: str) -> bool:
    """True when ``sql`` reads the reviews table and uses its text columns (by name or ``*``)."""
    try:
        trees = [t for t in sqlglot.parse(sql) if t is not None]
    except sqlglot.errors.SqlglotError:
        logger.info("cannot parse a cited query to check it for review text; marked untrusted")
        return "reviews" in sql.lower()  # fail closed
    for tree in trees:
        if not any(t.name.lower() == "reviews" for t in tree.find_all(exp.Table)):
            continue
        for node in tree.find_all(exp.Column, exp.Star):
            enclosing = node.find_ancestor(exp.Select)
            if _outputs_text(node) and not (enclosing is not None and _whole_row_copy(enclosing)):
                return True
    return False


def carries_review_text(artifact: ToolArtifact) -> bool:
    """True when the result quotes reviews (a review citation) or ran SQL that selected review text."""
    if any(c.kind == "review" for c in artifact.citations):
        return True
    return any(c.kind == "sql" and reads_review_text(c.ref) for c in artifact.citations)
