"""What the LLM may call: typed arguments, bounded text for the model, artifacts for the Answer."""

from tools.artifact import Chart, Citation, Table, ToolArtifact
from tools.registry import TOOL_FAMILIES, ToolDeps, build_tools

__all__ = ["TOOL_FAMILIES", "Chart", "Citation", "Table", "ToolArtifact", "ToolDeps", "build_tools"]
