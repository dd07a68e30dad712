"""``uba reviews``: search review texts and count ratings, for analysts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from ui.cli._output import console, fail, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Search customer reviews and count their ratings.")

Item = Annotated[str | None, typer.Option(help="Only reviews of this item_id.")]
Category = Annotated[str | None, typer.Option(help="Only reviews of items in this category.")]
MinRating = Annotated[int | None, typer.Option(min=1, max=5, help="Lowest star rating.")]
MaxRating = Annotated[int | None, typer.Option(min=1, max=5, help="Highest star rating.")]
Since = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="On or after this date (YYYY-MM-DD).")]
Until = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="On or before this date (YYYY-MM-DD).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _day(value: datetime | None):
    return value.date() if value else None


@app.command("search")
def search_cmd(
    query: Annotated[str, typer.Argument(help="Words, a product name or a complaint to look for.")],
    item: Item = None,
    category: Category = None,
    min_rating: MinRating = None,
    max_rating: MaxRating = None,
    since: Since = None,
    until: Until = None,
    k: Annotated[int, typer.Option("-k", "--top", min=1, max=100, help="How many reviews.")] = 10,
    as_json: AsJson = False,
) -> None:
    """Hybrid (meaning + keyword) search over the indexed reviews."""
    from agent.factory import open_review_index
    from agent.settings import Settings
    from vectorstore import VectorStoreError, search_reviews

    try:
        index = open_review_index(Settings())
        hits = search_reviews(
            index,
            query,
            item=item,
            category=category,
            min_rating=min_rating,
            max_rating=max_rating,
            since=_day(since),
            until=_day(until),
            k=k,
        )
    except VectorStoreError as exc:
        fail(str(exc))
    if as_json:
        print_json([h.to_dict() for h in hits])
        return
    if not hits:
        console.print("no reviews match" + ("" if index.count() else " (the index is empty: run `uba index reviews`)"))
        return
    print_table(
        f"reviews for {query!r}",
        ["review_id", "item_id", "rating", "date", "snippet"],
        [[h.review_id, h.item_id, h.rating, h.date, h.snippet] for h in hits],
    )


@app.command("stats")
def stats_cmd(
    item: Item = None,
    category: Category = None,
    min_rating: MinRating = None,
    max_rating: MaxRating = None,
    since: Since = None,
    until: Until = None,
    grain: Annotated[str, typer.Option(help="day, week, month or year.")] = "month",
    as_json: AsJson = False,
) -> None:
    """Rating distribution and reviews per period (SQL on the warehouse)."""
    from agent.factory import open_warehouse
    from agent.settings import Settings
    from vectorstore import ReviewFilter, VectorStoreError, review_stats

    if grain not in ("day", "week", "month", "year"):
        fail(f"--grain {grain!r} is not one of day, week, month, year")
    warehouse = open_warehouse(Settings())
    try:
        flt = ReviewFilter(
            item=item,
            category=category,
            min_rating=min_rating,
            max_rating=max_rating,
            since=_day(since),
            until=_day(until),
        )
        stats = review_stats(warehouse, flt, grain=grain)  # type: ignore[arg-type]
    except VectorStoreError as exc:
        fail(str(exc))
    finally:
        warehouse.dispose()
    if as_json:
        print_json(stats.to_dict())
        return
    console.print(f"{stats.total:,} reviews, average rating {stats.average_rating}")
    print_table("ratings", ["rating", "reviews"], [[s, f"{n:,}"] for s, n in stats.ratings.items()])
    print_table(f"reviews per {stats.grain}", [stats.grain, "reviews", "average"], [list(r) for r in stats.over_time])
