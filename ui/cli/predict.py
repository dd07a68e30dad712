"""``uba predict next|churn|forecast``: the prediction tools from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from ui.cli._output import console, fail, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Predict next actions, churn risk and metric forecasts.")
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _show(call, as_json: bool) -> None:
    from langchain_core.tools import ToolException

    from agent.factory import build_prediction_tools
    from agent.settings import Settings
    from predictor import PredictorError
    from warehouse import WarehouseError

    try:
        text, artifact = call(build_prediction_tools(Settings()))
    except (ToolException, PredictorError, WarehouseError) as exc:
        fail(str(exc).removeprefix("error: "))
    if as_json:
        print_json({"text": text, **artifact.model_dump(mode="json")})
        return
    console.print(text, highlight=False)
    for table in artifact.tables:
        print_table(table.title, table.columns, table.rows)


@app.command("next")
def next_cmd(
    user_id: Annotated[str, typer.Argument(help="The user's id.")],
    k: Annotated[int, typer.Option("-k", "--top", min=1, max=20, help="How many items.")] = 5,
    as_json: AsJson = False,
) -> None:
    """A user's most likely next items and next action."""
    from tools.predictions import PredictNextArgs

    _show(lambda t: t.predict_next(PredictNextArgs(user_id=user_id, k=k)), as_json)


@app.command("churn")
def churn_cmd(
    user: Annotated[str | None, typer.Option(help="One user's id.")] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=50, help="How many highest-risk users.")] = 10,
    segment: Annotated[str | None, typer.Option(help="country, device or channel.")] = None,
    value: Annotated[str | None, typer.Option(help="The segment's value, e.g. US.")] = None,
    as_json: AsJson = False,
) -> None:
    """Churn risk of one user, or the highest-risk users (optionally of one segment)."""
    from pydantic import ValidationError

    from tools.predictions import ChurnRiskArgs

    try:
        args = ChurnRiskArgs(user_id=user, top_n=top, segment=segment, segment_value=value)
    except ValidationError as exc:
        fail(f"invalid arguments: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
    _show(lambda t: t.churn_risk(args), as_json)


@app.command("forecast")
def forecast_cmd(
    metric: Annotated[str, typer.Argument(help="purchases, revenue or active_users.")],
    horizon: Annotated[int, typer.Option(min=1, max=28, help="Periods ahead.")] = 7,
    grain: Annotated[str, typer.Option(help="day or week.")] = "day",
    as_json: AsJson = False,
) -> None:
    """A metric's forecast with 80%/95% prediction intervals."""
    from pydantic import ValidationError

    from tools.predictions import ForecastArgs

    try:
        args = ForecastArgs(metric=metric, horizon=horizon, grain=grain)
    except ValidationError as exc:
        fail(f"invalid arguments: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
    _show(lambda t: t.forecast(args), as_json)
