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
    done = uba(
        tmp_path,
        "-f",
        "csv",
        str(path),
        "--map",
        "user_id=visitor",
        "--map",
        "ts=time",
        "--map",
        "event_type=action",
        "--event-map",
        "click=view",
        "--json",
    )
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


SESSIONS = (
    "user,session,time,page\nNA,s1,2024-05-01 10:00:00,p1\nu7,s2,2024-05-01 11:00:00,p2\n-,,2024-05-02 09:30:00,p3\n"
)


def test_dry_run_shows_mapped_rows_and_skips_and_writes_nothing(tmp_path):
    path = write(tmp_path / "sessions.csv", SESSIONS)
    args = [
        "-f",
        "csv",
        str(path),
        "--map",
        "user_id=user",
        "--map",
        "session_id=session",
        "--map",
        "ts=time",
        "--map",
        "item_id=page",
        "--const",
        "event_type=view",
    ]
    dry = uba(tmp_path, *args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    printed = " ".join(dry.stdout.split())
    assert "first 2 mapped rows" in printed and "anon-s1" in printed and "dry run: nothing was written" in printed
    assert "│ null_key │ no user_id and no session_id" in printed and "line=4" in printed and "user_id=-" in printed
    done = json.loads(uba(tmp_path, *args, "--json").stdout)
    assert done["dry_run"] is False and done["inserted"]["events"] == 2  # the dry run left nothing behind
    assert done["rows_read"] == 3 and done["rows_skipped"] == 1
    assert done["skipped"] == [
        {
            "reason": "null_key",
            "detail": "no user_id and no session_id: empty or a null token (NA, null, -)",
            "rows": 1,
            "samples": [
                {
                    "line": "4",
                    "user_id": "-",
                    "session_id": None,
                    "ts": "2024-05-02 09:30:00",
                    "item_id": "p3",
                    "event_type": "view",
                    "source_event": "view",
                }
            ],
        }
    ]


def test_mapping_file_and_a_misread_time_format(tmp_path):
    body = "".join(f"b{i},{20240501 + i % 9},buy\n" for i in range(12))
    path = write(tmp_path / "buys.csv", "buyer,day,what\n" + body)
    (tmp_path / "map.yaml").write_text(
        "columns: {user_id: buyer, ts: day, event_type: what}\nvalues: {event_type: {buy: purchase}}\norders: true\n"
    )
    wrong = uba(tmp_path, "-f", "csv", str(path), "--mapping", str(tmp_path / "map.yaml"), "--ts-format", "unix_s")
    assert wrong.returncode == 0  # an explicit format is trusted: every purchase lands in 1970
    failed = uba(tmp_path, "-f", "csv", str(path), "--mapping", str(tmp_path / "map.yaml"), "--map", "ts=buyer")
    message = " ".join(failed.stderr.split())
    assert failed.returncode != 0 and "column 'buyer': 'b0' is not a timestamp" in message
    ok = json.loads(
        uba(
            tmp_path,
            "-f",
            "csv",
            str(write(tmp_path / "more.csv", "buyer,day,what\n" + body)),
            "--mapping",
            str(tmp_path / "map.yaml"),
            "--json",
        ).stdout
    )
    assert ok["inserted"]["orders"] == 12 and ok["key"] == "the line (every line is its own event)"


def test_bad_mapping_file_is_a_clean_error(tmp_path):
    path = write(tmp_path / "e.csv", "user_id,ts,event_type\nu,2024-05-01,view\n")
    (tmp_path / "map.yaml").write_text("colums: {user_id: x}\n")
    failed = uba(tmp_path, "-f", "csv", str(path), "--mapping", str(tmp_path / "map.yaml"))
    assert failed.returncode != 0 and "colums: Extra inputs are not permitted" in failed.stderr
    assert "Traceback" not in failed.stderr
