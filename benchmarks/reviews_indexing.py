"""Review indexing throughput with redaction and sentiment on, against the plain indexer (off).

Usage: nice -n 19 python benchmarks/reviews_indexing.py [--reviews 600] [--rounds 3]

Data: a fixed sample (by hash of the id) of the real Amazon Musical Instruments reviews
(../shared/data), ingested into a DuckDB warehouse as ``uba data ingest`` does. Each round indexes
the sample twice into fresh review indexes, in alternating order: *off* is the indexer with no
redaction and no sentiment step (what indexing cost before either existed); *on* redacts every
title and body (``warehouse.redaction.Redactor``) and then scores sentiment into
``review_sentiment`` (``vectorstore.sentiment_table.score_reviews``) with the classifier trained
by an untimed first run and loaded from its file, as every index run after the first does. Both use the
default embedder (int8 all-MiniLM-L6-v2, 128 tokens, batch 16, one thread), loaded and warmed up
first. Reviews/s wall-clock and reviews per CPU-second of this process (the embedder runs on one thread in
it, so CPU time is the work done, whatever else shares the machine); medians of the rounds and on/off. A second table
times the ingest itself with and without redaction (``UBA_REVIEW_KEEP_PII``), a third the two together.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._amazon_index import DATA  # noqa: E402
from benchmarks.reviews_retrieval import table  # noqa: E402


class NoRedaction:
    """The indexer's redactor slot filled with the identity: the 'off' side."""

    def redact_text(self, text):
        return text


def sampled_warehouse(path: Path, reviews: int, *, keep_pii: bool = False):
    """A DuckDB warehouse of the real reviews cut to ``reviews`` of them; (warehouse, ingest CPU seconds)."""
    from sqlalchemy import text

    from warehouse import Warehouse
    from warehouse.loaders import ingest

    wh = Warehouse.open(f"duckdb:///{path}")
    wh.create_schema()
    started = time.process_time()
    ingest(wh, DATA, "amazon-reviews", keep_review_pii=keep_pii)
    seconds = time.process_time() - started
    with wh.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM reviews WHERE review_id NOT IN "
                f"(SELECT review_id FROM reviews ORDER BY hash(review_id) LIMIT {reviews})"
            )
        )
    return wh, seconds


def index_once(wh, embedder, folder: Path, *, on: bool, model_path: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, reviews embedded) of one index run into a fresh index."""
    from vectorstore import ReviewIndex, index_reviews
    from vectorstore.sentiment_table import score_reviews

    index = ReviewIndex.open(folder, embedder=embedder)
    started, cpu = time.perf_counter(), time.process_time()
    report = index_reviews(wh, index, redactor=None if on else NoRedaction())
    if on:
        score_reviews(wh, index, model_path)
    return time.perf_counter() - started, time.process_time() - cpu, report.embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=600, help="reviews indexed per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent; the benchmark reads ../shared/data")
    from vectorstore import Embedder

    embedder = Embedder(threads=1, batch_size=16, max_tokens=128, quantize="int8", device="cpu")
    embedder.embed(["warm-up text for the embedder"])
    from warehouse.redaction import Redactor

    Redactor().redact("warm-up: call +1 (555) 123-4567, mail a@example.com, see www.example.com")  # imports
    with tempfile.TemporaryDirectory(prefix="uba-bench-indexing-") as tmp:
        work = Path(tmp)
        _, ingest_off = sampled_warehouse(work / "kept.duckdb", args.reviews, keep_pii=True)
        wh, ingest_on = sampled_warehouse(work / "warehouse.duckdb", args.reviews)
        model_path = work / "sentiment.npz"
        # An untimed first run trains the classifier and saves it, as the first index run of a warehouse does.
        seconds, _, embedded = index_once(wh, embedder, work / "index-warm-up", on=True, model_path=model_path)
        print(
            f"warm-up run (trains the classifier, not counted): {embedded} reviews in {seconds:.1f} s; "
            f"{args.reviews} reviews per run, {args.rounds} rounds, load average {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} CPUs"
        )
        runs: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
        for n in range(args.rounds):
            for mode in ("off", "on") if n % 2 == 0 else ("on", "off"):
                seconds, cpu, embedded = index_once(
                    wh, embedder, work / f"index-{mode}-{n}", on=mode == "on", model_path=model_path
                )
                runs[mode].append((embedded / seconds, embedded / cpu))
                print(f"round {n + 1} {mode}: {embedded} reviews in {seconds:.1f} s wall, {cpu:.1f} s CPU")
        wall = {m: statistics.median(r[0] for r in runs[m]) for m in runs}
        per_cpu = {m: statistics.median(r[1] for r in runs[m]) for m in runs}
        rows = []
        for mode, label in (("off", "off: no redaction, no sentiment"), ("on", "on: redaction + sentiment")):
            rows.append(
                [
                    label,
                    round(wall[mode], 1),
                    round(wall[mode] / wall["off"], 3),
                    round(per_cpu[mode], 1),
                    round(per_cpu[mode] / per_cpu["off"], 3),
                    " ".join(f"{w:.1f}" for w, _ in runs[mode]),
                ]
            )
        table(
            f"indexing throughput (median of {args.rounds} rounds)",
            ["indexing", "reviews/s wall", "x off", "reviews per CPU-second", "x off", "wall runs"],
            rows,
        )
        table(
            "ingest of the 10,261 real reviews (one run each, Presidio imported beforehand)",
            ["ingest", "CPU seconds", "x keep-PII"],
            [
                ["UBA_REVIEW_KEEP_PII=true (no redaction)", round(ingest_off, 2), 1.0],
                ["default (redacted)", round(ingest_on, 2), round(ingest_on / ingest_off, 3)],
            ],
        )
        corpus = 10_261
        total = {"off": ingest_off + corpus / per_cpu["off"], "on": ingest_on + corpus / per_cpu["on"]}
        table(
            "ingest + index of all 10,261 reviews, CPU seconds (index from the median reviews per CPU-second)",
            ["pipeline", "CPU seconds", "reviews per CPU-second", "x off"],
            [
                [
                    "off: keep PII, no redaction, no sentiment",
                    round(total["off"], 1),
                    round(corpus / total["off"], 1),
                    1.0,
                ],
                [
                    "on: redacted at ingest and index, sentiment scored",
                    round(total["on"], 1),
                    round(corpus / total["on"], 1),
                    round(total["off"] / total["on"], 3),
                ],
            ],
        )


if __name__ == "__main__":
    main()
