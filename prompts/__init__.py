"""Prompt files (Markdown templates and YAML data); loaded only by ``agent.prompt``."""

__all__: list[str] = []
