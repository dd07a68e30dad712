"""The index records which embedder built it: a different one is refused at search time and re-embeds on indexing."""

from __future__ import annotations

import json

import pytest

from tests.vectorstore.test_index import _open
from vectorstore import Embedder, EmbedderMismatch, EmbeddingModelError, index_reviews, search_reviews


@pytest.fixture(scope="module")
def short_embedder():
    """The same model truncating texts to 16 tokens: different vectors for longer reviews."""
    return Embedder(max_tokens=16)


def test_fingerprint_names_what_decides_the_vectors(embedder, short_embedder):
    full, short = json.loads(embedder.fingerprint()), json.loads(short_embedder.fingerprint())
    assert full == {"model": "all-MiniLM-L6-v2", "max_tokens": 256, "quantize": "none", "dimension": 384}
    assert short["max_tokens"] == 16 and short != full


def test_searching_with_another_embedder_is_refused_until_reindexed(
    review_warehouse, embedder, short_embedder, tmp_path
):
    index_reviews(review_warehouse, _open(tmp_path, embedder))
    other = _open(tmp_path, short_embedder)
    assert other.built_by() == embedder.fingerprint()
    with pytest.raises(EmbedderMismatch, match="max_tokens.*uba index reviews"):
        search_reviews(other, "the amp hums")
    assert search_reviews(other, "amp hums", mode="keyword")  # BM25 needs no vectors

    before = short_embedder.embedded
    report = index_reviews(review_warehouse, other)
    assert short_embedder.embedded - before == 60 and report.embedded == 60  # every review re-embedded
    assert other.built_by() == short_embedder.fingerprint()
    assert search_reviews(other, "the amp hums", k=3)[0].item_id == "i-amp"
    again = index_reviews(review_warehouse, other)
    assert again.embedded == 0 and again.unchanged == 60
    with pytest.raises(EmbedderMismatch):
        search_reviews(_open(tmp_path, embedder), "the amp hums")


def test_an_interrupted_reembedding_stays_marked_until_it_finishes(
    review_warehouse, embedder, short_embedder, tmp_path, monkeypatch
):
    index_reviews(review_warehouse, _open(tmp_path, embedder))
    other = _open(tmp_path, short_embedder)
    calls = {"n": 0}
    real_embed = short_embedder.embed

    def failing(texts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_embed(texts)

    monkeypatch.setattr(short_embedder, "embed", failing)
    with pytest.raises(KeyboardInterrupt):
        index_reviews(review_warehouse, other, batch_size=16)
    assert other.built_by().startswith("unfinished")
    for index in (other, _open(tmp_path, embedder)):
        with pytest.raises(EmbedderMismatch):
            search_reviews(index, "the amp hums")
    monkeypatch.undo()
    report = index_reviews(review_warehouse, other)
    assert report.embedded == 60 and other.built_by() == short_embedder.fingerprint()


def test_int8_quantization_keeps_vectors_close(embedder):
    texts = ["the amp hums loudly at high volume", "strings last for months without rust"]
    quantized = Embedder(quantize="int8", device="cpu")
    assert json.loads(quantized.fingerprint())["quantize"] == "int8"
    cosines = (quantized.embed(texts) * embedder.embed(texts)).sum(axis=1)
    assert cosines.min() > 0.9


def test_unknown_quantization_is_named_with_the_fix():
    with pytest.raises(EmbeddingModelError, match="'int4'.*'none' or 'int8'"):
        Embedder(quantize="int4")
