"""Next-item quality on any public sequence file, in the full-ranking leave-one-out protocol.

Protocol (../shared/data/README.md): leave-one-out per user (last item = test, second to last =
validation, the rest = training), HR@10 / NDCG@10 over the FULL item ranking, no sampled
negatives, items already in the user's history excluded (as the published SASRec-CE code does;
``--keep-seen`` ranks them too). The candidates and the choice are those of ``uba train next``
(predictor/candidates.py): tuned and chosen on validation only; the test rows are reported.
Run: ``nice -n 15 .venv/bin/python benchmarks/predictor_sequences.py --sasrec-minutes 10``
(Amazon Beauty by default) or ``--data Toys_and_Games.txt --format user-per-line``.
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

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._sasrec_options import add_sasrec_options, sasrec_config  # noqa: E402
from predictor.candidates import score_test, select_next_model  # noqa: E402
from predictor.sasrec import config_dict, train_sasrec  # noqa: E402
from predictor.sequences import SEQUENCE_FORMATS, leave_one_out, read_sequence_file  # noqa: E402

BEAUTY = Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon-beauty-bert4rec-format" / "beauty.txt"
PUBLISHED_BEAUTY = [
    ("SASRec (BCE), published", 0.0246, 0.0126),
    ("BERT4Rec, published", 0.0338, 0.0187),
    ("SASRec-CE, published", 0.0533, 0.0327),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=BEAUTY, help="the sequence file (default: Amazon Beauty)")
    parser.add_argument(
        "--format",
        choices=SEQUENCE_FORMATS,
        default="pairs",
        help="pairs: 'user item' per line; user-per-line: 'user item item ...'",
    )
    parser.add_argument("--keep-seen", action="store_true", help="rank items already in the history too")
    parser.add_argument("--sasrec-minutes", type=float, default=0.0, help="SASRec-CE budget; 0 leaves it out")
    parser.add_argument("--max-users", type=int, default=None, help="subsample for a smoke run")
    parser.add_argument("--threads", type=int, default=2)
    add_sasrec_options(parser)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if not args.data.exists():
        sys.exit(f"skip: {args.data} is absent")
    exclude_seen = not args.keep_seen

    seqs, vocab = read_sequence_file(args.data, args.format, args.max_users)
    split = leave_one_out(seqs)
    print(
        f"{args.data.name}: users {len(seqs):,}  items {vocab.n_items - 2:,}  "
        f"interactions {sum(len(s) for s in seqs.items):,}",
        flush=True,
    )
    trained, load_before = None, os.getloadavg()[0]
    if args.sasrec_minutes > 0:
        config = sasrec_config(args, args.sasrec_minutes, exclude_seen=exclude_seen)
        trained = train_sasrec(
            split.train,
            split.valid,
            vocab,
            config,
            progress=False,
            on_epoch=lambda r: print(f"epoch {int(r['epoch'])}: {json.dumps(r)}", flush=True),
        )
    t0 = time.monotonic()
    selection = select_next_model(split.train, split.valid, vocab.n_items, trained, exclude_seen=exclude_seen)
    select_s = time.monotonic() - t0
    score_test(selection, split.test, exclude_seen=exclude_seen)
    base = selection.candidate("transitions").test["NDCG@10"]

    print()
    print(
        f"Protocol: {args.data.name} ({args.format}), {len(split.test.users):,} test users, leave-one-out, FULL "
        f"ranking over {vocab.n_items - 2:,} items, seen items {'kept' if args.keep_seen else 'excluded'}, ties "
        f"count against the model; CPU {platform.processor() or platform.machine()}, torch threads "
        f"{torch.get_num_threads()}, 1-min load {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
        f"kNN tuning + blend + validation of all candidates {select_s:.0f} s"
        + (
            f"; SASRec {trained.train_seconds / 60:.1f} min, best epoch {trained.best_epoch} of "
            f"{len(trained.epochs)} ({trained.stopped_by}), config {json.dumps(config_dict(trained.config))}"
            if trained
            else ""
        )
    )
    print(f"Serves: {selection.winner} ({selection.reason})")
    print("| model | valid NDCG@10 | test HR@10 | test NDCG@10 | NDCG@10 vs transitions | detail |")
    print("|---|---|---|---|---|---|")
    for c in selection.candidates:
        mark = " (serves)" if c.name == selection.winner else ""
        print(
            f"| {c.name}{mark} | {c.valid['NDCG@10']:.4f} | {c.test['HR@10']:.4f} | {c.test['NDCG@10']:.4f} | "
            f"{c.test['NDCG@10'] / base:.2f}x | {c.detail} |"
        )
    if args.data.resolve() == BEAUTY.resolve() and not args.max_users:
        for name, hr, nd in PUBLISHED_BEAUTY:
            print(f"| {name} (seen items excluded) | | {hr:.4f} | {nd:.4f} | {nd / base:.2f}x | |")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(
            json.dumps(
                {
                    "candidates": selection.table(),
                    "serving": selection.winner,
                    "trials": selection.trials,
                    "epochs": trained.epochs if trained else [],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
