"""Assembling bundled GGUF weights from part packages: order, sha256, atomic write, clear errors."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from agent._weights import BUNDLED_MODELS, BundledModel, assemble, resolve_gguf, verify
from agent.errors import ModelFileError


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[BundledModel, bytes]:
    """Three installed part packages holding a 300 KB file split unevenly."""
    payload = bytes(range(256)) * 1200
    root = tmp_path / "site"
    for n, piece in enumerate([payload[:100_000], payload[100_000:250_001], payload[250_001:]], start=1):
        data = root / f"uba_testparts_part{n}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{n:02d}.bin").write_bytes(piece)
    monkeypatch.syspath_prepend(str(root))
    for n in range(1, 4):
        sys.modules.pop(f"uba_testparts_part{n}", None)
    model = BundledModel(
        name="test-model",
        filename="test.gguf",
        package_prefix="uba_testparts_part",
        parts=3,
        size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        upstream="-",
        hf_name="-",
    )
    return model, payload


def test_parts_concatenate_in_order_into_the_data_dir(parts, tmp_path: Path) -> None:
    model, payload = parts
    path = assemble(model, tmp_path / "data")
    assert path == tmp_path / "data" / "llm" / "test.gguf"
    assert path.read_bytes() == payload
    verify(path, model)
    assert [p.name for p in path.parent.iterdir()] == ["test.gguf"]  # no temp file left


def test_sha256_mismatch_leaves_nothing_behind(parts, tmp_path: Path) -> None:
    model, _ = parts
    wrong = BundledModel(**{**model.__dict__, "sha256": "0" * 64})
    with pytest.raises(ModelFileError, match="expected .* 0000.*reinstall the part packages"):
        assemble(wrong, tmp_path / "data")
    assert list((tmp_path / "data" / "llm").iterdir()) == []


def test_a_corrupted_file_fails_verification(parts, tmp_path: Path) -> None:
    model, _ = parts
    path = assemble(model, tmp_path / "data")
    with path.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01")
    with pytest.raises(ModelFileError, match="uba llm fetch --force"):
        verify(path, model)


def test_missing_part_package_names_the_install_command(tmp_path: Path) -> None:
    model = BundledModel(
        name="x",
        filename="x.gguf",
        package_prefix="uba_absent_part",
        parts=2,
        size=1,
        sha256="0" * 64,
        upstream="-",
        hf_name="-",
    )
    with pytest.raises(ModelFileError, match=r"'uba_absent_part1' is not installed.*\[local-llm\]"):
        assemble(model, tmp_path)


def test_unknown_model_name_lists_the_bundled_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="qwen2.5-coder-0.5b"):
        resolve_gguf("qwen-9000", tmp_path)
    assert BUNDLED_MODELS["qwen2.5-coder-1.5b"].size == 1_117_320_768
