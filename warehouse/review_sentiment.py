"""The sentiment of each review, derived by the review indexer (``vectorstore.sentiment``) after each run.

Kept beside the canonical tables, not among them: it is recomputed from the review texts, so a
loader never writes it, and a warehouse without it simply has no sentiment yet.
"""

from __future__ import annotations

from sqlalchemy import Column, Double, MetaData, String, Table

SENTIMENT_TABLE = "review_sentiment"
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

sentiment_metadata = MetaData()

review_sentiment = Table(
    SENTIMENT_TABLE,
    sentiment_metadata,
    Column("review_id", String, primary_key=True),
    Column("sentiment", String, nullable=False, comment="negative, neutral or positive"),
    Column("score", Double, comment="from -1 (negative) to 1 (positive)"),
    Column("model", String, comment="the model that scored it, with its version"),
    Column("text_hash", String, comment="hash of the indexed text it was scored on"),
)
