"""The same index code against a real Chroma server (`chroma run` on loopback)."""

from __future__ import annotations

import pytest

from vectorstore import ReviewIndex, StoreUnavailable, index_reviews, search_reviews


def test_round_trip_on_a_chroma_server(chroma_server, review_warehouse, embedder, tmp_path):
    index = ReviewIndex.open(tmp_path / "a", chroma_url=chroma_server, collection="reviews_rt", embedder=embedder)
    assert index.location == chroma_server
    report = index_reviews(review_warehouse, index)
    assert report.embedded == 60 and index.count() == 60
    hits = search_reviews(index, "SM57 on snare", k=5, min_rating=2)
    assert hits[0].item_id == "i-mic" and all(h.rating >= 2 for h in hits)

    # Another replica with no local keyword sidecar rebuilds it from the server and ranks identically.
    other = ReviewIndex.open(tmp_path / "b", chroma_url=chroma_server, collection="reviews_rt", embedder=embedder)
    assert [h.review_id for h in search_reviews(other, "SM57 on snare", k=5, min_rating=2)] == [
        h.review_id for h in hits
    ]
    assert len(other.keyword) == 60

    before = embedder.embedded
    assert index_reviews(review_warehouse, other).unchanged == 60 and embedder.embedded == before


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(StoreUnavailable, match="UBA_CHROMA_URL"):
        ReviewIndex.open(tmp_path, chroma_url="http://127.0.0.1:9")
    with pytest.raises(StoreUnavailable, match="not an http"):
        ReviewIndex.open(tmp_path, chroma_url="chroma.local:8000")


def test_filtered_search_in_memory_matches_the_servers_where(
    chroma_server, review_warehouse, embedder, tmp_path, monkeypatch
):
    import vectorstore.search as search_module
    from vectorstore.search import ReviewFilter

    monkeypatch.setattr(search_module, "EXACT_FETCH", 0)
    monkeypatch.setattr(search_module, "MAX_OVERFETCH", 0)  # every filtered search ranks the in-memory copy
    index = ReviewIndex.open(tmp_path, chroma_url=chroma_server, collection="reviews_mem", embedder=embedder)
    index_reviews(review_warehouse, index)
    for flt in ({"item": "i-amp"}, {"min_rating": 2, "max_rating": 3}, {"category": "Strings", "since": "2024-03-01"}):
        vector = embedder.embed_query("it hums and rattles")
        hits = search_reviews(
            index, "it hums and rattles", k=6, candidates=6, mode="vector", query_vector=vector, **flt
        )
        chroma = index.collection.query(
            query_embeddings=[vector], n_results=6, where=ReviewFilter(**flt).where(), include=[]
        )
        assert [h.review_id for h in hits] == chroma["ids"][0], flt
    assert index._matrix is not None and int(index._matrix.present.sum()) == 60
