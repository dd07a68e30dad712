"""Registry round trip; damaged, missing or absent models give clear errors naming the fix."""

from __future__ import annotations

import json

import pytest

from predictor import ModelCorrupt, ModelNotTrained, ModelRegistry


def _save(registry, tmp_path, name="forecast", payload=b"weights"):
    src = tmp_path / "blob.bin"
    src.write_bytes(payload)
    return registry.save(name, {"model.bin": src}, fingerprint="abc", metrics={"m": 1.5}, protocol="p", config={"c": 2})


def test_round_trip_versions_and_latest(tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(ModelNotTrained, match="uba train next"):
        registry.latest("next")
    first = _save(registry, tmp_path)
    second = _save(registry, tmp_path, payload=b"better")
    assert (first.version, second.version) == (1, 2)
    latest = registry.latest("forecast")
    assert latest.label == "forecast v2" and latest.fingerprint == "abc" and latest.metrics == {"m": 1.5}
    assert latest.protocol == "p" and latest.config == {"c": 2} and latest.created_at
    assert latest.file("model.bin").read_bytes() == b"better"
    assert [v.label for v in registry.list_all()] == ["forecast v1", "forecast v2"]
    assert not list((tmp_path / "models" / "forecast").glob(".staging-*"))


def test_damaged_or_missing_file_is_a_clear_error(tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    version = _save(registry, tmp_path)
    (version.path / "model.bin").write_bytes(b"tampered")
    with pytest.raises(ModelCorrupt, match="checksum.*uba train forecast"):
        registry.latest("forecast").file("model.bin")
    (version.path / "model.bin").unlink()
    with pytest.raises(ModelCorrupt, match="missing.*uba train forecast"):
        registry.latest("forecast").file("model.bin")


def test_unreadable_metadata_is_skipped_for_the_previous_good_version(tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    _save(registry, tmp_path)
    broken = _save(registry, tmp_path)
    (broken.path / "meta.json").write_text("{not json")
    assert registry.latest("forecast").version == 1
    assert _save(registry, tmp_path).version == 3  # never reuses a number
    json.loads((registry.latest("forecast").path / "meta.json").read_text())


def test_unknown_model_name_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown model 'nxt'"):
        ModelRegistry(tmp_path).latest("nxt")
