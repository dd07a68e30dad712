"""The embedded model's weights for the live tests: skip with the fix when they are missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def data_dir_with_model(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A fresh data dir whose ``llm/`` links the assembled embedded model (from ``UBA_DATA_DIR`` or the
    repo's ``.uba``); skips when llama.cpp or the weights are missing."""
    pytest.importorskip("llama_cpp", reason="the embedded model needs the local-llm extra (make test-live)")
    from agent._weights import BUNDLED_MODELS

    model = BUNDLED_MODELS["qwen2.5-coder-1.5b"]
    weights = Path(os.environ.get("UBA_DATA_DIR", REPO / ".uba")) / "llm" / model.filename
    if not weights.is_file():
        pytest.skip(f"{weights} is missing; assemble it with: uba llm fetch")
    data_dir = tmp_path_factory.mktemp(name)
    (data_dir / "llm").mkdir()
    (data_dir / "llm" / model.filename).symlink_to(weights.resolve())
    return data_dir
