"""The MCP surface: the analyst's tools and ``ask`` for any MCP client (stdio and streamable HTTP)."""

from ui.mcp.server import ASK_TOOL, McpService
from ui.mcp.transports import MCP_PATH, mount_http, serve_stdio

__all__ = ["ASK_TOOL", "MCP_PATH", "McpService", "mount_http", "serve_stdio"]
