"""Review sentiment on held-out real reviews: the embedding classifier against VADER and a majority guess.

Usage: nice -n 10 python benchmarks/reviews_sentiment.py [--work /tmp/uba-amazon-reviews] [--test-share 0.2] [--grid]

Data: the 10,261 real Amazon Musical Instruments reviews (../shared/data), ingested and indexed as
`uba data ingest` + `uba index reviews` do (redacted, int8 all-MiniLM-L6-v2, 128 tokens). Label:
the star rating's bucket (1-2 negative, 3 neutral, 4-5 positive). Split: a fixed hash of the review
id puts ~20% of reviews in the test set; classifiers are trained on the rest. The star rating defines
the label, so it cannot be scored against it; instead each model's score is correlated (Spearman)
with the raw 1-5 stars of the test reviews. --grid first prints the validation table (a quarter of the
training part) that chose the classifier's settings; the test set plays no part in that choice.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._amazon_index import WORK, open_amazon  # noqa: E402
from benchmarks.reviews_retrieval import table  # noqa: E402


def held_out(review_id: str, share: float) -> bool:
    """Whether a review is in the test set (a fixed hash of its id)."""
    return int(hashlib.sha256(review_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--test-share", type=float, default=0.2)
    parser.add_argument("--grid", action="store_true", help="print the validation grid of C and class weights")
    args = parser.parse_args()

    from scipy.stats import spearmanr
    from sklearn.metrics import accuracy_score, f1_score

    from vectorstore.sentiment import C, EmbeddingSentiment, VaderSentiment, star_sentiment
    from warehouse.review_sentiment import SENTIMENTS

    _, index, _ = open_amazon(args.work, progress=False)
    matrix, keyword = index.matrix(), index.keyword
    ids, docs, stars = [], [], []
    for review_id, meta, doc in index.stored(include_documents=True):
        ids.append(review_id)
        docs.append(doc or "")
        stars.append(int(meta["rating"]))
    vectors = matrix.vectors[[keyword.row_of[i] for i in ids]]
    labels = np.array([star_sentiment(s) for s in stars])
    test = np.array([held_out(i, args.test_share) for i in ids])
    train = ~test
    stars = np.array(stars)
    counts = {s: int((labels[test] == s).sum()) for s in SENTIMENTS}
    print(f"{len(ids)} reviews, {int(train.sum())} train, {int(test.sum())} test; test labels {counts}")

    if args.grid:
        grid(ids, vectors, labels, np.flatnonzero(train))
    results = []

    def measure(name: str, predicted, scores, seconds: float) -> None:
        predicted = np.asarray(predicted)
        per_class = f1_score(labels[test], predicted, labels=list(SENTIMENTS), average=None, zero_division=0)
        rho = spearmanr(scores, stars[test]).statistic if scores is not None else float("nan")
        results.append(
            [
                name,
                f"{accuracy_score(labels[test], predicted):.3f}",
                f"{f1_score(labels[test], predicted, labels=list(SENTIMENTS), average='macro', zero_division=0):.3f}",
                *(f"{f:.3f}" for f in per_class),
                f"{rho:.3f}",
                f"{1000 * seconds / test.sum():.2f}",
            ]
        )

    majority = max(SENTIMENTS, key=lambda s: (labels[train] == s).sum())
    measure(f"majority class ({majority})", [majority] * int(test.sum()), None, 0.0)
    started = time.perf_counter()
    vader = VaderSentiment().score([d for d, t in zip(docs, test) if t])
    measure("VADER 3.3.2 (compound, +-0.05)", vader.labels, vader.scores, time.perf_counter() - started)
    for balanced, c in ((False, C), (True, 1.0)):
        model = EmbeddingSentiment.fit(vectors[train], list(labels[train]), balanced=balanced, c=c)
        started = time.perf_counter()
        scored = model.score(None, vectors[test])
        name = f"MiniLM + logistic regression ({'balanced' if balanced else 'unweighted'} classes, C={c:g})"
        measure(
            name + (" [default]" if (balanced, c) == (False, C) else ""),
            scored.labels,
            scored.scores,
            time.perf_counter() - started,
        )
    table(
        "sentiment on held-out real reviews (label = star bucket)",
        ["model", "accuracy", "macro-F1", "F1 neg", "F1 neu", "F1 pos", "Spearman vs stars", "ms / review"],
        results,
    )


def grid(ids: list[str], vectors, labels, train_rows) -> None:
    """Macro-F1 and accuracy on a validation quarter of the training part, per C and class weighting."""
    from sklearn.metrics import accuracy_score, f1_score

    from vectorstore.sentiment import EmbeddingSentiment

    val = np.array([held_out(ids[r] + "#validation", 0.25) for r in train_rows])
    fit_rows, val_rows = train_rows[~val], train_rows[val]
    rows = []
    for balanced in (False, True):
        for c in (0.3, 1.0, 3.0, 10.0, 30.0, 100.0):
            model = EmbeddingSentiment.fit(vectors[fit_rows], list(labels[fit_rows]), balanced=balanced, c=c)
            predicted = model.score(None, vectors[val_rows]).labels
            rows.append(
                [
                    "balanced" if balanced else "unweighted",
                    f"{c:g}",
                    f"{accuracy_score(labels[val_rows], predicted):.3f}",
                    f"{f1_score(labels[val_rows], predicted, average='macro'):.3f}",
                ]
            )
    table(
        f"validation grid ({len(fit_rows)} fit, {len(val_rows)} validation reviews)",
        ["classes", "C", "accuracy", "macro-F1"],
        rows,
    )


if __name__ == "__main__":
    main()
