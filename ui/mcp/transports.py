"""The MCP server's transports: stdio for ``uba mcp``, streamable HTTP at /mcp inside ``uba serve``.

Over HTTP every request is authenticated by the API's Authenticator (the same key store, checked per
request); the Caller rides in the request's scope to the handlers, and the SDK binds each MCP session
to the key that opened it.
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ui.api.auth import Authenticator, is_loopback
from ui.api.errors import ApiError, error_body
from ui.mcp.server import CALLER_KEY, McpService

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"


class KeyAuth:
    """ASGI middleware: a 401 JSON body for a missing or unknown key, else the Caller in the scope."""

    def __init__(self, app: ASGIApp, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            caller = self.auth.caller(Request(scope))
        except ApiError as exc:
            body = json.dumps(error_body(exc.status, exc.message)).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *((k.lower().encode(), v.encode()) for k, v in exc.headers.items()),
            ]
            await send({"type": "http.response.start", "status": exc.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})[CALLER_KEY] = caller
        # The SDK refuses a session id presented by any other principal than the one that opened it.
        scope["user"] = AuthenticatedUser(AccessToken(token="", client_id=caller.owner, scopes=[]))
        await self.app(scope, receive, send)


def _security(host: str, port: int) -> TransportSecuritySettings:
    """DNS-rebinding protection on a loopback host (the Host header must name it); off elsewhere, where
    a key is required anyway."""
    if not is_loopback(host):
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = [f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=[f"http://{h}" for h in hosts]
    )


class _Sessions:
    """The streamable HTTP endpoint; a new SDK session manager for each run of the app's lifespan (a
    manager runs once, an app may be started again, as the tests' clients do)."""

    def __init__(self, server, **options) -> None:
        self.server = server
        self.options = options
        self.manager: StreamableHTTPSessionManager | None = None

    def new(self) -> StreamableHTTPSessionManager:
        self.manager = StreamableHTTPSessionManager(app=self.server, **self.options)
        return self.manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.manager is None:
            raise RuntimeError("the MCP endpoint was called before the app's lifespan started")
        await self.manager.handle_request(scope, receive, send)


def mount_http(app, service: McpService, auth: Authenticator, *, host: str, port: int, max_body_bytes: int) -> None:
    """Serve MCP over streamable HTTP at ``/mcp`` on the FastAPI ``app``, its sessions run by the app's lifespan."""
    sessions = _Sessions(
        service.server(), security_settings=_security(host, port), max_request_body_size=max_body_bytes
    )
    app.router.routes.append(
        Route(MCP_PATH, endpoint=KeyAuth(sessions, auth), methods=["GET", "POST", "DELETE"], include_in_schema=False)
    )
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(asgi_app):
        async with sessions.new().run(), previous(asgi_app) as state:
            yield state

    app.router.lifespan_context = lifespan


async def serve_stdio(service: McpService) -> None:
    """Answer one MCP client on stdin/stdout until it closes them."""
    server = service.server()
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
