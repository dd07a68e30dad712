"""The README's tour runs as written (smaller demo, short training budget, fake LLM) so it cannot rot."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
UBA = Path(sys.executable).parent / "uba"

# The tour's demo is shrunk so the whole walk takes well under a minute of CPU.
SHRINK = {"--users 10000": "--users 5000", "--days 90": "--days 45"}

RULES = """\
- match: "viewed an item"
  tool: funnel
  args: {steps: [view, purchase], window_hours: 24}
  answer: "Viewers who bought within a day:\\n\\n$result"
"""


def tour_commands() -> list[list[str]]:
    """Every `uba` command in the README's Tour code blocks, `&&` chains split, comments dropped."""
    tour = README.split("## Tour", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", tour, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            for old, new in SHRINK.items():
                line = line.replace(old, new)
            for part in filter(None, (p.strip() for p in line.split("&&"))):
                if not part.startswith(".venv/bin/uba "):  # curl and other shell lines are for the reader
                    continue
                argv = shlex.split(part)
                commands.append([str(UBA), *argv[1:]])
    return commands


def test_the_tour_lists_the_main_job():
    names = [" ".join(c[1:3]) for c in tour_commands()]
    for expected in ("data demo", "index reviews", "train next", "ask What", "serve"):
        assert any(n.startswith(expected) for n in names), (expected, names)


@pytest.mark.slow
def test_the_tour_runs_as_written(tmp_path: Path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    env = {
        **os.environ,
        "UBA_DATA_DIR": str(tmp_path / "data"),
        "UBA_LLM_BACKEND": "fake",
        "UBA_LLM_FAKE_RULES": str(rules),
        "UBA_PREDICTOR_MAX_MINUTES": "0.3",
    }
    outputs = {}
    for argv in tour_commands():
        if argv[1] == "serve":  # long-running; the live server tests cover it
            continue
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{shlex.join(argv[1:])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        outputs[" ".join(argv[1:3])] = done.stdout
    asked = next(out for key, out in outputs.items() if key.startswith("ask "))
    assert "Viewers who bought within a day" in asked
    prediction = json.loads(outputs["predict next"])
    assert prediction, "predict next printed no JSON"
