"""``uba models list``: the versions in the model registry."""

from __future__ import annotations

from typing import Annotated

import typer

from ui.cli._output import console, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Inspect trained model versions.")


def _headline(version) -> str:
    m = version.metrics
    if version.name == "next" and "sasrec" in m:
        serving = m.get("serving", "sasrec")
        return (
            f"{serving} NDCG@10 {m[serving]['NDCG@10']:.4f} HR@10 {m[serving]['HR@10']:.4f} "
            f"(transitions NDCG@10 {m['transitions']['NDCG@10']:.4f})"
        )
    if version.name in ("churn", "purchase") and "auc" in m:
        return f"AUC {m['auc']} Brier {m['brier']}"
    if version.name == "forecast":
        scored = {k: v for k, v in m.items() if "mase_holt_winters" in v}
        return "; ".join(f"{k} MASE {v['mase_holt_winters']}" for k, v in list(scored.items())[:3])
    return ""


@app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every saved version, newest last, with its headline metric and data fingerprint."""
    from agent.factory import open_model_registry
    from agent.settings import Settings

    registry = open_model_registry(Settings())
    versions = registry.list_all()
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    if not versions:
        console.print(f"no models in {registry.root}; run `uba train next`, `uba train churn` or `uba train forecast`")
        return
    print_table(
        "models",
        ["model", "created", "headline", "fingerprint"],
        [[v.label, v.created_at, _headline(v), v.fingerprint[:16]] for v in versions],
    )
