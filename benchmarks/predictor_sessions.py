"""Session-based next click on YOOCHOOSE (RecSys Challenge 2015, session-rec 100k sample): HR@20 / MRR@20.

Protocol: train on ``train_tr``, early-stop on ``train_valid`` (every next click), test on every
next click of every ``test`` session given the clicks before it (items unseen in training are
dropped, as session-rec does); full ranking over the training catalogue. The candidates and the
choice are those of ``uba train next`` (chosen on ``train_valid``). SASRec here is trained with
the full softmax (the catalogue is small). Run:
``nice -n 10 .venv/bin/python benchmarks/predictor_sessions.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from predictor.candidates import score_test, select_next_model  # noqa: E402
from predictor.sasrec import SASRecConfig, train_sasrec  # noqa: E402
from predictor.sequences import HeldOut, Sequences, Vocabulary  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "yoochoose-100k-session-rec"


def _sessions(path: Path, vocab: Vocabulary | None) -> tuple[Sequences, Vocabulary]:
    frame = pd.read_csv(path, sep="\t").sort_values(["SessionId", "Time"], kind="stable")
    if vocab is None:
        vocab = Vocabulary.build(frame["ItemId"].astype(str).unique(), ["view"])
    frame["idx"] = frame["ItemId"].astype(str).map(lambda i: vocab.item_index(i) or -1)
    frame = frame[frame["idx"] > 0]
    seqs = [g["idx"].to_numpy(np.int64) for _, g in frame.groupby("SessionId", sort=True)]
    seqs = [s for s in seqs if len(s) >= 2]
    return Sequences([str(i) for i in range(len(seqs))], seqs, [np.ones(len(s), np.int64) for s in seqs]), vocab


def _every_next_click(seqs: Sequences) -> HeldOut:
    hist, htypes, targets = [], [], []
    for items in seqs.items:
        for i in range(1, len(items)):
            hist.append(items[:i])
            htypes.append(np.ones(i, np.int64))
            targets.append(items[i])
    return HeldOut([str(i) for i in range(len(hist))], hist, htypes, np.array(targets), np.ones(len(targets), np.int64))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-minutes", type=float, default=10.0, help="SASRec budget; 0 leaves it out")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not DATA.exists():
        sys.exit(f"skip: {DATA} is absent")
    train, vocab = _sessions(DATA / "yoochoose-clicks-100k_train_tr.txt", None)
    valid_seqs, _ = _sessions(DATA / "yoochoose-clicks-100k_train_valid.txt", vocab)
    test_seqs, _ = _sessions(DATA / "yoochoose-clicks-100k_test.txt", vocab)
    valid, test = _every_next_click(valid_seqs), _every_next_click(test_seqs)
    trained = None
    if args.max_minutes > 0:
        config = SASRecConfig(
            max_len=20,
            hidden=64,
            blocks=2,
            dropout=0.2,
            lr=1e-3,
            batch_size=128,
            patience=3,
            max_minutes=args.max_minutes,
            valid_users=None,
            device=args.device,
        )
        trained = train_sasrec(
            train,
            valid,
            vocab,
            config,
            progress=False,
            on_epoch=lambda r: print(
                f"epoch {int(r['epoch'])}: valid NDCG@10 {r['valid_NDCG@10']:.4f} ({r['seconds']:.0f} s)", flush=True
            ),
        )
    t0 = time.monotonic()
    selection = select_next_model(train, valid, vocab.n_items, trained)
    select_s = time.monotonic() - t0
    score_test(selection, test, ks=(10, 20))
    base = selection.candidate("transitions").test["MRR@20"]
    print()
    print(
        f"Protocol: YOOCHOOSE 100k (session-rec), train {len(train):,} sessions, {len(test.target_items):,} "
        f"test next-click predictions over {len(test_seqs):,} sessions, full ranking over {vocab.n_items - 2:,} "
        f"items; chosen on train_valid NDCG@10; torch threads {torch.get_num_threads()}; kNN tuning + blend + "
        f"validation {select_s:.0f} s"
        + (
            f"; SASRec {trained.train_seconds / 60:.1f} min, best epoch "
            f"{trained.best_epoch} of {len(trained.epochs)} ({trained.stopped_by})"
            if trained
            else ""
        )
    )
    print(f"Serves: {selection.winner} ({selection.reason})")
    nd_base = selection.candidate("transitions").test["NDCG@10"]
    print(
        "| model | valid NDCG@10 | test HR@20 | test MRR@20 | MRR@20 vs transitions | test NDCG@10 | NDCG@10 vs "
        "transitions | detail |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c in selection.candidates:
        mark = " (serves)" if c.name == selection.winner else ""
        print(
            f"| {c.name}{mark} | {c.valid['NDCG@10']:.4f} | {c.test['HR@20']:.4f} | {c.test['MRR@20']:.4f} | "
            f"{c.test['MRR@20'] / base:.2f}x | {c.test['NDCG@10']:.4f} | {c.test['NDCG@10'] / nd_base:.2f}x | "
            f"{c.detail} |"
        )


if __name__ == "__main__":
    main()
