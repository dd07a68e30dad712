"""Embedding levers on this CPU: reviews/s and known-item quality per embedder configuration.

Usage: nice -n 10 python benchmarks/reviews_embedding.py [--quality-reviews 2000] [--speed-reviews 300]
       [--cache DIR] [--configs 6,10,11] [--rounds 3] [--skip-speed] [--skip-quality] [--body-only]

Speed: the same sample of real Amazon Musical Instruments review documents (title + body,
normalized as indexed) and of demo-shop reviews is encoded by each configuration, models loaded
and warmed up first, in calls of 256 texts as the indexer makes them; reviews/s wall-clock, the
median of interleaved rounds, and the ratio to the first configuration listed (by default the
float model with 256 tokens, batch 64, one torch thread). Quality: the known-item protocol of
reviews_retrieval.py (query = the review's own summary) on a fixed random subset of the real
reviews, exact cosine ranking in numpy (no HNSW) for vector-only, and the engine's hybrid fusion
with BM25 over the same documents. Vectors are cached per configuration fingerprint and text hash
in --cache, so a second run re-measures speed without re-embedding for quality.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.reviews_retrieval import DATA, VectorCache, table  # noqa: E402

CONFIGS = [
    # label, max_tokens, quantize, batch_size, threads[, longest first]
    ("baseline: float, 256 tokens, batch 64, 1 thread", 256, "none", 64, 1),
    ("batch 16", 256, "none", 16, 1),
    ("batch 256", 256, "none", 256, 1),
    ("2 threads", 256, "none", 64, 2),
    ("128 tokens", 128, "none", 64, 1),
    ("int8", 256, "int8", 64, 1),
    ("int8, 128 tokens", 128, "int8", 64, 1),
    ("int8, 128 tokens, 2 threads", 128, "int8", 64, 2),
    ("int8, 128 tokens, batch 16", 128, "int8", 16, 1),
    ("int8, 128 tokens, batch 16, 2 threads", 128, "int8", 16, 2),
    ("int8, 96 tokens", 96, "int8", 64, 1),
    ("int8, 64 tokens", 64, "int8", 64, 1),
    ("int8, 128 tokens, batch 8", 128, "int8", 8, 1),
    ("int8, 128 tokens, batch 32", 128, "int8", 32, 1),
    ("int8, 128 tokens, input order (not sorted by length)", 128, "int8", 64, 1, False),
    ("int8, 64 tokens, 2 threads", 64, "int8", 64, 2),
]


def amazon_reviews() -> list[dict]:
    from vectorstore.normalization import review_document

    rows = []
    with gzip.open(DATA, "rt") as fh:
        for n, line in enumerate(fh):
            r = json.loads(line)
            summary = (r.get("summary") or "").strip()
            rows.append(
                {
                    "id": n,
                    "summary": summary,
                    "doc": review_document(r.get("summary"), r.get("reviewText")),
                    "body": review_document(None, r.get("reviewText")),
                }
            )
    return rows


def demo_documents(n: int) -> list[str]:
    """Review documents of the deterministic demo shop (short, templated texts)."""
    import tempfile

    from sqlalchemy import text

    from vectorstore.normalization import review_document
    from warehouse import Warehouse
    from warehouse.demo import generate_demo

    with tempfile.TemporaryDirectory() as tmp:
        wh = Warehouse.open(f"duckdb:///{tmp}/demo.duckdb")
        wh.create_schema()
        generate_demo(wh, users=3000, days=90, seed=7)
        with wh.engine.connect() as conn:
            docs = [
                review_document(t, b)
                for t, b in conn.execute(text("SELECT title, body FROM reviews ORDER BY review_id"))
            ]
        wh.dispose()
    return docs[:n]


def speed(embedder, docs: list[str], longest_first: bool = True) -> float:
    embedder.embed(docs[:8])  # warm-up: first call allocates
    t0 = time.perf_counter()
    # As the indexer does: calls of 256 texts, longest first (sentence-transformers sorts only within a call).
    ordered = sorted(docs, key=len, reverse=True) if longest_first else docs
    for start in range(0, len(ordered), 256):
        embedder.embed(ordered[start : start + 256])
    return len(docs) / (time.perf_counter() - t0)


def known_item(doc_vectors, query_vectors, keyword, ids, summaries, k=10, pool=50):
    from vectorstore.search import VECTOR_WEIGHT, fuse_scores

    sims = query_vectors @ doc_vectors.T
    pool = min(pool, len(ids) - 1)
    out = {"vector": [0, 0, 0.0], "hybrid": [0, 0, 0.0]}
    for qi, target in enumerate(ids):
        top = np.argpartition(-sims[qi], pool)[:pool]
        top = top[np.argsort(-sims[qi][top])]
        vec = [(ids[j], float(sims[qi][j])) for j in top]
        kw = keyword.search(summaries[qi], pool)
        for name, ranking in (("vector", [i for i, _ in vec]), ("hybrid", list(fuse_scores(vec, kw, VECTOR_WEIGHT)))):
            head = ranking[:k]
            if target in head:
                pos = head.index(target) + 1
                out[name][0] += pos == 1
                out[name][1] += 1
                out[name][2] += 1 / pos
    n = len(ids)
    return {name: [round(x / n, 4) for x in v] for name, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quality-reviews", type=int, default=2000, help="random real reviews for the quality columns")
    parser.add_argument(
        "--speed-reviews", type=int, default=300, help="real (and demo) reviews encoded per configuration"
    )
    parser.add_argument("--cache", type=Path, default=None, help="directory for cached vectors (quality only)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved speed rounds over all configurations")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--body-only", action="store_true", help="quality with the body alone indexed (no title)")
    parser.add_argument("--configs", default="", help="comma-separated row numbers of CONFIGS (default: all)")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent; the benchmark reads ../shared/data")
    import torch

    from vectorstore import Embedder
    from vectorstore.keyword import KeywordIndex

    configs = [CONFIGS[int(i)] for i in args.configs.split(",")] if args.configs else CONFIGS
    rows = amazon_reviews()
    rng = np.random.default_rng(5)
    sample = [rows[i] for i in rng.permutation(len(rows))]
    speed_docs = [r["doc"] for r in sample[: args.speed_reviews]]
    demo_docs = [] if args.skip_speed else demo_documents(args.speed_reviews)
    quality_rows = [r for r in sample if r["summary"]][: args.quality_reviews]
    # --body-only: index the body alone, so the query (the summary) is never the opening of the text
    # and a shorter token limit can only lose what the body says.
    field_ = "body" if args.body_only else "doc"
    keyword = KeywordIndex()
    keyword.upsert(
        [str(r["id"]) for r in quality_rows],
        [r[field_] for r in quality_rows],
        [""] * len(quality_rows),
        [{}] * len(quality_rows),
    )
    print(f"start: load average {os.getloadavg()[0]:.1f}", flush=True)
    embedders, qualities = [], []
    for label, max_tokens, quantize, batch, threads, *_order in configs:
        embedder = Embedder(max_tokens=max_tokens, quantize=quantize, batch_size=batch, threads=threads, device="cpu")
        _ = embedder.model  # load before timing
        embedders.append(embedder)
        quality = None
        if not args.skip_quality:
            cache = VectorCache(args.cache, embedder.fingerprint())
            doc_vectors = cache.embed(embedder.embed, [r[field_] for r in quality_rows])
            query_vectors = cache.embed(embedder.embed, [r["summary"] for r in quality_rows])
            quality = known_item(
                doc_vectors,
                query_vectors,
                keyword,
                [str(r["id"]) for r in quality_rows],
                [r["summary"] for r in quality_rows],
            )
        qualities.append(quality)
        print(f"{label}: quality {quality}", flush=True)
    # Speed in interleaved rounds (every configuration once per round), so load swings on this shared
    # machine hit all of them alike; each ratio is taken against the first configuration in the same round.
    speeds: list[list[tuple[float, float]]] = [[] for _ in configs]
    loads = []
    for round_ in range(0 if args.skip_speed else args.rounds):
        for n, ((_, _, _, _, threads, *order), embedder) in enumerate(zip(configs, embedders)):
            torch.set_num_threads(threads)
            longest_first = order[0] if order else True
            speeds[n].append((speed(embedder, speed_docs, longest_first), speed(embedder, demo_docs, longest_first)))
        loads.append(os.getloadavg()[0])
        print(f"round {round_ + 1}: load average {loads[-1]:.1f}", flush=True)

    def cell(n: int, which: int) -> str:
        if not speeds[n]:
            return "-"
        value = statistics.median(s[which] for s in speeds[n])
        ratio = statistics.median(s[which] / b[which] for s, b in zip(speeds[n], speeds[0]))
        return f"{value:.1f} ({ratio:.2f}x)"

    rows_out = []
    for n, ((label, *_), quality) in enumerate(zip(configs, qualities)):
        q = quality or {"vector": ["-"] * 3, "hybrid": ["-"] * 3}
        rows_out.append([label, cell(n, 0), cell(n, 1), *q["vector"], *q["hybrid"]])
    load_note = f"load average {min(loads):.1f}-{max(loads):.1f} over the rounds" if loads else "speed skipped"
    mean_chars = np.mean([len(d) for d in speed_docs]) if speed_docs else 0
    demo_chars = np.mean([len(d) for d in demo_docs]) if demo_docs else 0
    table(
        f"embedding levers: all-MiniLM-L6-v2 on CPU (torch {torch.__version__}, {os.cpu_count()} CPUs, {load_note}); "
        f"reviews/s median of {args.rounds} interleaved rounds (ratio: median of same-round ratios to the first row); speed on {len(speed_docs)} Amazon reviews ({mean_chars:.0f} chars) and "
        f"{len(demo_docs)} demo reviews ({demo_chars:.0f} chars); known item on {len(quality_rows)} Amazon reviews ({'body only' if args.body_only else 'title + body'} indexed), exact cosine",
        [
            "configuration",
            "Amazon reviews/s (vs baseline)",
            "demo reviews/s (vs baseline)",
            "vector R@1",
            "vector R@10",
            "vector MRR",
            "hybrid R@1",
            "hybrid R@10",
            "hybrid MRR",
        ],
        rows_out,
    )


if __name__ == "__main__":
    main()
