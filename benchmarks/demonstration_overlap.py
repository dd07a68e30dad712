"""Whether an evaluation score comes from questions that the generated demonstrations paraphrase.

Run: ``UBA_DATA_DIR=<demo> .venv/bin/python benchmarks/demonstration_overlap.py REPORT.json``
(``REPORT.json`` from ``uba eval --out``). Prints, for the questions with a generated demonstration
wording at or above the overlap check's threshold (``evaluation.overlap``) and for the others, how
many were answered correctly, and the ratio of the two shares.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agent.factory import build_analyst_parts
from agent.settings import Settings
from evaluation.overlap import OVERLAP_THRESHOLD, similarity
from warehouse.semantic.demonstrations import layer_demonstrations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a uba eval --out JSON report")
    args = parser.parse_args()
    layer = build_analyst_parts(Settings()).layer()
    wordings = [w for d in layer_demonstrations(layer, layer.last_day) for w in d.wordings]
    counts = {True: [0, 0], False: [0, 0]}
    for result in json.loads(args.report.read_text(encoding="utf-8"))["results"]:
        near = max(similarity(w, result["question"]) for w in wordings) >= OVERLAP_THRESHOLD
        counts[near][0] += bool(result["correct"])
        counts[near][1] += 1
    print(f"{len(wordings)} demonstration wordings; threshold {OVERLAP_THRESHOLD}")
    print(f"{'questions':<40} {'correct':>8} {'asked':>6} {'share':>6}")
    shares = {}
    for near, (correct, asked) in counts.items():
        shares[near] = correct / asked if asked else 0.0
        label = "with a near demonstration" if near else "without"
        print(f"{label:<40} {correct:>8} {asked:>6} {shares[near]:>6.0%}")
    if shares[False]:
        print(f"{'ratio (near / without)':<40} {shares[True] / shares[False]:>22.2f}")


if __name__ == "__main__":
    main()
