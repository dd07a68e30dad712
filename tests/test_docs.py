"""The docs stay true: the settings page matches the Settings model, and every relative link resolves.

Regenerate the settings page after changing a setting: ``UBA_UPDATE_DOCS=1 pytest tests/test_docs.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from agent.settings import Settings
from agent.settings_doc import configuration_markdown

ROOT = Path(__file__).resolve().parents[1]
CONFIGURATION = ROOT / "docs" / "configuration.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)


def test_configuration_page_matches_the_settings_model():
    expected = configuration_markdown()
    if os.environ.get("UBA_UPDATE_DOCS"):
        CONFIGURATION.write_text(expected)
    assert CONFIGURATION.exists(), "docs/configuration.md is missing; create it with UBA_UPDATE_DOCS=1"
    assert CONFIGURATION.read_text() == expected, (
        "docs/configuration.md is out of date with agent/settings.py; "
        "regenerate it with UBA_UPDATE_DOCS=1 pytest tests/test_docs.py"
    )


def test_configuration_page_has_one_row_per_setting_with_its_default():
    rows = {
        line.split("|")[1].strip(): line
        for line in CONFIGURATION.read_text().splitlines()
        if line.startswith("| `UBA_")
    }
    assert list(rows) == [f"`UBA_{name.upper()}`" for name in Settings.model_fields]
    assert "`10.0`" in rows["`UBA_QUERY_TIMEOUT_S`"] and "`local`" in rows["`UBA_LLM_BACKEND`"]
    assert "`vllm`" in rows["`UBA_LLM_BACKEND`"] and "secret" in rows["`UBA_LLM_API_KEY`"]


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown page (code blocks left out)."""
    text = FENCE.sub("", page.read_text())
    slugs = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


def relative_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text())
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file})")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {file.name})")
    assert not broken, f"{page.relative_to(ROOT)} has broken links: {broken}"


def test_the_link_checker_sees_links_and_headings():
    readme_links = relative_links(ROOT / "README.md")
    assert "docs/configuration.md" in readme_links and "docs/screenshot.png" in readme_links
    assert "data-the-behavior-warehouse" in anchors(ROOT / "docs" / "architecture.md")


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= 250, f"README.md has {lines} lines; move detail into docs/ (at most 250)"
