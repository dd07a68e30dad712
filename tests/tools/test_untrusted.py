"""Which queries return customer-written review text: checked on the SQL the guard actually runs."""

from __future__ import annotations

import pytest

from tools.artifact import Citation, ToolArtifact
from tools.untrusted import carries_review_text, reads_review_text
from warehouse.sql_guard import SqlGuard


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
@pytest.mark.parametrize(
    ("sql", "text"),
    [
        ("SELECT title, body FROM reviews", True),
        ("SELECT * FROM reviews WHERE rating = 1", True),
        ("SELECT r.* FROM reviews r JOIN items i ON i.item_id = r.item_id", True),
        ("SELECT x FROM (SELECT body AS x FROM reviews) AS t", True),
        ("SELECT user_id FROM events UNION SELECT body FROM reviews", True),
        ("WITH b AS (SELECT review_id, body AS text FROM reviews) SELECT text FROM b", True),
        ("SELECT COUNT(*) AS n FROM reviews", False),
        ("SELECT rating, COUNT(*) AS n, AVG(helpful_votes) AS votes FROM reviews GROUP BY rating", False),
        ("SELECT title FROM items", False),
        ("SELECT * FROM events", False),
    ],
)
def test_guarded_queries_are_marked_when_they_return_review_text(dialect, sql, text):
    guarded = SqlGuard(dialect).check(sql, user_scope="u1").sql
    assert reads_review_text(guarded) is text, guarded


def test_a_review_citation_or_review_sql_marks_the_artifact():
    quoted = ToolArtifact(tool="search_reviews", citations=[Citation(kind="review", ref="r1", detail="...")])
    counted = ToolArtifact(tool="review_stats", citations=[Citation(kind="sql", ref="SELECT COUNT(*) FROM reviews")])
    read = ToolArtifact(tool="run_sql", citations=[Citation(kind="sql", ref="SELECT body FROM reviews")])
    assert carries_review_text(quoted) and carries_review_text(read) and not carries_review_text(counted)
