"""docs/configuration.md, rendered from the Settings model so the settings table cannot drift."""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from agent.settings import Settings

HEADER = """\
# Configuration

Every setting is an environment variable with the prefix `UBA_` (or an explicit argument to
`Settings(...)` in code); precedence is argument > environment > default. A bad value stops uba
with a line naming the variable, the value and the fix.

This file is generated from `agent/settings.py` (`python -m agent.settings_doc`); edit the field's
description there, not here. `tests/test_docs.py` fails when the two disagree
(`UBA_UPDATE_DOCS=1` rewrites this file).

| variable | type | default | meaning |
|---|---|---|---|
"""


def type_text(annotation: object) -> str:
    """A field's type as a reader writes it: `int`, `path or unset`, `local | vllm | ...`."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = [type_text(a) for a in args if a is not type(None)]
        return " or ".join(kinds) + (" or unset" if type(None) in args else "")
    if annotation is SecretStr:
        return "secret"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def default_text(field: FieldInfo) -> str:
    """The default as the environment would spell it; unset ones say so (their description says what applies)."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def configuration_markdown() -> str:
    """The whole of docs/configuration.md: one row per Settings field, in the model's order."""
    rows = []
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `UBA_{name.upper()}` | {type_text(field.annotation)} | {default_text(field)} | {meaning} |")
    return HEADER + "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    """Write the configuration page to the path given (default: docs/configuration.md)."""
    target = Path(argv[0]) if argv else Path("docs/configuration.md")
    target.write_text(configuration_markdown())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
