"""One small demo warehouse with trained models, shared by the predictor tests of a run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trained_env import build_env  # noqa: E402


@pytest.fixture(scope="session")
def trained_data_dir(tmp_path_factory):
    """A data dir laid out as ``uba`` expects: ``warehouse.duckdb`` and ``models/``."""
    root = tmp_path_factory.mktemp("predictor-data")
    return root, build_env(root)
