"""``uba watch add|list|run|remove`` as a user runs them, over a real demo warehouse and a loopback webhook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

UBA = Path(sys.executable).with_name("uba")


def _uba(data_dir, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UBA_")}
    env.update(
        {
            "UBA_DATA_DIR": str(data_dir),
            "UBA_LLM_BACKEND": "fake",
            "UBA_WATCH_WEBHOOK_BACKOFF_S": "0.05",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
    )
    return subprocess.run([str(UBA), "watch", *args], env=env, capture_output=True, text=True, timeout=120)


def test_add_list_run_remove(data_dir, receiver, tmp_path):
    answer = tmp_path / "answer.json"
    answer.write_text(
        json.dumps(
            {"text": "...", "trace": [{"tool": "query", "args": {"measure": "orders", "last_days": 7}, "ok": True}]}
        )
    )
    added = _uba(
        data_dir,
        "add",
        "weekly orders",
        "--schedule",
        "0 8 * * mon",
        "--answer",
        str(answer),
        "--webhook",
        receiver.url,
        "--json",
    )
    assert added.returncode == 0, added.stderr
    report = json.loads(added.stdout)
    assert report["body"]["calls"] == [{"tool": "query", "args": {"measure": "orders", "last_days": 7}}]
    alert = _uba(data_dir, "add", "purchases", "--schedule", "@daily", "--alert", "purchases", "--json")
    assert alert.returncode == 0, alert.stderr

    ran = _uba(data_dir, "run", report["report_id"], "--json")
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert run["status"] == "ok" and run["delivery"] == "delivered (attempt 1)"
    assert receiver.received[0]["body"]["blocks"][1]["text"]["text"] == run["text"]

    listed = json.loads(_uba(data_dir, "list", "--json").stdout)
    assert [(r["name"], (r["latest_run"] or {}).get("status")) for r in listed] == [
        ("weekly orders", "ok"),
        ("purchases", None),
    ]
    removed = _uba(data_dir, "remove", report["report_id"])
    assert removed.returncode == 0 and report["report_id"] in removed.stdout
    assert [r["name"] for r in json.loads(_uba(data_dir, "list", "--json").stdout)] == ["purchases"]


def test_bad_input_exits_2_with_the_fix(data_dir):
    bad = _uba(data_dir, "add", "x", "--schedule", "mondays", "--query", '{"measure": "events"}')
    assert bad.returncode == 2 and "not a crontab line" in bad.stderr and "0 8 * * mon" in bad.stderr
    bad = _uba(data_dir, "add", "x", "--schedule", "@daily", "--alert", "happiness")
    assert bad.returncode == 2 and "measure 'happiness' does not exist" in bad.stderr
    bad = _uba(data_dir, "run", "wnope")
    assert bad.returncode == 2 and "no report 'wnope'" in bad.stderr
    assert json.loads(_uba(data_dir, "list", "--json").stdout) == []
