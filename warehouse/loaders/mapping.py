"""How a generic source maps onto the canonical tables: a YAML mapping file or the same fields as CLI flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from warehouse.errors import IngestError
from warehouse.schema import EVENT_TYPES
from warehouse.yaml_file import read_mapping

EVENT_TARGETS = ("event_id", "user_id", "session_id", "ts", "event_type", "item_id", "value", "order_id", "quantity")
ITEM_TARGETS = ("title", "category", "brand", "price")
USER_TARGETS = ("country", "device", "channel", "signup_ts", "email")
TARGETS = EVENT_TARGETS + ITEM_TARGETS + USER_TARGETS
"""Canonical columns a mapping may fill."""
SEPARATORS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|", "whitespace": "whitespace", "space": "whitespace"}
"""Separator spellings accepted, and what each means."""


def _known_targets(names, where: str, allowed=TARGETS) -> None:
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a canonical {where}; use one of {', '.join(allowed)}")


def _separator(value: str | None) -> str | None:
    if value is None or value in SEPARATORS:
        return None if value is None else SEPARATORS[value]
    raise ValueError(f"separator {value!r} is not one of {', '.join(map(repr, SEPARATORS))}")


class SideTable(BaseModel):
    """A users or items file loaded beside the events: its path, column renames and separator."""

    model_config = ConfigDict(extra="forbid")
    path: Path
    columns: dict[str, str] = Field(default_factory=dict, description="canonical column -> file column")
    separator: str | None = None

    @field_validator("separator")
    @classmethod
    def _known_separator(cls, value: str | None) -> str | None:
        return _separator(value)

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict) -> dict:
        _known_targets(value, "column", ("user_id", "item_id", *ITEM_TARGETS, *USER_TARGETS))
        return value


class SourceMapping(BaseModel):
    """Column renames, constants, value maps, separator, time format, duplicate key, orders and side tables."""

    model_config = ConfigDict(extra="forbid")
    columns: dict[str, str] = Field(default_factory=dict, description="canonical column -> source column")
    constants: dict[str, str] = Field(default_factory=dict, description="canonical column -> value for every row")
    values: dict[str, dict[str, str]] = Field(default_factory=dict, description="column -> {source value: value}")
    separator: str | None = Field(None, description="',', ';', tab, '|' or whitespace (sniffed when absent)")
    names: list[str] | None = Field(None, description="column names of a file without a header row")
    ts_format: str | None = Field(None, description="iso, yyyymmdd, unix_s/ms/us/ns or a strftime pattern")
    key: list[str] = Field(default_factory=list, description="canonical columns that identify one event")
    anonymous: Literal["session", "skip"] = Field("session", description="rows without a user")
    orders: bool = Field(False, description="build orders and order_items from purchase rows")
    users: SideTable | None = None
    items: SideTable | None = None

    @field_validator("separator")
    @classmethod
    def _known_separator(cls, value: str | None) -> str | None:
        return _separator(value)

    @field_validator("columns", "constants", "values")
    @classmethod
    def _known_columns(cls, value: dict) -> dict:
        _known_targets(value, "column")
        return value

    @field_validator("key")
    @classmethod
    def _known_key(cls, value: list[str]) -> list[str]:
        _known_targets(value, "event column", EVENT_TARGETS)
        return value

    def event_map(self) -> dict[str, str]:
        """Source event name -> canonical event type."""
        return self.values.get("event_type", {})

    def merged(self, **flags) -> SourceMapping:
        """This mapping with CLI flags on top (flags win)."""
        data = self.model_dump(exclude_unset=True)
        for name, value in flags.items():
            if value in (None, {}, [], False):
                continue
            if isinstance(value, dict) and name == "values":
                data["values"] = {
                    **data.get("values", {}),
                    **{k: {**data.get("values", {}).get(k, {}), **v} for k, v in value.items()},
                }
            elif isinstance(value, dict):
                data[name] = {**data.get(name, {}), **value}
            else:
                data[name] = value
        return build(data, "flags")

    def check_event_types(self) -> None:
        """Raise when a mapped or constant event type is not canonical."""
        for source, target in self.event_map().items():
            if target not in EVENT_TYPES:
                raise IngestError(
                    f"--event-map {source}={target}: {target!r} is not an event type; use one of {', '.join(EVENT_TYPES)}"
                )
        constant = self.constants.get("event_type")
        if constant is not None and constant not in EVENT_TYPES and constant not in self.event_map():
            raise IngestError(
                f"--const event_type={constant}: {constant!r} is not an event type; use one of {', '.join(EVENT_TYPES)}"
            )


_FLAGS = {
    "columns": "columns (--map)",
    "constants": "constants (--const)",
    "values": "values (--value-map)",
    "separator": "separator (--sep)",
    "key": "key (--key)",
    "ts_format": "ts_format (--ts-format)",
}


def build(data: dict, where: str) -> SourceMapping:
    """A mapping from plain data, with a clear error naming the bad field."""
    try:
        return SourceMapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        field = _FLAGS.get(field, field)
        message = first["msg"].removeprefix("Value error, ")
        raise IngestError(f"{where}: {field}: {message}; fix the mapping (nothing was written)") from None


def load_mapping(path: Path | str) -> SourceMapping:
    """Read a YAML mapping file; side-table paths are relative to the file's folder."""
    path = Path(path)
    data = read_mapping(path, IngestError, "mapping file")
    for side in ("users", "items"):
        if isinstance(data.get(side), dict) and "path" in data[side]:
            data[side]["path"] = str(path.parent / data[side]["path"])
    return build(data, f"mapping file {str(path)!r}")
