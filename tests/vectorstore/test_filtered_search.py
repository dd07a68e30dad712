"""Filtered vector search: every strategy (exact by id, over-fetch, in memory) gives the exact filtered neighbours."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import text

import vectorstore.search as search_module
from tests.vectorstore.conftest import load_reviews, review_rows
from tests.vectorstore.test_index import FILTERS, _open, _sql_ids
from vectorstore import index_reviews, search_reviews
from vectorstore.search import ReviewFilter

QUERIES = ["the amp hums", "strings rust", "battery door broke", "clear vocals"]
REAL_FILTERS = [f for f in FILTERS if f.get("item") != "no-such-item"] + [{"min_rating": 2}]


def _exact_neighbours(index, query_vector, allowed: set[str], k: int) -> list[str]:
    page = index.collection.get(ids=sorted(allowed), include=["embeddings"])
    sims = np.asarray(page["embeddings"], np.float32) @ query_vector
    order = np.argsort(-sims, kind="stable")
    return [page["ids"][i] for i in order[:k]]


def _chroma_where(index, query_vector, f: dict, k: int) -> list[str]:
    result = index.collection.query(
        query_embeddings=[query_vector], n_results=k, where=ReviewFilter(**f).where(), include=[]
    )
    return result["ids"][0]


class _Paths:
    """Which vector strategies a search used, seen from the outside (Chroma calls and the matrix load)."""

    def __init__(self, index, monkeypatch) -> None:
        self.used: set[str] = set()
        collection_type = type(index.collection)
        real_query, real_get, real_matrix = collection_type.query, collection_type.get, type(index).matrix

        def query(coll, **kw):
            self.used.add("chroma where" if kw.get("where") is not None else "over-fetch")
            return real_query(coll, **kw)

        def get(coll, *args, **kw):
            if "embeddings" in (kw.get("include") or []) and kw.get("ids") is not None:
                self.used.add("exact by id")
            return real_get(coll, *args, **kw)

        def matrix(ix):
            self.used.add("in memory")
            return real_matrix(ix)

        # On the classes: the index reopens its collection on every search.
        monkeypatch.setattr(collection_type, "query", query)
        monkeypatch.setattr(collection_type, "get", get)
        monkeypatch.setattr(type(index), "matrix", matrix)


STRATEGIES = {
    "exact by id": {},
    "over-fetch": {"EXACT_FETCH": 0},
    "over-fetch short, then in memory": {"EXACT_FETCH": 0, "OVERFETCH": 0.05},
    "in memory": {"EXACT_FETCH": 0, "MAX_OVERFETCH": 0},
}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_filtered_vector_hits_are_the_exact_nearest_rows_sql_selects(
    review_warehouse, embedder, tmp_path, monkeypatch, strategy
):
    for name, value in STRATEGIES[strategy].items():
        monkeypatch.setattr(search_module, name, value)
    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    paths = _Paths(index, monkeypatch)
    for f in REAL_FILTERS:
        allowed = _sql_ids(review_warehouse, f)
        for q in QUERIES:
            hits = search_reviews(index, q, k=5, candidates=5, mode="vector", **f)
            expected = _exact_neighbours(index, embedder.embed_query(q), allowed, 5)
            assert [h.review_id for h in hits] == expected, (f, q)
            assert {h.review_id for h in hits} <= allowed
    assert "chroma where" not in paths.used
    wanted = {"over-fetch short, then in memory": {"over-fetch", "in memory"}}.get(strategy, {strategy})
    assert wanted <= paths.used, paths.used


def test_the_in_memory_ranking_returns_what_chromas_where_returns(review_warehouse, embedder, tmp_path, monkeypatch):
    monkeypatch.setattr(search_module, "EXACT_FETCH", 0)
    monkeypatch.setattr(search_module, "MAX_OVERFETCH", 0)
    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    for f in REAL_FILTERS:
        for q in QUERIES:
            vector = embedder.embed_query(q)
            hits = search_reviews(index, q, k=8, candidates=8, mode="vector", query_vector=vector, **f)
            assert [h.review_id for h in hits] == _chroma_where(index, vector, f, 8), (f, q)


def test_the_in_memory_vectors_follow_an_index_run_through_another_handle(
    review_warehouse, embedder, tmp_path, monkeypatch
):
    monkeypatch.setattr(search_module, "EXACT_FETCH", 0)
    monkeypatch.setattr(search_module, "MAX_OVERFETCH", 0)
    reader = _open(tmp_path, embedder)
    index_reviews(review_warehouse, _open(tmp_path, embedder))
    query, f = "a theremin that whistles", {"item": "i-str"}
    before = search_reviews(reader, query, k=3, mode="vector", **f)
    assert reader._matrix is not None  # the in-memory path ran
    target = max(_sql_ids(review_warehouse, f) - {h.review_id for h in before})
    # Another handle (as another process would) rewrites one review and adds one.
    with review_warehouse.begin() as conn:
        conn.execute(text("UPDATE reviews SET body = 'a theremin that whistles' WHERE review_id = :id"), {"id": target})
    load_reviews(
        review_warehouse,
        [{**review_rows(1)[0], "review_id": "late", "item_id": "i-str", "body": "theremin whistles"}],
        items=False,
    )
    index_reviews(review_warehouse, _open(tmp_path, embedder))
    after = search_reviews(reader, query, k=3, mode="vector", **f)
    assert {h.review_id for h in after[:2]} == {target, "late"}
    vector = embedder.embed_query(query)
    assert [h.review_id for h in after] == _chroma_where(reader, vector, f, 3)


def test_a_filter_no_row_passes_returns_nothing_without_asking_chroma(
    review_warehouse, embedder, tmp_path, monkeypatch
):
    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    monkeypatch.setattr(type(index.collection), "query", lambda self, **kw: pytest.fail("Chroma was asked"))
    assert search_reviews(index, "amp", mode="vector", since=date(2030, 1, 1)) == []
