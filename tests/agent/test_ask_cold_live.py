"""A cold `uba ask` on the demo data answers with the embedded model: first with no saved prompt state
(it evaluates the static prompt prefix and saves it), then as a fresh process that loads that state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live_model import data_dir_with_model

pytestmark = [pytest.mark.live_llm, pytest.mark.real_llm, pytest.mark.slow]

UBA = Path(sys.executable).with_name("uba")
QUESTION = "How many purchases were there in October 2026?"


def _uba(data_dir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "UBA_DATA_DIR": str(data_dir),
        "UBA_LLM_BACKEND": "local",
        "UBA_LOG_LEVEL": "INFO",
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }
    return subprocess.run([str(UBA), *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    data_dir = data_dir_with_model(tmp_path_factory, "uba-cold-ask")
    made = _uba(data_dir, "data", "demo", "--if-empty")
    assert made.returncode == 0, made.stderr
    return data_dir


def _answer(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_a_cold_uba_ask_answers_and_a_later_one_starts_from_the_saved_prompt_state(demo_dir: Path) -> None:
    states = demo_dir / "llm" / "prompt-state"
    first = _answer(_uba(demo_dir, "ask", "--json", QUESTION))
    assert first["status"] == "ok" and first["usage"]["llm_calls"] >= 1, first
    saved = list(states.glob("*.state"))
    assert len(saved) == 1 and saved[0].with_suffix(".json").is_file()

    started = time.perf_counter()
    done = _uba(demo_dir, "ask", "--json", QUESTION)
    second = _answer(done)
    assert second["status"] == "ok", second
    assert "loaded from" in done.stderr and "evaluated in" not in done.stderr, done.stderr[-3000:]
    assert second["text"] == first["text"]  # the restored state decodes as the evaluated prompt did
    print(f"cold ask with the saved state: {time.perf_counter() - started:.1f} s")

    # A damaged state file is noticed, left aside and rebuilt; the question is still answered.
    saved[0].write_bytes(saved[0].read_bytes()[:4096])
    done = _uba(demo_dir, "ask", "--json", QUESTION)
    assert _answer(done)["status"] == "ok"
    assert "ignoring the saved prompt state" in done.stderr and "saved to" in done.stderr, done.stderr[-3000:]
    assert saved[0].stat().st_size > 4096
