"""SASRec trained with full softmax cross-entropy over items (SASRec-CE), with a next-event-type head.

Architecture after Kang & McAuley (ICDM 2018); loss after Klenitskiy & Vasilev (RecSys 2023):
every position predicts the next item with a softmax over the whole catalogue (tied item
embeddings), and a second linear head predicts the next event type.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from predictor.lr_schedule import LearningRate, Schedule
from predictor.ranking import RankingMetrics, evaluate_full_ranking
from predictor.sequences import NO_ITEM, PAD, HeldOut, Sequences, Vocabulary, left_pad, subsample

logger = logging.getLogger(__name__)


@dataclass
class SASRecConfig:
    """Hyper-parameters and the training budget."""

    max_len: int = 50
    hidden: int = 64
    blocks: int = 2
    heads: int = 1
    dropout: float = 0.3
    lr: float = 1e-3
    lr_schedule: Schedule = "constant"
    """constant, cosine (warmup then cosine decay over the time budget, else over max_epochs) or
    plateau (halve the rate after each epoch without a validation gain); see predictor/lr_schedule.py."""
    warmup_steps: int = 0
    batch_size: int = 128
    max_epochs: int = 200
    patience: int = 5
    max_minutes: float | None = None
    seed: int = 42
    device: str = "auto"
    type_loss_weight: float = 1.0
    exclude_seen: bool = False
    valid_users: int | None = 8192
    negatives: int | None = None
    """None = full softmax over every item (the method); N = sampled softmax with N shared uniform
    negatives and log-Q correction, a cheaper approximation for large catalogues on small CPUs."""

    def resolved_device(self) -> torch.device:
        """CUDA when present and not overridden, else CPU."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


class _Block(nn.Module):
    """Pre-norm causal self-attention + point-wise feed-forward, both residual."""

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.p = heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.qkv, self.out = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
        self.ff = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, hidden))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, length, h = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, length, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.p if self.training else 0.0)
        x = x + self.drop(self.out(att.transpose(1, 2).reshape(b, length, h)))
        return x + self.drop(self.ff(self.ln2(x)))


class SASRec(nn.Module):
    """Self-attentive sequential recommender; item logits are the tied item embeddings' dot products."""

    def __init__(self, n_items: int, n_types: int, config: SASRecConfig) -> None:
        super().__init__()
        h = config.hidden
        self.item_emb = nn.Embedding(n_items, h, padding_idx=PAD)
        self.type_emb = nn.Embedding(n_types, h, padding_idx=PAD)
        self.pos_emb = nn.Embedding(config.max_len, h)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(h, config.heads, config.dropout) for _ in range(config.blocks))
        self.ln = nn.LayerNorm(h)
        self.type_head = nn.Linear(h, n_types)
        self.scale = math.sqrt(h)
        for name, param in self.named_parameters():
            if param.dim() == 2 and "ln" not in name:
                nn.init.xavier_normal_(param)  # small initial logits over a large catalogue
        with torch.no_grad():
            self.item_emb.weight[PAD].zero_()
            self.type_emb.weight[PAD].zero_()

    def encode(self, items: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        """(batch, len) left-padded items/types -> (batch, len, hidden) states."""
        length = items.shape[1]
        pos = torch.arange(length, device=items.device)
        x = self.item_emb(items) * self.scale + self.type_emb(types) + self.pos_emb(pos)
        pad = items == PAD
        x = self.drop(x) * (~pad).unsqueeze(-1)
        causal = torch.ones(length, length, dtype=torch.bool, device=items.device).tril()
        # a padded query may attend to itself, so no attention row is empty (NaN-free)
        mask = causal & (~pad.unsqueeze(1) | torch.eye(length, dtype=torch.bool, device=items.device))
        mask = mask.unsqueeze(1)
        for block in self.blocks:
            x = block(x, mask) * (~pad).unsqueeze(-1)
        return self.ln(x)

    def item_logits(self, states: torch.Tensor) -> torch.Tensor:
        """Scores of every item column for each state."""
        return states @ self.item_emb.weight.T

    def score_last(self, items: torch.Tensor, types: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Next-item scores and next-type logits after the last position of each row."""
        last = self.encode(items, types)[:, -1]
        return self.item_logits(last), self.type_head(last)


@dataclass
class TrainedSASRec:
    """A trained model with its vocabulary, config and training record."""

    model: SASRec
    vocab: Vocabulary
    config: SASRecConfig
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    train_seconds: float = 0.0
    stopped_by: str = ""

    def score_histories(
        self, histories: list[np.ndarray], types: list[np.ndarray]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(item scores, type logits) for a batch of histories, on the model's device."""
        device = next(self.model.parameters()).device
        length = min(self.config.max_len, max((len(h) for h in histories), default=1) or 1)
        items = torch.as_tensor(left_pad(histories, length), device=device)
        kinds = torch.as_tensor(left_pad(types, length), device=device)
        self.model.eval()
        with torch.no_grad():
            return self.model.score_last(items, kinds)

    def evaluate(
        self, held: HeldOut, ks: tuple[int, ...] = (10,), *, exclude_seen: bool | None = None
    ) -> RankingMetrics:
        """Full-ranking HR/NDCG/MRR of the held-out next items, plus next-type accuracy."""
        seen = self.config.exclude_seen if exclude_seen is None else exclude_seen
        type_hits: list[np.ndarray] = []

        def score_rows(rows: slice) -> torch.Tensor:
            scores, type_logits = self.score_histories(held.histories[rows], held.history_types[rows])
            type_logits[:, PAD] = -torch.inf
            type_hits.append(type_logits.argmax(1).cpu().numpy() == held.target_types[rows])
            return scores

        metrics = evaluate_full_ranking(
            score_rows, held.histories, held.target_items, ks=ks, exclude_seen=seen, excluded_columns=(PAD, NO_ITEM)
        )
        metrics["type_accuracy"] = float(np.concatenate(type_hits).mean()) if type_hits else 0.0
        return metrics


def _training_windows(train: Sequences, max_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (items, types) and next-step targets (items, types), last ``max_len`` steps per user."""
    usable = [i for i, s in enumerate(train.items) if len(s) >= 2]
    inputs = left_pad([train.items[i][:-1] for i in usable], max_len)
    in_types = left_pad([train.types[i][:-1] for i in usable], max_len)
    targets = left_pad([train.items[i][1:] for i in usable], max_len)
    tgt_types = left_pad([train.types[i][1:] for i in usable], max_len)
    return inputs, in_types, targets, tgt_types


def _item_loss(model: SASRec, states: torch.Tensor, targets: torch.Tensor, negatives: int | None) -> torch.Tensor:
    """Cross-entropy of the next item: over the full catalogue, or over shared sampled negatives."""
    n_items = model.item_emb.num_embeddings
    if negatives is None or negatives >= n_items - 2:
        # only the real item columns: masking padding / "no item" in place would copy the whole
        # (positions x items) gradient once more in backward (measured ~35% slower on CPU)
        first = NO_ITEM + 1
        return F.cross_entropy(states @ model.item_emb.weight[first:].T, targets - first)
    neg = torch.randint(NO_ITEM + 1, n_items, (negatives,), device=states.device)
    positive = (states * model.item_emb(targets)).sum(-1, keepdim=True)
    sampled = states @ model.item_emb.weight[neg].T + math.log((n_items - 2) / negatives)
    sampled = sampled.masked_fill(neg.unsqueeze(0) == targets.unsqueeze(1), -torch.inf)
    logits = torch.cat([positive, sampled], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(targets), dtype=torch.long, device=states.device))


def _length_buckets(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of similar-length sequences (less padding to encode), in random order."""
    order = rng.permutation(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def train_sasrec(
    train: Sequences,
    valid: HeldOut,
    vocab: Vocabulary,
    config: SASRecConfig | None = None,
    *,
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainedSASRec:
    """Train with full cross-entropy, validate every epoch (full ranking NDCG@10), keep the best epoch."""
    config = config or SASRecConfig()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = config.resolved_device()
    model = SASRec(vocab.n_items, vocab.n_types, config).to(device)
    # the fused kernel: one pass over the 3.5M item-embedding weights per step instead of ~10
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda"))
    inputs, in_types, targets, tgt_types = _training_windows(train, config.max_len)
    if len(inputs) == 0:
        raise ValueError("no user has two or more training events; the next-item model needs sequences")
    lengths = (targets != PAD).sum(1)
    trained = TrainedSASRec(model, vocab, config)
    valid = subsample(valid, config.valid_users, rng)
    use_types = vocab.n_types > 2
    best_score, best_state, bad_epochs = -1.0, copy.deepcopy(model.state_dict()), 0
    started, cpu_started = time.monotonic(), time.process_time()
    deadline = started + config.max_minutes * 60 if config.max_minutes else None
    rate = LearningRate(
        optimizer,
        config.lr,
        config.lr_schedule,
        config.warmup_steps,
        config.max_minutes * 60 if config.max_minutes else None,
        config.max_epochs,
    )
    step = 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        losses: list[float] = []
        batches = _length_buckets(lengths, config.batch_size, rng)
        for b, idx in enumerate(tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not progress)):
            lr = rate.step(step, time.monotonic() - started, epoch - 1 + b / len(batches))
            step += 1
            tgt = targets[idx]
            width = int((tgt != PAD).sum(1).max())
            x = torch.as_tensor(inputs[idx, -width:], device=device)
            xt = torch.as_tensor(in_types[idx, -width:], device=device)
            y = torch.as_tensor(tgt[:, -width:], device=device)
            yt = torch.as_tensor(tgt_types[idx, -width:], device=device)
            states = model.encode(x, xt)
            has_item = (y != PAD) & (y != NO_ITEM)
            loss = _item_loss(model, states[has_item], y[has_item], config.negatives)
            if use_types:
                has_type = yt != PAD
                loss = loss + config.type_loss_weight * F.cross_entropy(model.type_head(states[has_type]), yt[has_type])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            if deadline and time.monotonic() > deadline:
                break
        metrics = trained.evaluate(valid) if len(valid.users) else {"NDCG@10": -float(np.mean(losses))}
        record = {
            "epoch": float(epoch),
            "loss": float(np.mean(losses)),
            "seconds": time.monotonic() - started,
            "cpu_seconds": time.process_time() - cpu_started,
            "lr": lr,
        }
        record.update({f"valid_{k}": v for k, v in metrics.items() if k != "users"})
        trained.epochs.append(record)
        logger.info("epoch %d: %s", epoch, record)
        if on_epoch:
            on_epoch(record)
        improved = metrics["NDCG@10"] > best_score
        if improved:
            best_score, best_state, bad_epochs = metrics["NDCG@10"], copy.deepcopy(model.state_dict()), 0
            trained.best_epoch = epoch
        else:
            bad_epochs += 1
        rate.after_epoch(improved)
        if bad_epochs >= config.patience:
            trained.stopped_by = f"early stopping: no validation NDCG@10 gain for {config.patience} epochs"
            break
        if deadline and time.monotonic() > deadline:
            trained.stopped_by = f"time budget of {config.max_minutes} minutes"
            break
    else:
        trained.stopped_by = f"max_epochs={config.max_epochs}"
    model.load_state_dict(best_state)
    trained.train_seconds = time.monotonic() - started
    return trained


def config_dict(config: SASRecConfig) -> dict[str, Any]:
    """The config as plain JSON-able values."""
    return asdict(config)
