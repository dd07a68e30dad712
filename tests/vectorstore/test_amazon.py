"""Real reviews: the Amazon Musical Instruments 5-core file, loaded by the loader, indexed and searched.

The default suite indexes a fixed 300-review sample (embedding all 10,261 is the benchmark's job:
benchmarks/reviews_retrieval.py).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import text

from tests.conftest import shared_data
from vectorstore import ReviewIndex, index_reviews, search_reviews
from vectorstore.keyword import tokenize

SAMPLE = 300
FILE = "amazon-musical-instruments-5core-2014/reviews_Musical_Instruments_5.json.gz"


@pytest.fixture(scope="module")
def amazon(tmp_path_factory, embedder):
    from warehouse import Warehouse
    from warehouse.loaders import ingest

    path = shared_data(FILE)
    root = tmp_path_factory.mktemp("amazon")
    wh = Warehouse.open(f"duckdb:///{root / 'warehouse.duckdb'}")
    wh.create_schema()
    ingest(wh, path, "amazon-reviews")
    assert wh.row_counts()["reviews"] == 10_261
    with wh.begin() as conn:
        conn.execute(
            text(
                f"DELETE FROM reviews WHERE review_id NOT IN "
                f"(SELECT review_id FROM reviews ORDER BY md5(review_id) LIMIT {SAMPLE})"
            )
        )
    index = ReviewIndex.open(root / "index", embedder=embedder)
    report = index_reviews(wh, index)
    yield wh, index, report
    wh.dispose()


def test_the_sample_is_indexed_once(amazon):
    wh, index, report = amazon
    assert report.embedded == SAMPLE and index.count() == SAMPLE
    assert index_reviews(wh, index).embedded == 0


def _rank(hits, review_id):
    ids = [h.review_id for h in hits]
    return ids.index(review_id) + 1 if review_id in ids else None


def test_known_item_search_by_the_reviewers_own_summary(amazon):
    wh, index, _ = amazon
    with wh.engine.connect() as conn:
        rows = conn.execute(text("SELECT review_id, title FROM reviews WHERE coalesce(title, '') <> ''")).all()
    vectors = index.embedder.embed([title for _, title in rows])  # one batch instead of one call per query
    ranks = {
        mode: [
            _rank(search_reviews(index, title, k=10, mode=mode, query_vector=v), rid)
            for (rid, title), v in zip(rows, vectors)
        ]
        for mode in ("vector", "keyword", "hybrid")
    }
    recall10 = {m: sum(r is not None for r in rs) / len(rows) for m, rs in ranks.items()}
    mrr = {m: sum(1 / r for r in rs if r) / len(rows) for m, rs in ranks.items()}
    assert recall10["hybrid"] >= 0.9, recall10
    assert mrr["hybrid"] >= mrr["vector"] and recall10["hybrid"] >= recall10["vector"], (mrr, recall10)


def test_rare_exact_terms_find_their_review(amazon):
    wh, index, _ = amazon
    with wh.engine.connect() as conn:
        docs = conn.execute(
            text("SELECT review_id, coalesce(title, '') || ' ' || coalesce(body, '') FROM reviews ORDER BY review_id")
        ).all()
    df = Counter(t for _, d in docs for t in set(tokenize(d)))
    probes = []
    for review_id, doc in docs:
        rare = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9-]{6,}", doc) if all(df[t] == 1 for t in tokenize(w))]
        if rare:
            probes.append((review_id, rare[0]))
        if len(probes) == 25:
            break
    assert len(probes) == 25
    found = sum(_rank(search_reviews(index, term, k=3), review_id) == 1 for review_id, term in probes)
    assert found >= 24, probes


def test_filters_on_real_reviews_match_sql(amazon):
    wh, index, _ = amazon
    with wh.engine.connect() as conn:
        expected = {
            r[0]
            for r in conn.execute(
                text("SELECT review_id FROM reviews WHERE rating <= 2 AND CAST(ts AS DATE) >= DATE '2013-01-01'")
            )
        }
    got = {h.review_id for h in search_reviews(index, "broke after a week", max_rating=2, since="2013-01-01", k=100)}
    assert expected and got == expected
