"""The README documents every setting and states the two set-up commands first."""

from pathlib import Path

from agent.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table():
    missing = [name for name in Settings.model_fields if f"`UBA_{name.upper()}`" not in README]
    assert not missing, f"README configuration table lacks: {missing}"


def test_setup_commands_come_first():
    setup = README.split("## Set-up", 1)[1].split("##", 1)[0]
    assert "make demo" in setup and "make test" in setup
