"""Review themes on real reviews: how stable they are across two k-means seeds, and time per 10k reviews.

Usage: nice -n 10 python benchmarks/reviews_themes.py [--work /tmp/uba-amazon-reviews]

Data: the 10,261 real Amazon Musical Instruments reviews (../shared/data), indexed as
`uba index reviews` does. For each filtered subset, `vectorstore.themes.review_themes` runs with
seed 0 and seed 1 (default k). Stability: the adjusted Rand index of the two assignments; for each
seed-0 theme, the seed-1 theme sharing most of its reviews, their Jaccard overlap of members, and
whether their three-word labels share a word. Time: the wall-clock of one call with the vectors
already in memory (the first call of a process also reads them from Chroma: "cold"), and per 10k
reviews clustered.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._amazon_index import WORK, open_amazon  # noqa: E402
from benchmarks.reviews_retrieval import table  # noqa: E402


def agreement(a, b) -> tuple[float, float]:
    """Mean Jaccard overlap of each theme of ``a`` with its best match in ``b``, and the share whose labels share a word."""
    by_id = dict(zip(b.review_ids, b.assignment))
    other = np.array([by_id[i] for i in a.review_ids])
    mine = np.array(a.assignment)
    overlaps, shared = [], []
    for t, theme in enumerate(a.themes):
        members = mine == t
        match = int(np.bincount(other[members], minlength=len(b.themes)).argmax())
        theirs = other == match
        overlaps.append((members & theirs).sum() / (members | theirs).sum())
        shared.append(bool(set(theme.label.split(" · ")) & set(b.themes[match].label.split(" · "))))
    return float(np.mean(overlaps)), float(np.mean(shared))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()

    from sklearn.metrics import adjusted_rand_score

    from vectorstore import ReviewFilter
    from vectorstore.themes import review_themes

    _, index, _ = open_amazon(args.work, progress=False)
    started = time.perf_counter()
    review_themes(index, ReviewFilter(max_rating=2))
    cold = time.perf_counter() - started
    subsets = [
        ("1-2 stars (complaints)", ReviewFilter(max_rating=2)),
        ("3 stars", ReviewFilter(min_rating=3, max_rating=3)),
        ("4-5 stars (praise)", ReviewFilter(min_rating=4)),
        ("all reviews", ReviewFilter()),
    ]
    rows, shown = [], []
    for name, flt in subsets:
        runs, seconds = [], []
        for seed in (0, 1):
            started = time.perf_counter()
            runs.append(review_themes(index, flt, seed=seed))
            seconds.append(time.perf_counter() - started)
        a, b = runs
        by_id = dict(zip(b.review_ids, b.assignment))
        ari = adjusted_rand_score(a.assignment, [by_id[i] for i in a.review_ids])
        jaccard, labels = agreement(a, b)
        per_10k = np.mean(seconds) / a.clustered * 10_000
        rows.append(
            [
                name,
                a.clustered,
                a.k,
                f"{ari:.3f}",
                f"{jaccard:.3f}",
                f"{labels:.2f}",
                f"{np.mean(seconds):.2f}",
                f"{per_10k:.2f}",
            ]
        )
        shown.append((name, a))
    table(
        "theme stability, seed 0 vs seed 1 (default k)",
        ["subset", "reviews", "k", "ARI", "member Jaccard", "labels sharing a word", "s / call", "s / 10k reviews"],
        rows,
    )
    print(f"\nfirst call of the process (reads every vector from Chroma): {cold:.2f} s")
    for name, report in shown[:1]:
        table(
            f"themes of {name}, seed 0",
            ["theme", "reviews", "share", "avg rating", "quoted"],
            [
                [t.label, t.count, f"{t.share:.0%}", t.average_rating, " ".join(q.review_id for q in t.quotes)]
                for t in report.themes
            ],
        )


if __name__ == "__main__":
    main()
