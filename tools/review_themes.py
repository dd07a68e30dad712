"""The ``review_themes`` tool: what the reviews passing a filter talk about, as counted themes with quotes.

The themes come from ``vectorstore.themes`` (k-means on the stored embeddings, keyword labels by
class-based TF-IDF), not from the LLM. Quotes are delimited and defanged as in ``search_reviews``.
"""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import Field

from tools.artifact import Chart, Citation, Table, ToolArtifact
from tools.reviews import DATA_NOTE, ReviewFilterArgs, _attr, _cut, _filters_text
from vectorstore import BadFilter, VectorStoreError, defang_markup
from vectorstore.themes import MAX_THEMES, ThemeReport, review_themes

QUOTE_CHARS_FOR_LLM = 160


class ReviewThemesArgs(ReviewFilterArgs):
    """Arguments of ``review_themes``."""

    k: int | None = Field(
        None, ge=2, le=MAX_THEMES, description="How many themes; default: chosen from the number of reviews."
    )


def themes_text_and_artifact(report: ThemeReport, args: dict) -> tuple[str, ToolArtifact]:
    """The LLM's bounded view of the themes and the Answer's table, bar chart and review citations."""
    filters = _filters_text(args)
    if not report.themes:
        text = (
            f"{report.matched} reviews match (filters: {filters}): too few to group into themes; "
            "use search_reviews to quote them."
        )
        return text, ToolArtifact(tool="review_themes")
    sample = f" (a random sample of {report.clustered})" if report.clustered < report.matched else ""
    lines = [
        f"{report.matched} reviews (filters: {filters}){sample} fall into {len(report.themes)} themes, "
        f"largest first; each theme is named by its most distinctive words. {DATA_NOTE}"
    ]
    rows, citations = [], []
    for n, theme in enumerate(report.themes, start=1):
        avg = f", average rating {theme.average_rating:.1f}" if theme.average_rating is not None else ""
        lines.append(f"{n}. {_attr(theme.label)}: {theme.count} reviews ({theme.share:.0%}){avg}")
        for q in theme.quotes:
            quote = defang_markup(q.text)
            lines.append(
                f'<review id="{_attr(q.review_id)}" rating="{q.rating}">\n{_cut(quote, QUOTE_CHARS_FOR_LLM)}\n</review>'
            )
            citations.append(Citation(kind="review", ref=q.review_id, detail=f"theme {theme.label}: {quote}"))
        rows.append(
            [
                theme.label,
                ", ".join(theme.keywords),
                theme.count,
                theme.share,
                theme.average_rating,
                ", ".join(q.review_id for q in theme.quotes),
            ]
        )
    table = Table(
        title="review themes",
        columns=["theme", "keywords", "reviews", "share", "average_rating", "quoted"],
        rows=rows,
        total_rows=len(rows),
    )
    labels = [t.label for t in report.themes]
    chart = Chart(
        title="review themes",
        spec={
            "data": [
                {
                    "type": "bar",
                    "orientation": "h",
                    "y": labels[::-1],
                    "x": [t.count for t in report.themes][::-1],
                    "text": [f"{t.share:.0%}" for t in report.themes][::-1],
                    "name": "reviews",
                    "hovertext": [" | ".join(defang_markup(q.text)[:120] for q in t.quotes) for t in report.themes][
                        ::-1
                    ],
                }
            ],
            "layout": {
                "title": {"text": f"themes of {report.matched} reviews"},
                "xaxis": {"title": {"text": "reviews"}},
                "margin": {"l": 220},
            },
        },
    )
    return "\n".join(lines), ToolArtifact(tool="review_themes", tables=[table], charts=[chart], citations=citations)


def review_themes_tool(index) -> BaseTool:
    """The ``review_themes`` tool over ``index`` (a ReviewIndex)."""

    def run(**kwargs) -> tuple[str, ToolArtifact]:
        parsed = ReviewThemesArgs(**kwargs)
        args = parsed.model_dump()
        try:
            report = review_themes(index, parsed.review_filter(), k=args["k"])
        except BadFilter as exc:
            raise ToolException(f"error: {exc}") from None
        except VectorStoreError as exc:
            raise ToolException(f"error: the review index is unavailable: {exc}") from None
        if report.matched == 0 and index.count() == 0:
            raise ToolException("error: the review index is empty; reviews have not been indexed (uba index reviews)")
        return themes_text_and_artifact(report, args)

    return StructuredTool.from_function(
        func=run,
        name="review_themes",
        description="Group the reviews of an item, category, rating range or period into counted themes "
        "(what customers complain about or praise most), with quotes.",
        args_schema=ReviewThemesArgs,
        response_format="content_and_artifact",
        handle_tool_error=True,
    )
