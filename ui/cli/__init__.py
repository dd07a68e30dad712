"""The ``uba`` console script: one Typer app, one sub-app per noun, errors translated once."""

from __future__ import annotations

import logging
import os
import sys

import typer

from ui.cli import (
    analyze,
    ask,
    data,
    evaluate,
    index,
    keys,
    layer,
    llm,
    mcp,
    models,
    predict,
    reviews,
    serve,
    sql,
    train,
    watch,
)
from ui.cli._output import console, fail

app = typer.Typer(no_args_is_help=True, add_completion=False, help="uba: the User Behavior Analyst.")
app.add_typer(data.app, name="data")
app.add_typer(ask.app)  # top-level commands: uba ask, uba chat
app.add_typer(evaluate.app)  # top-level command: uba eval
app.add_typer(keys.app, name="keys")
app.add_typer(serve.app, name="serve")
app.add_typer(mcp.app, name="mcp")
app.add_typer(llm.app, name="llm")
app.add_typer(index.app, name="index")
app.add_typer(reviews.app, name="reviews")
app.add_typer(sql.app)  # top-level command: uba sql
app.add_typer(sql.admin, name="warehouse")
app.add_typer(analyze.app, name="analyze")
app.add_typer(layer.app, name="layer")
app.add_typer(layer.query_app)  # top-level command: uba query
app.add_typer(train.app, name="train")
app.add_typer(models.app, name="models")
app.add_typer(predict.app, name="predict")
app.add_typer(watch.app, name="watch")

_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
}


def main() -> None:
    """Entry point: offline environment, logging, then the Typer app with clean error exits."""
    for key, value in _OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    logging.basicConfig(
        level=os.environ.get("UBA_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from pydantic import ValidationError

    from agent.errors import AgentError
    from agent.settings import settings_error_text
    from warehouse import WarehouseError  # imported late so --help stays fast

    try:
        app(standalone_mode=False)
    except (WarehouseError, AgentError) as exc:
        fail(str(exc))
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        fail(settings_error_text(exc))
    except typer.Abort:
        console.print("aborted")
        sys.exit(130)
    except (typer.BadParameter, typer.Exit) as exc:
        if isinstance(exc, typer.Exit):
            sys.exit(exc.exit_code)
        fail(str(exc))
    except Exception as exc:  # click's usage errors (Typer's own copy of click) arrive here in non-standalone mode
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()  # a group called without its command has printed its help already; show() adds nothing
            sys.exit(code)
        raise


__all__ = ["app", "main"]
