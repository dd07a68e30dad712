"""Next-item quality on Amazon Beauty (BERT4Rec format) against the published full-ranking table.

Protocol (../shared/data/README.md): leave-one-out per user (last item = test, second to last =
validation, the rest = training), HR@10 / NDCG@10 over the FULL item ranking, no sampled
negatives. Run: ``nice -n 5 .venv/bin/python benchmarks/predictor_beauty.py --max-minutes 60``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from predictor.baselines import Popularity, Transitions  # noqa: E402
from predictor.sasrec import SASRecConfig, config_dict, train_sasrec  # noqa: E402
from predictor.sequences import Sequences, Vocabulary, leave_one_out  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon-beauty-bert4rec-format" / "beauty.txt"
PUBLISHED = [
    ("SASRec (BCE), published", 0.0246, 0.0126),
    ("BERT4Rec, published", 0.0338, 0.0187),
    ("SASRec-CE, published", 0.0533, 0.0327),
]


def load_beauty(path: Path, max_users: int | None) -> tuple[Sequences, Vocabulary]:
    """One chronological item sequence per user, as in the file."""
    raw = np.loadtxt(path, dtype=np.int64)
    users, starts = np.unique(raw[:, 0], return_index=True)
    order = np.argsort(starts)
    users, starts = users[order], starts[order]
    bounds = list(starts) + [len(raw)]
    if max_users:
        users, bounds = users[:max_users], bounds[: max_users + 1]
    items = raw[: bounds[-1], 1]
    vocab = Vocabulary.build((str(i) for i in np.unique(items)), ["interaction"])
    index = {int(v): vocab.item_index(str(v)) for v in np.unique(items)}
    mapped = np.fromiter((index[int(v)] for v in items), dtype=np.int64, count=len(items))
    seqs = [mapped[bounds[i] : bounds[i + 1]] for i in range(len(users))]
    return Sequences([str(u) for u in users], seqs, [np.ones(len(s), dtype=np.int64) for s in seqs]), vocab


def latency_p50(trained, held, n: int = 200) -> float:
    """Median milliseconds to score one user's full ranking (batch of one)."""
    times = []
    for i in range(min(n, len(held.users))):
        t0 = time.perf_counter()
        scores, _ = trained.score_histories([held.histories[i]], [held.history_types[i]])
        torch.topk(scores, 10)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def print_table(rows: list[tuple]) -> None:
    """The results as a Markdown table (the published rows filter seen items, as their code does by default)."""
    print("| model | HR@10 | NDCG@10 | train min | p50 ms/user |")
    print("|---|---|---|---|---|")
    for name, hr, nd, minutes, ms in rows:
        print(f"| {name} | {hr:.4f} | {nd:.4f} | {minutes} | {ms} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-minutes", type=float, default=60.0, help="wall-time budget for SASRec training")
    parser.add_argument("--max-users", type=int, default=None, help="subsample for a smoke run")
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--negatives", type=int, default=None,
                        help="sampled-softmax negatives (default: full softmax over all items)")
    parser.add_argument("--valid-users", type=int, default=8192)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--baselines-only", action="store_true", help="print the baseline rows and stop")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if not DATA.exists():
        sys.exit(f"skip: {DATA} is absent")

    seqs, vocab = load_beauty(DATA, args.max_users)
    split = leave_one_out(seqs)
    n_catalogue = vocab.n_items - 2
    print(f"users {len(seqs):,}  items {n_catalogue:,}  interactions {sum(len(s) for s in seqs.items):,}", flush=True)
    rows = []
    baselines = () if args.skip_baselines else (("popularity", Popularity.fit(split.train, vocab.n_items)),
                                                ("transitions (1st order)", Transitions.fit(split.train, vocab.n_items)))
    for name, model in baselines:
        m = model.evaluate(split.test)
        rows.append((name, m["HR@10"], m["NDCG@10"], "", ""))
        print(f"{name}: {m}", flush=True)
        m = model.evaluate(split.test, exclude_seen=True)
        rows.append((name + ", seen items excluded", m["HR@10"], m["NDCG@10"], "", ""))
        print(f"{name}, seen items excluded: {m}", flush=True)
    if args.baselines_only:
        print_table(rows)
        return

    config = SASRecConfig(max_len=50, hidden=args.hidden, blocks=2, heads=1, dropout=args.dropout, lr=args.lr,
                          batch_size=args.batch_size, max_epochs=args.max_epochs, patience=args.patience,
                          max_minutes=args.max_minutes, device=args.device,
                          negatives=args.negatives, valid_users=args.valid_users)
    def on_epoch(record: dict[str, float]) -> None:
        record["load1"] = os.getloadavg()[0]  # the machine's 1-minute load average when the epoch ended
        print(f"epoch {int(record['epoch'])}: {json.dumps(record)}", flush=True)

    load_before = os.getloadavg()[0]
    trained = train_sasrec(split.train, split.valid, vocab, config, progress=False, on_epoch=on_epoch)
    test = trained.evaluate(split.test)
    test_filtered = trained.evaluate(split.test, exclude_seen=True)
    device = str(next(trained.model.parameters()).device)
    p50 = latency_p50(trained, split.test)
    ours = "SASRec-CE (ours)" if args.negatives is None else f"SASRec, sampled CE {args.negatives} negatives (ours)"
    rows.append((ours, test["HR@10"], test["NDCG@10"], f"{trained.train_seconds / 60:.1f}", f"{p50:.1f}"))
    rows.append((ours + ", seen items excluded", test_filtered["HR@10"], test_filtered["NDCG@10"], "", ""))
    rows += [(n, hr, nd, "", "") for n, hr, nd in PUBLISHED]

    cpu = platform.processor() or platform.machine()
    print()
    print(f"Protocol: beauty.txt, {len(split.test.users):,} test users, leave-one-out (last = test, 2nd last = "
          f"validation), FULL ranking over {n_catalogue:,} items, ties count against the model; "
          f"device {device} ({cpu}, torch threads {torch.get_num_threads()}); best epoch {trained.best_epoch} "
          f"of {len(trained.epochs)} ({trained.stopped_by}); 1-min load average {load_before:.2f} at the start, "
          f"{np.mean([e['load1'] for e in trained.epochs]):.2f} mean at epoch ends; config {json.dumps(config_dict(config))}")
    print_table(rows)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({"rows": rows, "epochs": trained.epochs, "config": config_dict(config),
                                             "test": test, "test_seen_excluded": test_filtered,
                                             "load1_at_start": load_before}, indent=2))


if __name__ == "__main__":
    main()
