"""The embedded llama.cpp is built for every x86-64 CPU with AVX2, never for the build machine's own.

A native build (llama-cpp-python's default ``GGML_NATIVE=ON``) crashed in its AMX path on Sapphire
Rapids and hit illegal instructions on older CPUs after pip reused the cached wheel. The recipe is
checked on every machine (it needs no compiler); the installed library, where there is one, must be
the wheel that recipe built (byte for byte) and must have no AVX-512 or AMX code compiled in, which
this check sees on any machine, with or without those instructions itself.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLAGS_FILE = REPO / ".wheels" / "llama-cpp-build-flags.txt"
PORTABLE_ON = ("GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C", "GGML_BMI2")
NEVER_ON = (
    "GGML_NATIVE",
    "GGML_AVX512",
    "GGML_AVX512_VBMI",
    "GGML_AVX512_VNNI",
    "GGML_AVX512_BF16",
    "GGML_AMX_TILE",
    "GGML_AMX_INT8",
    "GGML_AMX_BF16",
)


def _cmake_flags(text: str) -> dict[str, str]:
    return dict(re.findall(r"-D(\w+)=(\w+)", text))


def _assert_portable(flags: dict[str, str]) -> None:
    assert all(flags.get(name) == "ON" for name in PORTABLE_ON), flags
    assert all(flags.get(name) == "OFF" for name in NEVER_ON), flags
    assert flags.get("LLAVA_BUILD") == "OFF"


def test_make_local_llm_builds_a_portable_wheel_outside_pips_cache() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    plan = subprocess.run(["make", "-n", "-B", "local-llm"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    commands = plan.stdout.replace("\\\n", " ").splitlines()
    build = next(line for line in commands if "pip wheel" in line)
    assert "--no-cache-dir" in build and "llama-cpp-python==0.3.36" in build
    _assert_portable(_cmake_flags(build))
    install = next(line for line in commands if "pip install" in line and ".wheels/" in line)
    assert "--no-cache-dir" in install


def test_the_installed_llama_cpp_is_the_portable_build() -> None:
    llama_cpp = pytest.importorskip("llama_cpp", reason="the embedded model is not installed (make local-llm)")
    from agent._llama_runtime import compiled_features, not_portable, system_info

    info = system_info()
    assert not not_portable(info), f"llama.cpp was compiled with {not_portable(info)}: {info}"
    assert compiled_features(info).get("AVX2"), info  # the floor the build promises, not a plain SSE build
    assert FLAGS_FILE.is_file(), (
        f"llama-cpp-python is installed but not by `make local-llm` ({FLAGS_FILE} is "
        "missing); rebuild it portably with: make local-llm"
    )
    recorded = FLAGS_FILE.read_text(encoding="utf-8")
    _assert_portable(_cmake_flags(recorded))
    assert f"llama-cpp-python=={llama_cpp.__version__}" in recorded
    digest, wheel_name = re.search(r"wheel-sha256=(\w+)\s+(\S+)", recorded).groups()
    wheel = FLAGS_FILE.parent / wheel_name
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == digest
    installed = Path(llama_cpp.__file__).parent / "lib" / "libggml-cpu.so"
    with zipfile.ZipFile(wheel) as archive:
        built = archive.read("llama_cpp/lib/libggml-cpu.so")
    assert installed.read_bytes() == built, "the installed CPU library is not the one `make local-llm` built"


def test_a_native_build_is_told_apart() -> None:
    from agent._llama_runtime import compiled_features, not_portable

    native = (
        "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
        "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 |"
    )
    assert not_portable(native) == ["AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AMX_INT8", "AVX_VNNI"]
    assert compiled_features(native)["AVX2"]
    portable = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | AVX512 = 0 |"
    assert not_portable(portable) == []
