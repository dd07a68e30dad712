"""The README starts with the two set-up commands and sends readers to the generated settings page."""

import re
import subprocess
from pathlib import Path

import pytest

from agent.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def setup_commands(readme: str) -> list[str]:
    """The commands of the Set-up section's code blocks: comments, commented-out lines and HTML comments dropped."""
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    setup = re.sub(r"<!--.*?-->", "", setup, flags=re.S)  # a rendered README does not show these
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", setup, flags=re.S):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                commands.append(command)
    return commands


def test_setup_commands_come_first():
    assert README.index("## Set-up") < README.index("## Tour")
    commands = setup_commands(README)
    assert "make demo" in commands and "make test" in commands, commands


def test_setup_commands_are_make_targets_that_exist():
    for command in setup_commands(README):
        argv = command.split()
        assert argv[0] == "make" and len(argv) == 2, command
        assert re.search(rf"^{re.escape(argv[1])}:", MAKEFILE, flags=re.M), f"the Makefile has no rule for {command}"
        dry = subprocess.run(["make", "-n", argv[1]], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert dry.returncode == 0 and "Nothing to be done" not in dry.stdout, f"{command}: {dry.stdout}{dry.stderr}"


def _commented_out(readme: str, how: str) -> str:
    block = re.search(r"```bash\n(?=make demo)(.*?)```", readme, flags=re.S)
    assert block, "the Set-up section has no bash block starting with make demo"
    if how == "#":
        hidden = block.group(0).replace("\nmake ", "\n# make ")
    else:
        hidden = f"<!--\n{block.group(0)}\n-->"
    return readme.replace(block.group(0), hidden)


@pytest.mark.parametrize("how", ["#", "<!--"])
def test_setup_commands_commented_out_do_not_count(how):
    commented = _commented_out(README, how)
    assert commented != README
    assert "make demo" not in setup_commands(commented) and "make test" not in setup_commands(commented)


def test_settings_live_in_the_generated_configuration_page():
    assert "(docs/configuration.md)" in README, "README must link the configuration page"
    page = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`UBA_{name.upper()}`" not in page]
    assert not missing, f"docs/configuration.md lacks: {missing}; regenerate it with UBA_UPDATE_DOCS=1"
