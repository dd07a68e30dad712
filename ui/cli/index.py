"""``uba index``: build or refresh the search indexes from the warehouse."""

from __future__ import annotations

from typing import Annotated

import typer

from ui.cli._output import console, fail, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Build or refresh search indexes from the warehouse.")


@app.command("reviews")
def reviews_cmd(
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="Reviews embedded and committed per batch.")] = 256,
    retrain_sentiment: Annotated[
        bool,
        typer.Option(
            "--retrain-sentiment", help="Train the sentiment classifier again on the rated reviews now indexed."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Embed new and changed reviews into the review index, drop deleted ones, score their sentiment (safe to re-run)."""
    from agent.factory import open_review_index, open_warehouse
    from agent.settings import Settings
    from vectorstore import VectorStoreError, index_reviews
    from vectorstore.sentiment_table import score_reviews

    settings = Settings()
    try:
        index = open_review_index(settings)
        warehouse = open_warehouse(settings)
        try:
            report = index_reviews(warehouse, index, batch_size=batch_size, progress=not as_json)
            sentiment = score_reviews(
                warehouse, index, settings.data_dir / "models" / "sentiment.npz", retrain=retrain_sentiment
            )
        finally:
            warehouse.dispose()
    except VectorStoreError as exc:
        fail(str(exc))
    if as_json:
        print_json({**report.to_dict(), "sentiment": sentiment.to_dict()})
        return
    console.print(f"review index: {report.location}")
    print_table(
        "index run",
        ["reviews", "new", "changed", "meta", "deleted", "same", "embedded", "seconds"],
        [
            [
                report.reviews,
                report.added,
                report.updated,
                report.metadata_only,
                report.deleted,
                report.unchanged,
                report.embedded,
                report.seconds,
            ]
        ],
    )
    print_table(
        "sentiment",
        ["model", "scored", "deleted", "same", "trained", "seconds"],
        [
            [
                sentiment.model,
                sentiment.scored,
                sentiment.deleted,
                sentiment.unchanged,
                "yes" if sentiment.trained else "no",
                sentiment.seconds,
            ]
        ],
    )
