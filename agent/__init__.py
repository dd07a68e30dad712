"""The brain: settings, LLM backends, the agent graph, the Answer and the Analyst service.

Heavy pieces are imported from their modules (``agent.factory``, ``agent.analyst``) so that
importing the package stays cheap for the CLI.
"""

from agent.settings import Settings

__all__ = ["Settings"]
