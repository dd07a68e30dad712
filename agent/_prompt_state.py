"""The static prompt prefix's llama.cpp state on disk, so a cold process does not evaluate it again.

The prefix is whatever every request of the agent starts with: the system prompt and the tool
schemas as the chat template renders them, up to the first token that differs between two
questions. It is evaluated once per (llama.cpp version, model file, exact prefix tokens, context
size), saved with ``llama_state_save_file`` under the data dir and loaded by later processes
(measured on a 2-core CPU: ~4,000 prompt tokens took ~70 s to evaluate and load in under a second).
A file is trusted only when its sidecar's key, size and sha256 match; anything else is logged,
removed and rebuilt.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024
FORMAT = 1


def common_prefix(first: Sequence[int], second: Sequence[int]) -> list[int]:
    """The tokens two prompts share from their start."""
    n = 0
    for a, b in zip(first, second):
        if a != b:
            break
        n += 1
    return list(first[:n])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class PrefixKey:
    """What a saved prefix state depends on; any change gives another file."""

    library: str
    model: str
    model_size: int
    model_mtime_ns: int
    n_ctx: int
    tokens_sha256: str
    n_tokens: int

    @classmethod
    def of(cls, model_path: Path, tokens: Sequence[int], n_ctx: int) -> PrefixKey:
        import llama_cpp

        stat = model_path.stat()
        ids = json.dumps([int(t) for t in tokens]).encode("ascii")
        return cls(
            library=f"llama-cpp-python {llama_cpp.__version__}",
            model=str(model_path.resolve()),
            model_size=stat.st_size,
            model_mtime_ns=stat.st_mtime_ns,
            n_ctx=n_ctx,
            tokens_sha256=hashlib.sha256(ids).hexdigest(),
            n_tokens=len(tokens),
        )

    def digest(self) -> str:
        fields = json.dumps(self.__dict__, sort_keys=True).encode("utf-8")
        return hashlib.sha256(fields).hexdigest()[:24]


class PrefixStates:
    """Saved prefix states of one model in a directory (``<data dir>/llm/prompt-state``)."""

    def __init__(self, directory: Path, model_path: Path, n_ctx: int) -> None:
        self.directory = directory
        self.model_path = model_path
        self.n_ctx = n_ctx

    def paths(self, key: PrefixKey) -> tuple[Path, Path]:
        stem = f"{self.model_path.stem}-{key.digest()}"
        return self.directory / f"{stem}.state", self.directory / f"{stem}.json"

    def restore(self, llama: Any, tokens: Sequence[int]) -> str:
        """Put ``tokens`` into ``llama``'s KV cache: ``cached`` (already there), ``loaded`` (from disk)
        or ``evaluated`` (and saved for the next process)."""
        tokens = [int(t) for t in tokens]
        if not tokens:
            return "cached"
        if len(common_prefix(llama._input_ids, tokens)) == len(tokens):
            return "cached"
        key = PrefixKey.of(self.model_path, tokens, self.n_ctx)
        state, meta = self.paths(key)
        if state.exists() or meta.exists():
            started = time.perf_counter()
            problem = self._load(llama, key, tokens, state, meta)
            if problem is None:
                logger.info(
                    "prompt prefix of %d tokens loaded from %s in %.2f s",
                    len(tokens),
                    state,
                    time.perf_counter() - started,
                )
                return "loaded"
            logger.warning("ignoring the saved prompt state %s (%s); evaluating the prefix again", state, problem)
            llama.reset()
            for path in (state, meta):
                path.unlink(missing_ok=True)
        started = time.perf_counter()
        self._evaluate(llama, tokens)
        evaluated = time.perf_counter() - started
        try:
            self._save(llama, key, tokens, state, meta)
            logger.info("prompt prefix of %d tokens evaluated in %.1f s and saved to %s", len(tokens), evaluated, state)
        except OSError as exc:
            logger.warning("could not save the prompt state to %s: %s", state, exc)
        return "evaluated"

    @staticmethod
    def _evaluate(llama: Any, tokens: list[int]) -> None:
        keep = len(common_prefix(llama._input_ids, tokens))
        llama.n_tokens = keep
        llama.eval(tokens[keep:])  # eval drops the cache past n_tokens first

    def _save(self, llama: Any, key: PrefixKey, tokens: list[int], state: Path, meta: Path) -> None:
        import llama_cpp

        self.directory.mkdir(parents=True, exist_ok=True)
        part = state.with_name(f"{state.name}.{os.getpid()}.part")
        ids = (llama_cpp.llama_token * len(tokens))(*tokens)
        try:
            if not llama_cpp.llama_state_save_file(llama._ctx.ctx, str(part).encode(), ids, len(tokens)):
                raise OSError(f"llama.cpp could not write {str(part)!r}")
            record = {"format": FORMAT, "key": key.__dict__, "bytes": part.stat().st_size, "sha256": _sha256(part)}
            part.replace(state)
            meta_part = meta.with_name(f"{meta.name}.{os.getpid()}.part")
            meta_part.write_text(json.dumps(record, indent=1), encoding="utf-8")
            meta_part.replace(meta)  # last: a state file without its sidecar is never trusted
        finally:
            part.unlink(missing_ok=True)

    @staticmethod
    def _load(llama: Any, key: PrefixKey, tokens: list[int], state: Path, meta: Path) -> str | None:
        """None when the state is in place, else why it was not used."""
        import llama_cpp

        try:
            record = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"unreadable sidecar {meta.name}: {exc}"
        if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("key") != key.__dict__:
            return "its key does not match this model, prefix and context size"
        try:
            size = state.stat().st_size
        except OSError as exc:
            return f"state file missing: {exc}"
        if size != record.get("bytes") or _sha256(state) != record.get("sha256"):
            return f"state file of {size:,} bytes does not match its recorded size and sha256"
        ids = (llama_cpp.llama_token * llama.n_ctx())()
        count = ctypes.c_size_t(0)
        if not llama_cpp.llama_state_load_file(
            llama._ctx.ctx, str(state).encode(), ids, llama.n_ctx(), ctypes.byref(count)
        ):
            return "llama.cpp refused to load it"
        if list(ids[: count.value]) != tokens:
            return "it holds other tokens than this prefix"
        llama.input_ids[: len(tokens)] = tokens
        llama.n_tokens = len(tokens)
        llama._requires_eval = True  # the restored logits are not a live decode's
        return None
