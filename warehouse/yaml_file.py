"""Reading an operator's YAML file (a loader mapping, the semantic layer) with one clear error per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_mapping(path: Path, error: type[Exception], what: str) -> dict[str, Any]:
    """The file's top-level mapping ({} when empty); ``error`` naming ``what`` and the fix otherwise."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise error(f"{what} {str(path)!r} cannot be read ({exc.strerror}); check the path") from None
    except yaml.YAMLError as exc:
        raise error(f"{what} {str(path)!r} is not valid YAML ({exc}); fix its syntax") from None
    if not isinstance(data, dict):
        raise error(f"{what} {str(path)!r} must hold a YAML mapping at its top level")
    return data
