"""``uba keys``: create, list and revoke the HTTP API's keys (stored hashed in the data dir)."""

from __future__ import annotations

from typing import Annotated

import typer

from ui.cli._output import console, fail, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Manage API keys for the HTTP API and the web app.")


def _store():
    from agent.settings import Settings
    from ui.api.keys import KeyStore

    return KeyStore.in_data_dir(Settings().data_dir)


@app.command("create")
def create_cmd(
    user_scope: Annotated[
        str | None, typer.Option("--user-scope", help="Limit the key to one end user's rows.")
    ] = None,
    rate: Annotated[str | None, typer.Option("--rate", help="Requests per minute, e.g. 30/min.")] = None,
    label: Annotated[str, typer.Option("--label", help="A note saying who holds the key.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key; the secret is printed once and only its hash is stored."""
    from ui.api.keys import parse_rate

    try:
        per_min = parse_rate(rate) if rate is not None else None
        token, key = _store().create(user_scope=user_scope, rate_per_min=per_min, label=label)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        print_json({"key": token, "id": key.key_id, "user_scope": key.user_scope, "rate_per_min": key.rate_per_min})
        return
    console.print(f"API key (shown once, store it now): [bold]{token}[/]", highlight=False)
    console.print(
        f"id: {key.key_id}   user scope: {key.user_scope or 'all users'}   "
        f"rate: {key.rate_per_min or 'server default'}/min",
        highlight=False,
    )
    console.print("Send it as 'Authorization: Bearer <key>'. In the web app sign in with the id and the key.")


@app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every key with its scope, rate and state (never the secret)."""
    keys = _store().list()
    if as_json:
        print_json([k.__dict__ | {"active": k.active} for k in keys])
        return
    print_table(
        "API keys",
        ["id", "user scope", "rate/min", "label", "created", "state"],
        [
            [
                k.key_id,
                k.user_scope or "all",
                k.rate_per_min or "default",
                k.label,
                k.created_at,
                "active" if k.active else f"revoked {k.revoked_at}",
            ]
            for k in keys
        ],
    )


@app.command("revoke")
def revoke_cmd(key_id: Annotated[str, typer.Argument(help="The key's id from `uba keys list`.")]) -> None:
    """Revoke a key; requests with it get 401 from now on."""
    from ui.api.keys import UnknownKey

    try:
        key = _store().revoke(key_id)
    except UnknownKey as exc:
        fail(str(exc.args[0]))
    console.print(f"revoked {key.key_id} at {key.revoked_at}")
