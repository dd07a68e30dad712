"""Filtered vector search: the over-fetch and Chroma ``where`` strategies give the exact filtered neighbours."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

import vectorstore.search as search_module
from tests.vectorstore.test_index import FILTERS, _open, _sql_ids
from vectorstore import index_reviews, search_reviews

QUERIES = ["the amp hums", "strings rust", "battery door broke", "clear vocals"]


def _exact_neighbours(index, query_vector, allowed: set[str], k: int) -> list[str]:
    page = index.collection.get(ids=sorted(allowed), include=["embeddings"])
    sims = np.asarray(page["embeddings"], np.float32) @ query_vector
    order = np.argsort(-sims, kind="stable")
    return [page["ids"][i] for i in order[:k]]


@pytest.mark.parametrize("strategy", ["over-fetch", "narrow over-fetch falls back", "chroma where"])
def test_filtered_vector_hits_are_the_exact_nearest_rows_sql_selects(review_warehouse, embedder, tmp_path,
                                                                     monkeypatch, strategy):
    if strategy == "narrow over-fetch falls back":
        monkeypatch.setattr(search_module, "OVERFETCH", 0.05)  # fetches too few, so Chroma's where must finish
    elif strategy == "chroma where":
        monkeypatch.setattr(search_module, "MAX_OVERFETCH", 0)
    calls: list[bool] = []

    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    collection_type = type(index.collection)
    real_query = collection_type.query

    def spy(self, **kw):
        calls.append(kw.get("where") is not None)
        return real_query(self, **kw)

    monkeypatch.setattr(collection_type, "query", spy)  # on the class: the index may reopen its collection
    for f in [f for f in FILTERS if f.get("item") != "no-such-item"] + [{"min_rating": 2}]:
        allowed = _sql_ids(review_warehouse, f)
        for q in QUERIES:
            hits = search_reviews(index, q, k=5, candidates=5, mode="vector", **f)
            expected = _exact_neighbours(index, embedder.embed_query(q), allowed, 5)
            assert [h.review_id for h in hits] == expected, (f, q)
            assert {h.review_id for h in hits} <= allowed
    if strategy == "over-fetch":
        assert calls and not any(calls), "a filtered query went to Chroma's where"
    else:
        assert any(calls), "no filtered query reached Chroma's where"


def test_a_filter_no_row_passes_returns_nothing_without_asking_chroma(review_warehouse, embedder, tmp_path, monkeypatch):
    index = _open(tmp_path, embedder)
    index_reviews(review_warehouse, index)
    monkeypatch.setattr(type(index.collection), "query", lambda self, **kw: pytest.fail("Chroma was asked"))
    assert search_reviews(index, "amp", mode="vector", since=date(2030, 1, 1)) == []
