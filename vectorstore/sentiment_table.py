"""The warehouse's ``review_sentiment`` table kept in step with the review index after each index run."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from sqlalchemy import delete, select

from vectorstore.sentiment import MIN_TRAINING, EmbeddingSentiment, VaderSentiment, star_sentiment
from vectorstore.store import ReviewIndex
from warehouse.review_sentiment import SENTIMENT_TABLE, review_sentiment, sentiment_metadata

logger = logging.getLogger(__name__)

_PAGE = 1000


@dataclass
class SentimentReport:
    """What one scoring pass did."""

    model: str = ""
    scored: int = 0
    deleted: int = 0
    unchanged: int = 0
    trained: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """Plain dict for JSON output."""
        return asdict(self)


def choose_model(index: ReviewIndex, model_path: Path | None, *, retrain: bool = False):
    """The saved classifier for this index's embedder; else one trained now on its rated reviews
    (and saved at ``model_path``); else, with too few rated reviews, VADER. Returns (model, trained)."""
    fingerprint = index.built_by() or ""
    saved = None if retrain or model_path is None else EmbeddingSentiment.load(model_path)
    if saved is not None and saved.embedder == fingerprint:
        return saved, False
    matrix = index.matrix()
    keyword = index.keyword
    rows, labels = [], []
    for review_id, meta, _ in index.stored():
        label = star_sentiment(meta.get("rating"))
        row = keyword.row_of.get(review_id)
        if label is not None and row is not None and matrix.present[row]:
            rows.append(row)
            labels.append(label)
    if len(rows) >= MIN_TRAINING:
        try:
            model = EmbeddingSentiment.fit(matrix.vectors[rows], labels, embedder=fingerprint)
        except ValueError as exc:
            logger.info("sentiment classifier not trained (%s); scoring with VADER", exc)
        else:
            if model_path is not None:
                model.save(model_path)
            logger.info("trained the sentiment classifier on %s rated reviews", len(rows))
            return model, True
    else:
        logger.info("%s rated reviews are too few to train the sentiment classifier; scoring with VADER", len(rows))
    return VaderSentiment(), False


def score_reviews(
    warehouse, index: ReviewIndex, model_path: Path | None = None, *, retrain: bool = False, model=None
) -> SentimentReport:
    """Score every indexed review whose text (or the model) changed since it was last scored; drop the rest."""
    started = time.perf_counter()
    report = SentimentReport()
    sentiment_metadata.create_all(warehouse.engine, checkfirst=True)
    stored = {review_id: meta.get("text_hash", "") for review_id, meta, _ in index.stored()}
    if model is None:
        model, report.trained = choose_model(index, model_path, retrain=retrain)
    report.model = model.name
    with warehouse.engine.connect() as conn:
        existing = {
            r: (h, m)
            for r, h, m in conn.execute(
                select(review_sentiment.c.review_id, review_sentiment.c.text_hash, review_sentiment.c.model)
            )
        }
    todo = [r for r, h in stored.items() if existing.get(r) != (h, model.name)]
    gone = [r for r in existing if r not in stored]
    report.unchanged = len(stored) - len(todo)
    rows = []
    for start in range(0, len(todo), _PAGE):
        ids = todo[start : start + _PAGE]
        page = index.collection.get(ids=ids, include=["embeddings", "documents"])
        scored = model.score(list(page["documents"]), np.asarray(page["embeddings"], np.float32))
        rows += [
            {
                "review_id": r,
                "sentiment": label,
                "score": round(float(s), 4),
                "model": model.name,
                "text_hash": stored[r],
            }
            for r, label, s in zip(page["ids"], scored.labels, scored.scores)
        ]
    with warehouse.engine.begin() as conn:
        stale = gone + todo
        for start in range(0, len(stale), _PAGE):
            conn.execute(delete(review_sentiment).where(review_sentiment.c.review_id.in_(stale[start : start + _PAGE])))
        if rows:
            warehouse.bulk_insert(conn, SENTIMENT_TABLE, pa.Table.from_pylist(rows))
    report.scored, report.deleted = len(rows), len(gone)
    report.seconds = round(time.perf_counter() - started, 3)
    logger.info("scored review sentiment: %s", report.to_dict())
    return report
