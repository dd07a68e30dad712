"""Incremental, idempotent indexing of the warehouse's reviews into the review index."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select

from vectorstore.keyword import KeywordIndex
from vectorstore.normalization import DEFAULT_MAX_CHARS, review_document, text_hash
from vectorstore.store import ReviewIndex, row_digest
from warehouse.redaction import Redactor

logger = logging.getLogger(__name__)

_KEYWORD_SAVE_EVERY_S = 20.0
_CHROMA_PAGE = 1000


@dataclass
class IndexReport:
    """What one index run did."""

    reviews: int = 0
    added: int = 0
    updated: int = 0
    metadata_only: int = 0
    deleted: int = 0
    unchanged: int = 0
    embedded: int = 0
    seconds: float = 0.0
    location: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain dict for JSON output."""
        return {k: v for k, v in self.__dict__.items() if k != "extra"} | self.extra


def date_key(value: date | datetime | str | int | None) -> int | None:
    """A date as the integer ``yyyymmdd`` stored in metadata (range filters compare integers)."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value.year * 10000 + value.month * 100 + value.day


def _metadata(row, document: str) -> dict:
    ts = row.ts
    meta = {
        "item": row.item_id,
        "category": row.category,
        "user": row.user_id,
        "rating": int(row.rating) if row.rating is not None else None,
        "date": date_key(ts),
        "ts": int((ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()) if ts else None,
        "text_hash": text_hash(document),
    }
    # Chroma metadata cannot hold NULL; a missing key fails range filters just as NULL fails SQL's.
    return {k: v for k, v in meta.items() if v is not None}


def _review_rows(warehouse):
    from warehouse.schema import items, reviews

    query = (
        select(
            reviews.c.review_id,
            reviews.c.user_id,
            reviews.c.item_id,
            reviews.c.ts,
            reviews.c.rating,
            reviews.c.title,
            reviews.c.body,
            items.c.category,
        )
        .select_from(reviews.outerjoin(items, items.c.item_id == reviews.c.item_id))
        .order_by(reviews.c.review_id)
    )
    with warehouse.engine.connect() as conn:
        yield from conn.execution_options(yield_per=5000).execute(query)


def index_reviews(
    warehouse,
    index: ReviewIndex,
    *,
    batch_size: int = 256,
    max_chars: int = DEFAULT_MAX_CHARS,
    progress: bool = False,
    redactor: Redactor | None = None,
) -> IndexReport:
    """Bring the index in line with the ``reviews`` table: embed new and changed texts, drop deleted ids.

    What is indexed (and so quoted) has personal identifiers replaced (``redactor``, default
    ``Redactor()``), whether or not the warehouse kept them at ingest.
    """
    redactor = redactor or Redactor()
    started = time.perf_counter()
    report = IndexReport(location=index.location)
    stored = {review_id: meta for review_id, meta, _ in index.stored()}
    fingerprint = index.embedder.fingerprint()
    mixed = bool(stored) and index.built_by() != fingerprint
    if mixed:
        # Vectors from another model or configuration are not comparable with the new ones: re-embed all.
        logger.warning(
            "review index was built with embedder %s; re-embedding every review with %s", index.built_by(), fingerprint
        )
        report.extra["reembedded_for"] = fingerprint
        stored = {review_id: {**meta, "text_hash": ""} for review_id, meta in stored.items()}
    keyword = KeywordIndex.load(index.keyword_path)
    keyword_digests = keyword.hashes()
    # While a re-embedding run is unfinished the store holds vectors of two embedders: say so until it ends.
    generation = index.new_generation(f"unfinished re-embedding with {fingerprint}" if mixed else fingerprint)
    keyword.generation = generation

    to_embed: list[tuple[str, str, dict]] = []
    meta_updates: list[tuple[str, dict]] = []
    keyword_updates: list[tuple[str, str, dict]] = []
    seen: set[str] = set()
    for row in _review_rows(warehouse):
        review_id = str(row.review_id)
        seen.add(review_id)
        document = review_document(redactor.redact_text(row.title), redactor.redact_text(row.body), max_chars)
        meta = _metadata(row, document)
        old = stored.get(review_id)
        if old is None or old.get("text_hash") != meta["text_hash"]:
            to_embed.append((review_id, document, meta))
            report.added += old is None
            report.updated += old is not None
            continue
        if old != meta:
            meta_updates.append((review_id, meta))
            report.metadata_only += 1
        else:
            report.unchanged += 1
        if keyword_digests.get(review_id) != row_digest(meta):
            keyword_updates.append((review_id, document, meta))
    report.reviews = len(seen)

    gone = [i for i in stored if i not in seen]
    for start in range(0, len(gone), _CHROMA_PAGE):
        index.collection.delete(ids=gone[start : start + _CHROMA_PAGE])
    report.deleted = len(gone)
    keyword.delete([i for i in keyword_digests if i not in seen])
    for start in range(0, len(meta_updates), _CHROMA_PAGE):
        chunk = meta_updates[start : start + _CHROMA_PAGE]
        index.collection.update(ids=[i for i, _ in chunk], metadatas=[m for _, m in chunk])
    if keyword_updates:
        _keyword_upsert(keyword, keyword_updates)

    try:
        _embed_all(index, keyword, to_embed, batch_size, progress, report)
        if mixed:
            index.record_embedder(fingerprint)
    finally:
        # A second generation marks the end of the run, so a reader that loaded a mid-run state reloads
        # once more. The sidecar is saved under it first: a reader seeing it in Chroma finds the file current.
        keyword.generation = uuid.uuid4().hex
        keyword.save()
        index.bind_keyword(keyword)
        index.new_generation(gen=keyword.generation)
        report.seconds = round(time.perf_counter() - started, 3)
    logger.info("indexed reviews: %s", report.to_dict())
    return report


def _keyword_upsert(keyword: KeywordIndex, rows: list[tuple[str, str, dict]]) -> None:
    keyword.upsert([r[0] for r in rows], [r[1] for r in rows], [row_digest(r[2]) for r in rows], [r[2] for r in rows])


def _embed_all(index, keyword, to_embed, batch_size, progress, report) -> None:
    from tqdm import tqdm

    if not to_embed:
        return
    # Longest first: batches of similar length waste less padding, and memory peaks early.
    to_embed.sort(key=lambda r: len(r[1]), reverse=True)
    embedder = index.embedder
    last_save = time.monotonic()
    with tqdm(total=len(to_embed), desc="embedding reviews", unit="review", disable=not progress) as bar:
        for start in range(0, len(to_embed), batch_size):
            batch = to_embed[start : start + batch_size]
            vectors = embedder.embed([doc for _, doc, _ in batch])
            index.collection.upsert(
                ids=[i for i, _, _ in batch],
                embeddings=vectors,
                documents=[doc for _, doc, _ in batch],
                metadatas=[m for _, _, m in batch],
            )
            report.embedded += len(batch)
            _keyword_upsert(keyword, batch)
            if time.monotonic() - last_save > _KEYWORD_SAVE_EVERY_S:
                keyword.save()
                last_save = time.monotonic()
            bar.update(len(batch))
