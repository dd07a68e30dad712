"""The real Amazon Musical Instruments reviews in a DuckDB warehouse and a Chroma review index, built once.

Both live in a work directory (default /tmp/uba-amazon-reviews) so a second benchmark run reuses
the embeddings: the indexer only embeds what changed.
"""

from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = (
    ROOT.parent / "shared" / "data" / "amazon-musical-instruments-5core-2014" / "reviews_Musical_Instruments_5.json.gz"
)
WORK = Path("/tmp/uba-amazon-reviews")


def open_amazon(work: Path = WORK, *, progress: bool = True):
    """(warehouse, index, seconds spent ingesting and indexing) for the real reviews under ``work``."""
    from vectorstore import Embedder, ReviewIndex, index_reviews
    from warehouse import Warehouse
    from warehouse.loaders import ingest

    if not DATA.exists():
        raise SystemExit(f"{DATA} is absent; the benchmark reads ../shared/data")
    work.mkdir(parents=True, exist_ok=True)
    warehouse = Warehouse.open(f"duckdb:///{work / 'warehouse.duckdb'}")
    warehouse.create_schema()
    started = time.perf_counter()
    ingest(warehouse, DATA, "amazon-reviews", progress=progress)
    # The settings' defaults: int8 weights, 128 tokens, batch 16, one thread.
    embedder = Embedder(threads=1, batch_size=16, max_tokens=128, quantize="int8")
    index = ReviewIndex.open(work / "reviews", embedder=embedder)
    index_reviews(warehouse, index, progress=progress)
    return warehouse, index, time.perf_counter() - started


if __name__ == "__main__":
    wh, idx, seconds = open_amazon()
    print(f"{idx.count()} reviews indexed in {seconds:.1f} s")
