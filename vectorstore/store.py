"""The review index: a Chroma collection (directory or server) plus its BM25 sidecar."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

from vectorstore.embedder import Embedder
from vectorstore.errors import EmbedderMismatch, StoreUnavailable
from vectorstore.keyword import KeywordIndex
from vectorstore.matrix import VectorMatrix

logger = logging.getLogger(__name__)

_PAGE = 5000
_GENERATION_KEY = "uba_generation"
_EMBEDDER_KEY = "uba_embedder"


def row_digest(meta: dict) -> str:
    """Hash of a review's metadata (which includes its text hash): the keyword index's change marker."""
    payload = json.dumps(meta, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


class ReviewIndex:
    """Reviews embedded in Chroma (vectors, documents, metadata) and mirrored in a BM25 index."""

    def __init__(
        self,
        client,
        keyword_path: Path,
        *,
        collection: str = "reviews",
        embedder: Embedder | Callable[[], Embedder] | None = None,
        location: str = "",
    ) -> None:
        self.client = client
        self.collection_name = collection
        self.keyword_path = keyword_path
        self.location = location
        self._embedder = embedder
        self._collection = None
        self._keyword: KeywordIndex | None = None
        self._matrix: VectorMatrix | None = None
        self._checked = time.monotonic()

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        chroma_url: str | None = None,
        collection: str = "reviews",
        embedder: Embedder | Callable[[], Embedder] | None = None,
    ) -> ReviewIndex:
        """A Chroma directory under ``directory``, or the Chroma server at ``chroma_url`` (same API)."""
        import chromadb

        directory = Path(directory)
        try:
            if chroma_url:
                url = urlparse(chroma_url)
                if url.scheme not in ("http", "https") or not url.hostname:
                    raise StoreUnavailable(
                        f"Chroma URL {chroma_url!r} is not an http(s) URL; use e.g. 'http://127.0.0.1:8000'"
                    )
                port = url.port or (443 if url.scheme == "https" else 8000)
                client = chromadb.HttpClient(
                    host=url.hostname, port=port, ssl=url.scheme == "https", settings=_chroma_settings()
                )
                client.heartbeat()
                tag = re.sub(r"[^A-Za-z0-9]+", "-", f"{url.hostname}-{port}")
                keyword_path = directory / f"keyword-{collection}@{tag}.npz"
                location = f"{url.scheme}://{url.hostname}:{port}"
            else:
                directory.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(directory / "chroma"), settings=_chroma_settings())
                keyword_path = directory / f"keyword-{collection}.npz"
                location = str(directory / "chroma")
        except StoreUnavailable:
            raise
        except Exception as exc:  # chromadb raises assorted connection/IO errors
            where = chroma_url or str(directory)
            raise StoreUnavailable(
                f"cannot open the review index at {where!r}: {exc}; check UBA_CHROMA_URL "
                "(is `chroma run` up?) or UBA_DATA_DIR"
            ) from exc
        return cls(client, keyword_path, collection=collection, embedder=embedder, location=location)

    @property
    def embedder(self) -> Embedder:
        """The embedding model wrapper (built on first use)."""
        if self._embedder is None:
            self._embedder = Embedder()
        elif not isinstance(self._embedder, Embedder):
            self._embedder = self._embedder()
        return self._embedder

    @property
    def collection(self):
        """The Chroma collection; created empty (cosine space, no embedding function) when missing."""
        if self._collection is None:
            # embedding_function=None: vectors are always passed in, so Chroma never downloads its default model.
            self._collection = self.client.get_or_create_collection(
                self.collection_name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        return self._collection

    def count(self) -> int:
        """Reviews in the vector store."""
        return self.collection.count()

    def generation(self) -> str:
        """The id of the last index run that touched this collection."""
        return str((self.collection.metadata or {}).get(_GENERATION_KEY, ""))

    def new_generation(self, embedder_fingerprint: str | None = None, *, gen: str | None = None) -> str:
        """Mark the collection as changed by an index run (and, when given, built by this embedder)."""
        gen = gen or uuid.uuid4().hex
        metadata = self._own_metadata()
        metadata[_GENERATION_KEY] = gen
        if embedder_fingerprint is not None:
            metadata[_EMBEDDER_KEY] = embedder_fingerprint
        self.collection.modify(metadata=metadata)
        return gen

    def _own_metadata(self) -> dict:
        """The collection's ``uba_`` metadata (what ``modify`` must carry over)."""
        return {k: v for k, v in (self.collection.metadata or {}).items() if k.startswith("uba_")}

    def record_embedder(self, fingerprint: str) -> None:
        """Note that every stored vector now comes from the embedder with this fingerprint."""
        metadata = self._own_metadata()
        self.collection.modify(metadata={**metadata, _EMBEDDER_KEY: fingerprint})

    def built_by(self) -> str | None:
        """The fingerprint of the embedder that built the stored vectors (None for a store from before it was recorded)."""
        return (self.collection.metadata or {}).get(_EMBEDDER_KEY)

    def check_embedder(self) -> None:
        """Raise EmbedderMismatch when the configured embedder differs from the one that built the index."""
        stored = self.built_by()
        if stored is None:
            return
        current = self.embedder.fingerprint()
        if stored != current:
            raise EmbedderMismatch(
                f"the review index at {self.location!r} was built with embedder {stored}, but the configured "
                f"one is {current}; run `uba index reviews` to re-embed every review with the configured one, "
                "or set UBA_EMBEDDING_MODEL / UBA_EMBEDDING_MAX_TOKENS / UBA_EMBEDDING_QUANTIZE back"
            )

    def stored(self, include_documents: bool = False) -> Iterator[tuple[str, dict, str | None]]:
        """Every (id, metadata, document) in the vector store, paged."""
        include = ["metadatas", "documents"] if include_documents else ["metadatas"]
        offset = 0
        while True:
            page = self.collection.get(include=include, limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            docs = page.get("documents") or [None] * len(ids)
            yield from zip(ids, page["metadatas"], docs)
            offset += len(ids)

    @property
    def keyword(self) -> KeywordIndex:
        """The BM25 sidecar, rebuilt from the vector store when it lags behind (or is missing)."""
        if self._keyword is None:
            keyword = KeywordIndex.load(self.keyword_path)
            gen = self.generation()
            if keyword.generation != gen or len(keyword) != self.count():
                logger.info("keyword index at %s is stale; rebuilding from the vector store", self.keyword_path)
                keyword = self._rebuild_keyword(gen)
            self._keyword = keyword
        return self._keyword

    def _rebuild_keyword(self, gen: str) -> KeywordIndex:
        keyword = KeywordIndex(self.keyword_path)
        ids, docs, hashes, metas = [], [], [], []
        for review_id, meta, doc in self.stored(include_documents=True):
            ids.append(review_id)
            docs.append(doc or "")
            hashes.append(row_digest(meta))
            metas.append(meta)
        keyword.upsert(ids, docs, hashes, metas)
        keyword.generation = gen
        keyword.save()
        return keyword

    def refresh_if_stale(self, max_age_s: float = 0.0) -> None:
        """Pick up an index run made by another process (checked at most every ``max_age_s``).

        Index runs mark the collection with a new generation when they start and when they end, so
        one metadata read (well under a millisecond on a Chroma directory) tells whether the keyword
        index and the in-memory vectors still mirror the store.
        """
        if time.monotonic() - self._checked < max_age_s:
            return
        self._checked = time.monotonic()
        if self._keyword is None:
            return
        self._collection = None
        if self.generation() != self._keyword.generation:
            logger.info("review index changed since it was opened; reloading the keyword index")
            self._keyword = None
            self._matrix = None

    def reload(self) -> None:
        """Forget cached state so the next call sees what another process wrote."""
        self._collection = None
        self._keyword = None
        self._matrix = None

    def bind_keyword(self, keyword: KeywordIndex) -> None:
        """Use ``keyword`` as the sidecar (the indexer keeps it in step with the vector store)."""
        self._keyword = keyword
        self._matrix = None

    def matrix(self) -> VectorMatrix:
        """Every stored vector in memory, row-aligned with the keyword index (reloaded when either changes)."""
        keyword = self.keyword
        if self._matrix is None or not self._matrix.current(keyword):
            self._matrix = None  # let the old copy go before the new one is read
            self._matrix = VectorMatrix.load(self.collection, keyword)
        return self._matrix
