"""``uba data ingest`` through the real console script: the report on success, a clean error otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.warehouse.loader_files import taobao_csv, write

UBA = Path(sys.executable).with_name("uba")


def uba(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "UBA_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    env.pop("UBA_WAREHOUSE_URL", None)
    return subprocess.run([str(UBA), "data", "ingest", *args], env=env, capture_output=True, text=True, timeout=120)


def test_ingest_prints_the_report_and_is_idempotent(tmp_path):
    path = write(tmp_path / "UserBehavior.csv", taobao_csv())
    first = uba(tmp_path, "--format", "taobao", str(path))
    assert first.returncode == 0, first.stderr
    printed = " ".join(first.stdout.split())
    assert "6 rows read" in printed and "│ events │ 6 │ 0 │" in printed
    again = json.loads(uba(tmp_path, "--format", "taobao", str(path), "--json").stdout)
    assert again["inserted"]["events"] == 0 and again["already_present"]["events"] == 6


def test_mapping_flags(tmp_path):
    path = write(tmp_path / "clicks.csv", "visitor,time,action\nu1,2024-05-01 10:00:00,click\n")
    done = uba(tmp_path, "-f", "csv", str(path), "--map", "user_id=visitor", "--map", "ts=time",
               "--map", "event_type=action", "--event-map", "click=view", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inserted"]["events"] == 1


def test_bad_input_exits_non_zero_with_the_message(tmp_path):
    path = write(tmp_path / "UserBehavior.csv", "1,2,3,pv,soon\n")
    failed = uba(tmp_path, "--format", "taobao", str(path))
    assert failed.returncode != 0
    message = " ".join(failed.stderr.split())
    assert "UserBehavior.csv, line 1, column 'timestamp': 'soon' is not a unix time in seconds" in message
    assert "Traceback" not in failed.stderr
    assert uba(tmp_path, "--format", "csv", str(path), "--map", "user_id").returncode != 0


def test_a_bad_setting_is_named_with_its_variable_and_no_traceback(tmp_path):
    env = {**os.environ, "UBA_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", "UBA_AGENT_FIRST_STEP": "bogus"}
    done = subprocess.run([str(UBA), "llm", "status"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "invalid setting UBA_AGENT_FIRST_STEP (got 'bogus'): Input should be 'tool' or 'auto'" in done.stderr
    assert "Traceback" not in done.stderr and "╭" not in done.stderr
