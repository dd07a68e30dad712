"""The managed vLLM server: exact command line per model family, and the start/status/stop lifecycle.

The lifecycle runs a real child process: a stand-in ``vllm.entrypoints.openai.api_server`` module
on the child's path that answers ``/health`` (the real server is exercised by tests/wire).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest

from agent import _vllm_server as server
from agent.errors import LLMUnavailableError
from agent.llm import serve_options
from agent.settings import Settings

STAND_IN = """
import sys, http.server
args = sys.argv
port = int(args[args.index("--port") + 1])
if "--fail" in " ".join(args) or "broken" in " ".join(args):
    print("RuntimeError: cannot load the model", flush=True)
    sys.exit(3)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404); self.end_headers()
    def log_message(self, *a): pass
print("serving", args, flush=True)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _model_dir(data_dir: Path, name: str, model_type: str) -> None:
    path = data_dir / "llm" / f"{name}-hf"
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": model_type}))


def test_qwen_command_line(tmp_path: Path) -> None:
    _model_dir(tmp_path, "qwen2.5-coder-1.5b", "qwen2")
    settings = Settings(
        data_dir=tmp_path,
        vllm_python=Path("/opt/vllm/bin/python"),
        vllm_port=8123,
        llm_max_model_len=4096,
        vllm_gpu_memory_utilization=0.85,
        vllm_tensor_parallel_size=2,
    )
    command = server.serve_command(serve_options(settings))
    assert command == [
        "/opt/vllm/bin/python",
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str((tmp_path / "llm" / "qwen2.5-coder-1.5b-hf").resolve()),
        "--served-model-name",
        "qwen2.5-coder-1.5b",
        "--host",
        "127.0.0.1",
        "--port",
        "8123",
        "--max-model-len",
        "4096",
        "--gpu-memory-utilization",
        "0.85",
        "--tensor-parallel-size",
        "2",
        "--enable-prefix-caching",
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "hermes",
    ]
    eager = serve_options(settings.model_copy(update={"vllm_enforce_eager": True, "vllm_dtype": "float32"}))
    assert server.serve_command(eager) == [*command, "--dtype", "float32", "--enforce-eager"]


def test_family_picks_the_tool_parser(tmp_path: Path) -> None:
    llama = tmp_path / "llama"
    llama.mkdir()
    (llama / "config.json").write_text(json.dumps({"model_type": "llama"}))
    options = serve_options(Settings(data_dir=tmp_path), model=str(llama))
    assert server.serve_command(options)[-2:] == ["--tool-call-parser", "llama3_json"]
    hub = serve_options(Settings(data_dir=tmp_path, vllm_tool_call_parser="pythonic"), model="Qwen/Qwen3-8B")
    assert server.serve_command(hub)[3:6] == ["--model", "Qwen/Qwen3-8B", "--served-model-name"]
    assert server.serve_command(hub)[-2:] == ["--tool-call-parser", "pythonic"]


def test_bundled_model_without_conversion_says_how_to_convert(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailableError, match="uba llm convert"):
        server.serve_command(serve_options(Settings(data_dir=tmp_path)))


def test_missing_interpreter_says_make_vllm_env(tmp_path: Path) -> None:
    _model_dir(tmp_path, "qwen2.5-coder-1.5b", "qwen2")
    settings = Settings(data_dir=tmp_path, vllm_python=tmp_path / "nope" / "python")
    with pytest.raises(LLMUnavailableError, match="make vllm-env"):
        server.start(serve_options(settings))


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    module = tmp_path / "site" / "vllm" / "entrypoints" / "openai"
    module.mkdir(parents=True)
    for pkg in (module.parents[1], module.parent, module):
        (pkg / "__init__.py").write_text("")
    (module / "api_server.py").write_text(STAND_IN)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    data_dir = tmp_path / "data"
    _model_dir(data_dir, "qwen2.5-coder-1.5b", "qwen2")
    return data_dir


def test_start_status_stop(stand_in: Path) -> None:
    settings = Settings(
        data_dir=stand_in, vllm_python=Path(sys.executable), vllm_port=_free_port(), vllm_start_timeout_s=30
    )
    state = server.start(serve_options(settings))
    try:
        now = server.status(stand_in)
        assert now["running"] and now["healthy"] and now["url"] == f"http://127.0.0.1:{settings.vllm_port}/v1"
        with pytest.raises(LLMUnavailableError, match="already running"):
            server.start(serve_options(settings))
    finally:
        assert server.stop(stand_in)
    with pytest.raises(ProcessLookupError):
        os.kill(state["pid"], 0)
    assert server.status(stand_in) == {"running": False}
    assert not server.stop(stand_in)


def test_a_server_that_dies_reports_its_log(stand_in: Path) -> None:
    broken = stand_in / "llm" / "broken"
    broken.mkdir()
    settings = Settings(data_dir=stand_in, vllm_python=Path(sys.executable), vllm_port=_free_port())
    with pytest.raises(LLMUnavailableError, match="(?s)exited with code 3.*cannot load the model"):
        server.start(serve_options(settings, model=str(broken)))
    assert server.status(stand_in) == {"running": False}
