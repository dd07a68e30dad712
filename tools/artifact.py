"""What a tool hands the Answer besides its text for the LLM: tables, chart specs, citations.

This module owns the artifact contract shared by tools, the agent's Answer and the UI/API.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

REFUSED = "error: refused: "
"""How a tool's text starts when it refused on policy (writing data, reading files): the agent
answers with the refusal instead of letting the model try again."""

NOTE_PREFIX = "note: "
"""Starts each line of a tool result saying the result is likely wrong as it stands and how to fix the
call (``tools/sql_hints.py``); the agent then reminds the model to follow it rather than to answer."""


class Table(BaseModel):
    """A result table, complete (not the LLM's truncated view)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    total_rows: int = Field(description="rows the query produced; may exceed len(rows) when capped")


class Chart(BaseModel):
    """A declarative chart spec built by our code from a tool result, never by the model."""

    title: str
    format: Literal["plotly"] = "plotly"
    spec: dict[str, Any] = Field(description="Plotly figure JSON: {'data': [...], 'layout': {...}}")


class Citation(BaseModel):
    """Where a number, quote or forecast came from."""

    kind: Literal["sql", "review", "model"]
    ref: str = Field(description="the SQL text, the review id, or the model name and version")
    detail: str = Field("", description="what it supports, e.g. the tool and its arguments or a quote")


class ToolArtifact(BaseModel):
    """Everything a tool call contributes to the Answer beyond its text."""

    tool: str
    tables: list[Table] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
