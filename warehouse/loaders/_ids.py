"""Deterministic 64-bit ids: the same input always gets the same ids, on any machine."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def source_seed(key: str) -> np.uint64:
    """A 64-bit seed for one source (``format:filename``)."""
    return np.uint64(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little"))


def _mix(values: np.ndarray) -> np.ndarray:
    # splitmix64's finaliser: a bijection on 64-bit integers, so distinct inputs never collide.
    with np.errstate(over="ignore"):
        z = values + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def line_ids(key: str, first_line: int, count: int) -> pa.Array:
    """Event ids for ``count`` consecutive lines starting at ``first_line`` of source ``key``."""
    with np.errstate(over="ignore"):
        lines = np.arange(first_line, first_line + count, dtype=np.uint64) + source_seed(key)
    return pa.array(_mix(lines).view(np.int64))


def content_ids(key: str, values: pa.Array | pd.Series) -> pa.Array:
    """Ids derived from a string column's values (e.g. a natural review key) within source ``key``."""
    series = values.to_pandas() if isinstance(values, (pa.Array, pa.ChunkedArray)) else values
    hashed = pd.util.hash_pandas_object(series.astype("string").fillna(""), index=False).to_numpy(np.uint64)
    return pa.array(_mix(hashed ^ source_seed(key)).view(np.int64))
