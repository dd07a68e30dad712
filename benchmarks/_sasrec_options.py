"""The SASRec command-line options the next-item benchmarks share (one place, one meaning)."""

from __future__ import annotations

import argparse

from predictor.lr_schedule import SCHEDULES
from predictor.sasrec import SASRecConfig


def add_sasrec_options(
    parser: argparse.ArgumentParser, *, max_len: int = 50, dropout: float = 0.3, patience: int = 5
) -> None:
    """SASRec's hyper-parameters as ``--flags`` (defaults: the library's, unless a benchmark's data needs others)."""
    group = parser.add_argument_group("SASRec")
    group.add_argument("--max-epochs", type=int, default=200)
    group.add_argument("--patience", type=int, default=patience)
    group.add_argument("--batch-size", type=int, default=128)
    group.add_argument("--dropout", type=float, default=dropout)
    group.add_argument("--lr", type=float, default=1e-3)
    group.add_argument(
        "--lr-schedule",
        choices=SCHEDULES,
        default="constant",
        help="constant, cosine over the budget (with --warmup-steps), or halve on a validation plateau",
    )
    group.add_argument("--warmup-steps", type=int, default=0)
    group.add_argument("--max-len", type=int, default=max_len, help="events of history the model reads")
    group.add_argument("--hidden", type=int, default=64)
    group.add_argument(
        "--negatives",
        type=int,
        default=None,
        help="sampled softmax with N shared negatives (gSASRec-style); default: full softmax",
    )
    group.add_argument("--device", default="auto")


def sasrec_config(args: argparse.Namespace, minutes: float, **fixed) -> SASRecConfig:
    """The config the options describe, with a ``minutes`` wall-time budget."""
    return SASRecConfig(
        max_len=args.max_len,
        hidden=args.hidden,
        dropout=args.dropout,
        lr=args.lr,
        lr_schedule=args.lr_schedule,
        warmup_steps=args.warmup_steps,
        batch_size=args.batch_size,
        max_epochs=args.max_epochs,
        patience=args.patience,
        negatives=args.negatives,
        max_minutes=minutes,
        device=args.device,
        **fixed,
    )
