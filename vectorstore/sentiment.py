"""Sentiment of review texts: a classifier over the stored review embeddings, or the VADER lexicon.

The classifier is a multinomial logistic regression on the all-MiniLM-L6-v2 vectors the index
already holds, trained on the warehouse's own rated reviews (1-2 stars negative, 3 neutral, 4-5
positive) and saved in the data dir; scoring a review then costs one small matrix product.
benchmarks/reviews_sentiment.py measured it against VADER on held-out real reviews (docs/reviews.md).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from warehouse.review_sentiment import SENTIMENTS

logger = logging.getLogger(__name__)

MIN_TRAINING = 200
"""Fewest rated reviews to train the classifier on; below it, or lacking a class, VADER scores."""

MIN_PER_CLASS = 10
C = 100.0
"""Inverse regularization strength: unit-length vectors need little; 100 with unweighted classes had the best
macro-F1 on a validation split of the real reviews' training part (benchmarks/reviews_sentiment.py --grid)."""
VADER_THRESHOLD = 0.05
"""VADER's own convention: compound >= 0.05 positive, <= -0.05 negative, neutral in between."""


def star_sentiment(rating) -> str | None:
    """The sentiment a star rating stands for: 1-2 negative, 3 neutral, 4-5 positive."""
    if rating is None:
        return None
    rating = int(rating)
    return "negative" if rating <= 2 else "neutral" if rating == 3 else "positive"


@dataclass
class Scored:
    """Labels and scores (-1 negative .. 1 positive), one per review."""

    labels: list[str]
    scores: np.ndarray


class VaderSentiment:
    """The VADER lexicon and rules (vaderSentiment from PyPI): needs the text only."""

    name = "vader-3.3.2"

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, texts: list[str], vectors: np.ndarray | None = None) -> Scored:
        """VADER's compound score per text and its three-way label."""
        compound = np.array([self._analyzer.polarity_scores(t or "")["compound"] for t in texts], np.float64)
        labels = [
            "positive" if c >= VADER_THRESHOLD else "negative" if c <= -VADER_THRESHOLD else "neutral" for c in compound
        ]
        return Scored(labels, compound)


class EmbeddingSentiment:
    """Logistic regression over review embeddings; the weights are a few kilobytes of numbers."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, embedder: str, trained_on: int) -> None:
        self.coef = np.asarray(coef, np.float64)
        self.intercept = np.asarray(intercept, np.float64)
        self.embedder = embedder
        self.trained_on = trained_on

    @property
    def name(self) -> str:
        """The model and what it was trained on."""
        return f"minilm-logreg-{self.trained_on}"

    @classmethod
    def fit(
        cls, vectors: np.ndarray, labels: list[str], *, embedder: str = "", balanced: bool = False, c: float = C
    ) -> EmbeddingSentiment:
        """Trained on ``vectors`` labelled ``labels`` (each one of SENTIMENTS)."""
        from sklearn.linear_model import LogisticRegression

        y = np.array([SENTIMENTS.index(label) for label in labels])
        missing = [SENTIMENTS[k] for k in range(3) if (y == k).sum() < MIN_PER_CLASS]
        if missing:
            raise ValueError(f"too few {', '.join(missing)} reviews to train on (need {MIN_PER_CLASS} each)")
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None)
        model.fit(np.asarray(vectors, np.float64), y)
        return cls(model.coef_, model.intercept_, embedder, len(y))

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """P(negative, neutral, positive) per row."""
        logits = np.asarray(vectors, np.float64) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def score(self, texts: list[str] | None, vectors: np.ndarray) -> Scored:
        """The likeliest label per vector and P(positive) - P(negative) as the score."""
        p = self.probabilities(vectors)
        return Scored([SENTIMENTS[k] for k in p.argmax(axis=1)], p[:, 2] - p[:, 0])

    def save(self, path: Path) -> None:
        """Write the weights and what they belong to (atomically: a temporary file renamed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                coef=self.coef,
                intercept=self.intercept,
                meta=np.array(json.dumps({"embedder": self.embedder, "trained_on": self.trained_on})),
            )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> EmbeddingSentiment | None:
        """The saved model, or None when there is none."""
        if not path.exists():
            return None
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            return cls(data["coef"], data["intercept"], meta["embedder"], int(meta["trained_on"]))
