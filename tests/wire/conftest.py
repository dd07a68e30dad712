"""A real vLLM server (CPU build) for the session, started exactly as ``uba llm serve --engine vllm`` does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = "qwen2.5-coder-1.5b"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _uba(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    uba = Path(sys.executable).with_name("uba")
    return subprocess.run([str(uba), *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def vllm_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of a running managed vLLM server (converted 1.5B model); stopped at the end."""
    python = Path(os.environ.get("UBA_VLLM_PYTHON", REPO / ".venv-vllm" / "bin" / "python"))
    models = Path(os.environ.get("UBA_DATA_DIR", REPO / ".uba")) / "llm"
    if not python.is_file() or not (models / f"{MODEL}-hf" / "config.json").is_file():
        pytest.skip("the vLLM wire tests need `make test-vllm` (vLLM venv and the converted model)")
    data_dir = tmp_path_factory.mktemp("vllm-data")
    (data_dir / "llm").symlink_to(models.resolve())
    env = {
        **os.environ,
        "UBA_DATA_DIR": str(data_dir),
        "UBA_VLLM_PYTHON": str(python),
        "UBA_VLLM_PORT": str(_free_port()),
        "UBA_LLM_MODEL": MODEL,
        "UBA_LLM_MAX_MODEL_LEN": "8192",
        "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2"),  # GiB of KV cache on CPU
        # Measured: the torch.compile warm-up alone ran over 10 min on a busy 2-core machine; eager
        # mode skips it (UBA_VLLM_ENFORCE_EAGER=0 tests the compiled path).
        "UBA_VLLM_ENFORCE_EAGER": os.environ.get("UBA_VLLM_ENFORCE_EAGER", "1"),
        # bfloat16 products are emulated on CPUs without bf16 units (AVX2): float32 is much faster there.
        "UBA_VLLM_DTYPE": os.environ.get("UBA_VLLM_DTYPE", "float32"),
        # vLLM drops to one torch thread on CPU unless OMP_NUM_THREADS says otherwise.
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(os.cpu_count() or 1)),
        "UBA_VLLM_START_TIMEOUT_S": os.environ.get("UBA_VLLM_START_TIMEOUT_S", "1800"),
    }
    started = time.monotonic()
    done = _uba("llm", "serve", "--engine", "vllm", "--detach", env=env, timeout=2000)
    if done.returncode != 0:
        pytest.fail(f"uba llm serve failed:\n{done.stdout}\n{done.stderr}")
    env["UBA_TEST_VLLM_START_S"] = f"{time.monotonic() - started:.0f}"
    yield env
    _uba("llm", "stop", env=env, timeout=120)


@pytest.fixture(scope="session")
def vllm_settings(vllm_env: dict[str, str]):
    """Settings of the vllm backend pointing at the session's server, deterministic and bounded."""
    from agent.settings import Settings

    return Settings(
        llm_backend="vllm",
        llm_model=MODEL,
        data_dir=Path(vllm_env["UBA_DATA_DIR"]),
        vllm_port=int(vllm_env["UBA_VLLM_PORT"]),
        llm_timeout_s=600,
        agent_max_seconds=900,  # measured: ~1-3 generated tokens/s on a busy 2-core CPU in eager float32
        llm_max_tokens=160,
        llm_temperature=0.0,
    )
