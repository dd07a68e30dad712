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
    assert [h.review_id for h in search_reviews(other, "SM57 on snare", k=5, min_rating=2)] == [h.review_id for h in hits]
    assert len(other.keyword) == 60

    before = embedder.embedded
    assert index_reviews(review_warehouse, other).unchanged == 60 and embedder.embedded == before


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(StoreUnavailable, match="UBA_CHROMA_URL"):
        ReviewIndex.open(tmp_path, chroma_url="http://127.0.0.1:9")
    with pytest.raises(StoreUnavailable, match="not an http"):
        ReviewIndex.open(tmp_path, chroma_url="chroma.local:8000")
