"""``uba layer show|check`` and ``uba query``: the semantic layer, and one query spec run without a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ui.cli._output import console, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="The semantic layer: what you can ask of this warehouse.")
query_app = typer.Typer(help="Run one query spec over the semantic layer.")


def _open(path: Path | None = None):
    from agent.factory import open_readonly_warehouse, open_semantic_layer
    from agent.settings import Settings

    settings = Settings() if path is None else Settings(semantic_layer=path)
    readonly = open_readonly_warehouse(settings)
    return settings, readonly, open_semantic_layer(settings, readonly)


@app.command("show")
def show_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print the layer as JSON.")] = False) -> None:
    """List the measures and dimensions (generated from the warehouse, extended by the layer file)."""
    _, readonly, layer = _open()
    readonly.close()
    if as_json:
        print_json(layer.model_dump(mode="json"))
        return
    console.print(f"semantic layer: {layer.source}", style="bold")
    console.print(layer.describe(), highlight=False, markup=False, soft_wrap=True)


@app.command("check")
def check_cmd(path: Annotated[Path, typer.Argument(help="A semantic layer YAML file.", exists=True)]) -> None:
    """Validate a layer file against this warehouse: every entry parses, each new measure runs and each
    example's query call validates and runs."""
    from pydantic import ValidationError

    from warehouse.errors import WarehouseError
    from warehouse.safe_sql import SafeSql
    from warehouse.semantic import run_query, spec_model
    from warehouse.semantic.layer import LayerError, load_overrides

    _, readonly, layer = _open(path)
    names = list(load_overrides(path).get("measures") or {})
    model = spec_model(layer)
    try:
        for name in names:
            if layer.measures[name].agg != "rate":
                run_query(SafeSql(readonly), layer, model(measure=name))
        for i, example in enumerate(layer.examples, 1):
            if example.tool != "query":
                continue
            try:
                run_query(SafeSql(readonly), layer, model(**example.args))
            except (ValidationError, WarehouseError) as exc:
                raise LayerError(
                    f"{path}: example {i} ({example.question!r}) does not run: {str(exc).splitlines()[0]}"
                ) from None
    finally:
        readonly.close()
    console.print(
        f"{path}: valid; {len(layer.measures)} measures, {len(layer.dimensions)} dimensions "
        f"({len(names)} from the file ran), {len(layer.examples)} examples"
    )


@query_app.command("query")
def query_cmd(
    spec: Annotated[
        str, typer.Argument(help='A query spec as JSON, e.g. \'{"measure": "purchases", "last_days": 7}\'.')
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON with the SQL that ran.")] = False,
) -> None:
    """Run one query spec (what the agent's query tool runs) and print its summary, table and SQL."""
    from pydantic import ValidationError

    from agent.factory import open_safe_sql
    from warehouse.semantic import run_query, spec_model

    settings, readonly, layer = _open()
    try:
        try:
            request = spec_model(layer).model_validate(json.loads(spec))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise typer.BadParameter(f"invalid query spec: {exc}") from None
        result = run_query(open_safe_sql(settings, readonly), layer, request)
    finally:
        readonly.close()
    if as_json:
        print_json(result.to_dict())
        return
    console.print(result.summary, highlight=False, soft_wrap=True)
    print_table("query", [str(c) for c in result.table.columns], result.table.astype(object).values.tolist())
    console.print("SQL that ran:", style="bold")
    for sql in result.queries:
        console.print(sql, highlight=False, soft_wrap=True)
