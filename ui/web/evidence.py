"""An Answer's evidence in the shapes the web app shows: DataFrames, Plotly figures, citations, SQL."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from agent.answer import Answer
from ui.web.markdown import quote, safe_markdown

logger = logging.getLogger(__name__)


def table_frames(answer: Answer) -> list[tuple[str, pd.DataFrame]]:
    """Each table as (title, DataFrame) with a note when rows were capped."""
    frames = []
    for table in answer.tables:
        frame = pd.DataFrame(table.rows, columns=table.columns)
        title = table.title
        if table.total_rows > len(table.rows):
            title += f" (showing {len(table.rows):,} of {table.total_rows:,} rows)"
        frames.append((title, frame))
    return frames


def figures(answer: Answer) -> list[tuple[str, go.Figure]]:
    """Each chart spec as a Plotly figure; specs Plotly rejects are skipped and logged."""
    out = []
    for chart in answer.charts:
        try:
            figure = go.Figure(chart.spec)
        except (ValueError, TypeError) as exc:
            logger.warning("chart %r has an invalid Plotly spec: %s", chart.title, exc)
            continue
        if not figure.layout.title.text:
            figure.update_layout(title=chart.title)
        figure.update_layout(margin={"l": 40, "r": 20, "t": 50, "b": 40})
        out.append((chart.title, figure))
    return out


def citations_markdown(answer: Answer) -> str:
    """Review quotes with their ids and model versions; SQL is shown separately on demand."""
    lines: list[str] = []
    sql = [c for c in answer.citations if c.kind == "sql"]
    reviews = [c for c in answer.citations if c.kind == "review"]
    models = [c for c in answer.citations if c.kind == "model"]
    if sql:
        lines.append(f"**Numbers:** from {len(sql)} SQL quer{'y' if len(sql) == 1 else 'ies'} (open *SQL* below).")
    if reviews:
        lines.append("**Reviews quoted:**")
        for c in reviews:
            lines.append(f"- review `{safe_markdown(c.ref)}`")
            if c.detail:
                lines.append("\n" + quote(c.detail) + "\n")
    if models:
        lines.append("**Models:**")
        lines.extend(f"- `{safe_markdown(c.ref)}` {safe_markdown(c.detail)}" for c in models)
    return "\n".join(lines) if lines else "_No citations for this answer._"


def sql_text(answer: Answer) -> str:
    """Every SQL statement behind the numbers, each under a comment naming what it supports."""
    blocks = []
    for c in answer.citations:
        if c.kind == "sql":
            header = f"-- {c.detail}\n" if c.detail else ""
            blocks.append(header + c.ref.strip())
    return "\n\n".join(blocks)


def step_message(
    step: int,
    tool: str,
    args: dict[str, Any],
    *,
    duration_ms: float | None = None,
    ok: bool = True,
    error: str | None = None,
) -> dict[str, Any]:
    """A collapsible chat entry for one tool call."""
    import json

    body = f"```json\n{json.dumps(args, indent=1, default=str)[:2000]}\n```"
    if error:
        body += f"\n\n**error:** {safe_markdown(error)}"
    metadata: dict[str, Any] = {"title": f"step {step} · {tool}", "id": f"step-{step}"}
    if duration_ms is None:
        metadata["status"] = "pending"
    else:
        metadata.update(status="done", duration=round(duration_ms / 1000, 3), log="ok" if ok else "failed")
    return {"role": "assistant", "content": body, "metadata": metadata}
