"""Errors of the review index, each naming the bad value and the fix."""

from __future__ import annotations


class VectorStoreError(Exception):
    """Base class of review-index errors."""


class EmbeddingModelError(VectorStoreError):
    """The embedding model cannot be loaded offline."""


class StoreUnavailable(VectorStoreError):
    """The Chroma directory or server cannot be opened."""


class BadFilter(VectorStoreError, ValueError):
    """A search or stats filter value is invalid."""


class EmbedderMismatch(VectorStoreError):
    """The review index was built by a different embedding configuration than the one configured."""
