"""The model registry: versioned directories under ``<data dir>/models/<name>/v<NNNN>/``.

Each version holds its files and a ``meta.json`` (name, version, created_at, training-data
fingerprint, metrics, protocol, config, per-file sha256). A version is written to a temporary
directory and renamed into place, so a half-written model is never listed; loading re-checks
the checksums, so a damaged file is reported instead of being unpickled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from predictor.errors import ModelCorrupt, ModelNotTrained

logger = logging.getLogger(__name__)

MODEL_NAMES = ("next", "churn", "purchase", "forecast")
_META = "meta.json"


@dataclass
class ModelVersion:
    """One saved version of a model: where it lives and what it records."""

    name: str
    version: int
    created_at: str
    fingerprint: str
    metrics: dict[str, Any]
    protocol: str
    config: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    path: Path = Path()

    @property
    def label(self) -> str:
        """``name vN``, the form tools cite."""
        return f"{self.name} v{self.version}"

    def file(self, filename: str) -> Path:
        """The path of one of this version's files, after verifying its checksum."""
        path = self.path / filename
        expected = self.files.get(filename)
        if expected is None:
            raise ModelCorrupt(f"model {self.label} has no file {filename!r}; retrain with `uba train {self.name}`")
        if not path.is_file():
            raise ModelCorrupt(f"model file {str(path)!r} is missing; retrain with `uba train {self.name}`")
        if _sha256(path) != expected:
            raise ModelCorrupt(
                f"model file {str(path)!r} does not match its recorded checksum (damaged or edited); "
                f"retrain with `uba train {self.name}`"
            )
        return path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelRegistry:
    """Versioned models in one directory; the newest complete version is the one in use."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _versions_dir(self, name: str) -> Path:
        if name not in MODEL_NAMES:
            raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")
        return self.root / name

    def save(
        self,
        name: str,
        files: dict[str, Path],
        *,
        fingerprint: str,
        metrics: dict[str, Any],
        protocol: str,
        config: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Move ``files`` (name -> temporary path) into a new version directory, atomically."""
        parent = self._versions_dir(name)
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))
        try:
            recorded = {}
            for filename, source in files.items():
                shutil.move(str(source), staging / filename)
                recorded[filename] = _sha256(staging / filename)
            version = max((v.version for v in self.versions(name, include_broken=True)), default=0) + 1
            meta = ModelVersion(
                name,
                version,
                datetime.now(UTC).isoformat(timespec="seconds"),
                fingerprint,
                metrics,
                protocol,
                config or {},
                recorded,
            )
            payload = meta.to_dict()
            payload.pop("path")
            (staging / _META).write_text(json.dumps(payload, indent=2, default=str))
            final = parent / f"v{version:04d}"
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        meta.path = final
        logger.info("saved %s at %s", meta.label, final)
        return meta

    def versions(self, name: str, *, include_broken: bool = False) -> list[ModelVersion]:
        """Every version of ``name``, oldest first; unreadable metadata is skipped unless ``include_broken``."""
        parent = self._versions_dir(name)
        out = []
        for path in sorted(parent.glob("v[0-9]*")) if parent.is_dir() else []:
            try:
                raw = json.loads((path / _META).read_text())
                out.append(ModelVersion(**{**raw, "path": path}))
            except (OSError, ValueError, TypeError) as exc:
                logger.warning("model version %s has unreadable metadata (%s); skipped", path, exc)
                if include_broken:
                    out.append(ModelVersion(name, int(path.name[1:]), "", "", {}, "unreadable", path=path))
        return out

    def latest(self, name: str) -> ModelVersion:
        """The newest version with readable metadata, or :class:`ModelNotTrained` naming the command."""
        found = self.versions(name)
        if not found:
            raise ModelNotTrained(f"no {name!r} model trained yet; run `uba train {name}`")
        return found[-1]

    def list_all(self) -> list[ModelVersion]:
        """Every readable version of every model."""
        return [v for name in MODEL_NAMES for v in self.versions(name)]
