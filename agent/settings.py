"""The one Settings object: environment variables prefixed ``UBA_``, read only by the composition root."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of uba; precedence is explicit argument > environment (``UBA_*``) > default."""

    model_config = SettingsConfigDict(env_prefix="UBA_", extra="ignore")

    data_dir: Path = Field(Path(".uba"), description="Where the warehouse, index, models and memory live.")
    warehouse_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the behavior warehouse; default: a DuckDB file in the data dir.",
    )

    def resolved_warehouse_url(self) -> str:
        """The warehouse URL, defaulting to ``duckdb:///<data_dir>/warehouse.duckdb``."""
        if self.warehouse_url:
            return self.warehouse_url
        return f"duckdb:///{(self.data_dir / 'warehouse.duckdb').resolve()}"
