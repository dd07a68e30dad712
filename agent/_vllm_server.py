"""vLLM's OpenAI-compatible server as a managed child process: command, start, health, status, stop."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agent._weights import BUNDLED_MODELS, models_dir
from agent.errors import LLMUnavailableError

logger = logging.getLogger(__name__)

STATE_FILE = "vllm-server.json"
LOG_FILE = "vllm-server.log"
_SERVER_MODULE = "vllm.entrypoints.openai.api_server"
_LLAMA31_TEMPLATE = "tool_chat_template_llama3.1_json.jinja"


@dataclass(frozen=True)
class ServeOptions:
    """Everything a vLLM server start needs, resolved from Settings by agent/llm.py."""

    python: Path
    model: str
    data_dir: Path
    host: str
    port: int
    max_model_len: int
    gpu_memory_utilization: float
    tensor_parallel_size: int
    tool_call_parser: str | None
    start_timeout_s: float
    api_key: str | None = None
    enforce_eager: bool = False
    dtype: str = "auto"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL the server will answer on."""
        return f"http://{self.host}:{self.port}/v1"


def model_dir(model: str, data_dir: Path) -> str:
    """What vLLM loads: the converted copy of a bundled model, a local directory, or a hub id (offline cache)."""
    if model in BUNDLED_MODELS:
        path = converted_dir(model, data_dir)
        if not (path / "config.json").is_file():
            raise LLMUnavailableError(
                f"bundled model {model!r} has no vLLM copy at {str(path)!r}; create it once with: uba llm convert"
            )
        return str(path.resolve())
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


def converted_dir(model: str, data_dir: Path) -> Path:
    """Where ``uba llm convert`` writes the Hugging Face copy of a bundled GGUF model."""
    return models_dir(data_dir) / f"{model}-hf"


def model_family(model: str, directory: str) -> str:
    """``qwen3``, ``qwen2``, ``llama3``, ``mistral`` or ``other``, from config.json or the name."""
    config = Path(directory) / "config.json"
    kind = ""
    if config.is_file():
        kind = str(json.loads(config.read_text()).get("model_type", ""))
    name = f"{kind} {model} {directory}".lower()
    for family in ("qwen3", "qwen2", "mistral"):
        if family in name or family.replace("2", "2.5") in name:
            return family
    if "llama" in name:
        return "llama3"
    return "other"


def tool_flags(family: str, parser: str | None, python: Path) -> list[str]:
    """Tool-calling flags per model family (Qwen: hermes; Llama 3.1: llama3_json + its tool template)."""
    chosen = parser or {"qwen3": "hermes", "qwen2": "hermes", "llama3": "llama3_json", "mistral": "mistral"}.get(family)
    if chosen is None:
        logger.warning("unknown model family; serving with the hermes tool-call parser (set UBA_VLLM_TOOL_CALL_PARSER)")
        chosen = "hermes"
    flags = ["--enable-auto-tool-choice", "--tool-call-parser", chosen]
    if chosen == "llama3_json":
        template = _llama31_template(python)
        if template:
            flags += ["--chat-template", template]
    return flags


def _llama31_template(python: Path) -> str | None:
    venv = python.parent.parent
    found = sorted(venv.glob(f"lib/python*/site-packages/vllm/**/{_LLAMA31_TEMPLATE}"))
    return str(found[0]) if found else None


def serve_command(options: ServeOptions) -> list[str]:
    """The exact command line ``uba llm serve --engine vllm`` runs."""
    directory = model_dir(options.model, options.data_dir)
    command = [
        str(options.python),
        "-m",
        _SERVER_MODULE,
        "--model",
        directory,
        "--served-model-name",
        options.model,
        "--host",
        options.host,
        "--port",
        str(options.port),
        "--max-model-len",
        str(options.max_model_len),
        "--gpu-memory-utilization",
        str(options.gpu_memory_utilization),
        "--tensor-parallel-size",
        str(options.tensor_parallel_size),
        "--enable-prefix-caching",
        *tool_flags(model_family(options.model, directory), options.tool_call_parser, options.python),
    ]
    if options.dtype != "auto":
        command += ["--dtype", options.dtype]
    if options.enforce_eager:
        command.append("--enforce-eager")
    if options.api_key:
        command += ["--api-key", options.api_key]
    return command


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"})
    return env


def healthy(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether ``/health`` answers 200."""
    try:
        return httpx.get(f"http://{host}:{port}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The pid file of the managed server, or None."""
    path = data_dir / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _log_tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def start(options: ServeOptions) -> dict[str, Any]:
    """Start the server, wait for ``/health``, record its pid file; raise with the log tail on failure."""
    if not options.python.is_file():
        raise LLMUnavailableError(
            f"vLLM interpreter {str(options.python)!r} does not exist; create it with: make vllm-env "
            "(or set UBA_VLLM_PYTHON)"
        )
    state = read_state(options.data_dir)
    if state and _alive(state["pid"]):
        raise LLMUnavailableError(
            f"a vLLM server is already running (pid {state['pid']}, {state['url']}); run: uba llm stop"
        )
    if _port_taken(options.host, options.port):
        raise LLMUnavailableError(f"port {options.port} on {options.host} is in use; set UBA_VLLM_PORT to a free port")
    command = serve_command(options)
    options.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = options.data_dir / LOG_FILE
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_server_env(),
            start_new_session=True,
        )
    state = {
        "pid": process.pid,
        "url": options.base_url,
        "model": options.model,
        "host": options.host,
        "port": options.port,
        "log": str(log_path),
        "command": command,
        "started_at": time.time(),
    }
    (options.data_dir / STATE_FILE).write_text(json.dumps(state, indent=2))
    logger.info("started vLLM (pid %d): %s", process.pid, " ".join(command))
    while not healthy(options.host, options.port):
        if process.poll() is not None:
            (options.data_dir / STATE_FILE).unlink(missing_ok=True)
            raise LLMUnavailableError(
                f"vLLM exited with code {process.returncode} before it was healthy; log {str(log_path)!r}:\n"
                + _log_tail(log_path)
            )
        if time.monotonic() - started > options.start_timeout_s:
            stop(options.data_dir)
            raise LLMUnavailableError(
                f"vLLM was not healthy after {options.start_timeout_s:g} s; raise UBA_VLLM_START_TIMEOUT_S "
                f"or read {str(log_path)!r}:\n" + _log_tail(log_path)
            )
        time.sleep(2)
    state["ready_s"] = round(time.monotonic() - started, 1)
    (options.data_dir / STATE_FILE).write_text(json.dumps(state, indent=2))
    return state


def status(data_dir: Path) -> dict[str, Any]:
    """Pid-file state plus whether the process lives and ``/health`` answers."""
    state = read_state(data_dir)
    if state is None:
        return {"running": False}
    alive = _alive(state["pid"])
    return {**state, "running": alive, "healthy": alive and healthy(state["host"], state["port"])}


def stop(data_dir: Path, grace_s: float = 30.0) -> bool:
    """Stop the managed server's process group (TERM, then KILL after ``grace_s``); False if none ran."""
    state = read_state(data_dir)
    if state is None:
        return False
    pid = state["pid"]
    try:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.5)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
            _reap(pid)
    except ProcessLookupError:
        pass
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    # A child of this process stays a zombie (and "alive" to kill(0)) until it is waited for.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
