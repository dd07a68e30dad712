"""What the embedded llama.cpp runtime was built for, what this CPU has, and how fast it runs here.

A llama.cpp built for the build machine's CPU (``GGML_NATIVE=ON``, llama-cpp-python's default)
crashes or hits an illegal instruction on another CPU; ``compiled_features`` reads what the
installed library was compiled with, ``cpu_flags`` what the CPU offers, so ``uba llm status``
and the portability test can compare them.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

# Features llama.cpp's CPU backend can be compiled with that older x86-64 CPUs lack: a portable
# build has none of them (the AMX path crashed on Sapphire Rapids; AVX-512 is illegal before it).
NOT_PORTABLE = ("AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AMX_INT8", "AMX_TILE", "AMX_BF16", "AVX_VNNI")
_CPU_FLAG = re.compile(r"^(sse3|ssse3|pni|avx|avx2|fma|f16c|bmi2|avx_vnni|avx512\w*|amx\w*)$")


def system_info() -> str:
    """``llama_print_system_info()`` of the installed library (compiled backends and CPU features)."""
    import llama_cpp

    return llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()


def compiled_features(info: str) -> dict[str, bool]:
    """The ``NAME = 0/1`` features of a system-info line, e.g. ``{"AVX2": True, "AVX512": False}``."""
    return {name: value == "1" for name, value in re.findall(r"([A-Z][A-Z0-9_]*)\s*=\s*(\d+)", info)}


def not_portable(info: str) -> list[str]:
    """The compiled features of ``info`` that an AVX2-only x86-64 CPU does not have."""
    features = compiled_features(info)
    return [name for name in NOT_PORTABLE if features.get(name)]


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The SIMD flags of this CPU that matter to llama.cpp (from ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return sorted({f for f in line.partition(":")[2].split() if _CPU_FLAG.match(f)})


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unknown"
    line = next((ln for ln in text.splitlines() if ln.startswith("model name")), "")
    return line.partition(":")[2].strip() or "unknown"


def runtime() -> dict[str, Any]:
    """The installed runtime: library and version, its system info, the portability verdict."""
    import llama_cpp

    info = system_info()
    return {
        "runtime": f"llama-cpp-python {llama_cpp.__version__}",
        "library": str(Path(llama_cpp.__file__).parent),
        "system_info": info,
        "not_portable": not_portable(info),
    }


def self_test(llama: Any, *, prompt_tokens: int = 256, gen_tokens: int = 32) -> dict[str, float]:
    """Prefill and decode speed of ``llama`` in tokens/s: ``prompt_tokens`` evaluated from an empty
    cache in one batch, then ``gen_tokens`` decoded one at a time (greedy), after a few untimed tokens
    that page the weights in; the cache is emptied after."""
    import llama_cpp
    import numpy as np

    vocab = llama.n_vocab()
    seed_text = ("count the purchases per week and compare countries, devices and channels " * 64).encode()
    prompt = llama.tokenize(seed_text, add_bos=False)[:prompt_tokens]
    llama.reset()
    llama.eval(prompt[:8])
    llama.reset()
    started = time.perf_counter()
    llama.eval(prompt)
    prefill_s = time.perf_counter() - started

    started = time.perf_counter()
    for _ in range(gen_tokens):
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1), shape=(vocab,))
        llama.eval([int(np.argmax(logits))])
    decode_s = time.perf_counter() - started
    llama.reset()
    return {
        "prompt_tokens": len(prompt),
        "prefill_tok_s": len(prompt) / prefill_s,
        "gen_tokens": gen_tokens,
        "decode_tok_s": gen_tokens / decode_s,
    }
