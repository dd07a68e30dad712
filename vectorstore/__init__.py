"""Reviews in Chroma: offline embeddings, incremental indexing, filtered hybrid search."""

from vectorstore.embedder import Embedder
from vectorstore.errors import BadFilter, EmbedderMismatch, EmbeddingModelError, StoreUnavailable, VectorStoreError
from vectorstore.indexer import IndexReport, index_reviews
from vectorstore.normalization import defang_markup, normalize_text
from vectorstore.review_stats import ReviewStats, item_titles, review_stats
from vectorstore.search import ReviewFilter, ReviewHit, search_reviews
from vectorstore.store import ReviewIndex

__all__ = [
    "BadFilter",
    "Embedder",
    "EmbedderMismatch",
    "EmbeddingModelError",
    "IndexReport",
    "ReviewFilter",
    "ReviewHit",
    "ReviewIndex",
    "ReviewStats",
    "StoreUnavailable",
    "VectorStoreError",
    "defang_markup",
    "index_reviews",
    "item_titles",
    "normalize_text",
    "review_stats",
    "search_reviews",
]
