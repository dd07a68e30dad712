"""Per-user event sequences as integer arrays, the leave-one-out split and left-padded batches."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

PAD = 0
NO_ITEM = 1
"""Index 1 stands for events without an item (searches); it is input context, never a prediction."""


@dataclass
class Vocabulary:
    """Item ids and event types mapped to dense indices (0 = padding, item 1 = "no item")."""

    items: list[str] = field(default_factory=lambda: ["<pad>", "<none>"])
    event_types: list[str] = field(default_factory=lambda: ["<pad>"])

    def __post_init__(self) -> None:
        self._item_index = {item: i for i, item in enumerate(self.items)}
        self._type_index = {t: i for i, t in enumerate(self.event_types)}

    @classmethod
    def build(cls, items: Iterable[str], event_types: Iterable[str] = ()) -> Vocabulary:
        """A vocabulary over the distinct ``items`` and ``event_types`` in first-seen order."""
        item_list = ["<pad>", "<none>", *dict.fromkeys(str(i) for i in items if i is not None)]
        type_list = ["<pad>", *dict.fromkeys(str(t) for t in event_types)]
        return cls(item_list, type_list)

    def item_index(self, item_id: str | None) -> int | None:
        """The index of ``item_id``; ``NO_ITEM`` for None; None when the item is unknown."""
        if item_id is None:
            return NO_ITEM
        return self._item_index.get(str(item_id))

    def type_index(self, event_type: str) -> int | None:
        """The index of ``event_type`` or None when unknown."""
        return self._type_index.get(str(event_type))

    @property
    def n_items(self) -> int:
        """Columns of the item score matrix (padding and "no item" included)."""
        return len(self.items)

    @property
    def n_types(self) -> int:
        """Columns of the event-type score matrix (padding included)."""
        return len(self.event_types)


@dataclass
class Sequences:
    """One integer item sequence (and parallel event-type sequence) per user, oldest first."""

    users: list[str]
    items: list[np.ndarray]
    types: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.users)

    def fingerprint(self) -> str:
        """sha256 of the exact training arrays, so a model names the data it was trained on."""
        digest = hashlib.sha256()
        for user, items, types in zip(self.users, self.items, self.types, strict=True):
            digest.update(user.encode())
            digest.update(np.ascontiguousarray(items, dtype=np.int64).tobytes())
            digest.update(np.ascontiguousarray(types, dtype=np.int64).tobytes())
        return digest.hexdigest()

    def truncated(self, drop_last: int) -> Sequences:
        """Every sequence without its last ``drop_last`` events (users left with none are dropped)."""
        keep = [i for i, s in enumerate(self.items) if len(s) > drop_last]
        return Sequences(
            [self.users[i] for i in keep],
            [self.items[i][: len(self.items[i]) - drop_last] for i in keep],
            [self.types[i][: len(self.types[i]) - drop_last] for i in keep],
        )


@dataclass
class HeldOut:
    """Histories and the one next event to predict for each user."""

    users: list[str]
    histories: list[np.ndarray]
    history_types: list[np.ndarray]
    target_items: np.ndarray
    target_types: np.ndarray


@dataclass
class LeaveOneOut:
    """Training prefixes, validation (second to last) and test (last) targets per user."""

    train: Sequences
    valid: HeldOut
    test: HeldOut


def _held_out(seqs: Sequences, position_from_end: int, min_history: int) -> HeldOut:
    users, hist, htypes, titems, ttypes = [], [], [], [], []
    for user, items, types in zip(seqs.users, seqs.items, seqs.types, strict=True):
        cut = len(items) - position_from_end
        if cut < min_history or items[cut] == NO_ITEM:
            continue
        users.append(user)
        hist.append(items[:cut])
        htypes.append(types[:cut])
        titems.append(items[cut])
        ttypes.append(types[cut])
    return HeldOut(users, hist, htypes, np.asarray(titems, dtype=np.int64), np.asarray(ttypes, dtype=np.int64))


def leave_one_out(seqs: Sequences, min_history: int = 1) -> LeaveOneOut:
    """Last event = test, second to last = validation, the rest = training (per user)."""
    return LeaveOneOut(
        train=seqs.truncated(2),
        valid=_held_out(seqs.truncated(1), 1, min_history),
        test=_held_out(seqs, 1, min_history),
    )


def subsample(held: HeldOut, n: int | None, rng: np.random.Generator) -> HeldOut:
    """A fixed random subset of ``n`` held-out users (all when ``n`` is None or larger)."""
    if n is None or len(held.users) <= n:
        return held
    keep = np.sort(rng.choice(len(held.users), size=n, replace=False))
    return HeldOut(
        [held.users[i] for i in keep],
        [held.histories[i] for i in keep],
        [held.history_types[i] for i in keep],
        held.target_items[keep],
        held.target_types[keep],
    )


def left_pad(rows: Sequence[np.ndarray], length: int) -> np.ndarray:
    """The last ``length`` values of each row, right-aligned in a zero-padded (rows, length) array."""
    out = np.zeros((len(rows), length), dtype=np.int64)
    for i, row in enumerate(rows):
        tail = row[-length:]
        if len(tail):
            out[i, length - len(tail) :] = tail
    return out


SEQUENCE_FORMATS = ("pairs", "user-per-line")


def read_sequence_file(path, fmt: str = "pairs", max_users: int | None = None) -> tuple[Sequences, Vocabulary]:
    """Chronological item sequences from a public benchmark file, in the file's user order.

    ``pairs``: ``user item`` per line, oldest first within a user (BERT4Rec / SASRec files);
    ``user-per-line``: ``user item item ...`` per line (S3-Rec, ICLRec, RecBole-style files).
    """
    if fmt not in SEQUENCE_FORMATS:
        raise ValueError(f"unknown sequence format {fmt!r}; use one of {SEQUENCE_FORMATS}")
    users: list[str] = []
    rows: list[list[str]] = []
    index: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            parts = line.split()
            if not parts:
                continue
            if fmt == "pairs" and len(parts) != 2:
                raise ValueError(
                    f"{str(path)!r} line {line_no}: expected 'user item' for --format pairs, got "
                    f"{len(parts)} fields; use --format user-per-line for 'user item item ...'"
                )
            user = parts[0]
            if fmt == "pairs" and user in index:
                rows[index[user]].append(parts[1])
                continue
            if max_users is not None and len(users) >= max_users:
                continue
            index[user] = len(users)
            users.append(user)
            rows.append(parts[1:])
    vocab = Vocabulary.build(itertools.chain.from_iterable(rows), ["interaction"])
    items = [np.fromiter((vocab.item_index(i) for i in row), dtype=np.int64, count=len(row)) for row in rows]
    return Sequences(users, items, [np.ones(len(s), dtype=np.int64) for s in items]), vocab
