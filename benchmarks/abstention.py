"""How often the "the data has no X" check (warehouse/semantic/coverage.py) fires, per question set.

Usage: python benchmarks/abstention.py [--warehouse duckdb:///path/to/warehouse.duckdb]

Without --warehouse it builds a small demo shop (2,000 users, 90 days) in a temporary folder. Every bundled evaluation question
is checked as the agent checks it (after the refusals of changes and personal data), and so is every
question quoted in tests/, docs/ and prompts/; a question the sets mark
unanswerable (``lacks``) should be caught, any other is a false abstention. Prints one row per source.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _quoted_questions() -> list[str]:
    found: set[str] = set()
    files = [*(ROOT / "tests").rglob("*.py"), *(ROOT / "docs").rglob("*.md"), *(ROOT / "prompts").rglob("*.yaml")]
    for path in files:
        found |= set(
            re.findall(r"[\"“]([A-Z][^\"”\n]{8,200}\?)[\"”]", path.read_text(encoding="utf-8", errors="ignore"))
        )
    return sorted(found)


def main() -> None:
    from agent.requests import refusal
    from evaluation.suite import SETS, load_questions
    from warehouse import Warehouse
    from warehouse.demo import generate_demo
    from warehouse.readonly import ReadOnlyWarehouse
    from warehouse.schema import metadata
    from warehouse.semantic.coverage import Coverage
    from warehouse.semantic.generated import build_layer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", help="a warehouse URL (default: a fresh demo shop)")
    args = parser.parse_args()
    url = args.warehouse
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="uba-abstention-"))
        url = f"duckdb:///{folder / 'warehouse.duckdb'}"
        warehouse = Warehouse.open(url)
        warehouse.create_schema()
        generate_demo(warehouse, users=2000, days=90, seed=7)
        warehouse.dispose()
    layer = build_layer(ReadOnlyWarehouse(url))
    columns = [t.name for t in metadata.tables.values()] + [c.name for t in metadata.tables.values() for c in t.columns]
    check = Coverage(layer, columns).missing

    def missing(question: str) -> str | None:  # the agent refuses a change or personal data first
        return None if refusal(question) else check(question)

    print(f"{'source':<28} {'questions':>9} {'unanswerable':>12} {'caught':>6} {'false abstentions':>17}")
    for name in SETS:
        questions = load_questions(name)
        lacks = [q for q in questions if q.lacks]
        caught = sum(1 for q in lacks if missing(q.question))
        false = [q for q in questions if not q.lacks and missing(q.question)]
        print(f"{name:<28} {len(questions):>9} {len(lacks):>12} {caught:>6} {len(false):>17}")
        for q in false:
            print(f"    false: {q.id}: {missing(q.question)!r} in {q.question!r}")
    quoted = _quoted_questions()
    flagged = [(q, missing(q)) for q in quoted if missing(q)]
    print(f"{'quoted in tests/docs/prompts':<28} {len(quoted):>9} {'-':>12} {'-':>6} {len(flagged):>17}")
    for q, what in flagged:
        print(f"    flagged: {what!r} in {q!r} (a test or doc example of a missing quantity is meant to be)")


if __name__ == "__main__":
    main()
