"""The README starts with the two set-up commands and sends readers to the generated settings page."""

import re
from pathlib import Path

from agent.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def setup_commands(readme: str) -> list[str]:
    """The commands of the Set-up section's code blocks: comments and commented-out lines dropped."""
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
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


def test_setup_commands_commented_out_do_not_count():
    commented = README.replace("make demo    #", "# make demo    #")
    assert "make demo" not in setup_commands(commented)


def test_settings_live_in_the_generated_configuration_page():
    assert "(docs/configuration.md)" in README, "README must link the configuration page"
    page = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`UBA_{name.upper()}`" not in page]
    assert not missing, f"docs/configuration.md lacks: {missing}; regenerate it with UBA_UPDATE_DOCS=1"
