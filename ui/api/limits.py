"""Request limits: body size (413), per-key rate (429) and one running question per thread (409)."""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.api.errors import ApiError, error_body


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware refusing request bodies over ``max_bytes`` on the API paths with 413."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, prefixes: tuple[str, ...] = ("/v1/",)) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = prefixes

    def _message(self, size: int | None) -> str:
        seen = f"{size:,} bytes" if size is not None else "more"
        return (
            f"request body is {seen}; the limit is {self.max_bytes:,} bytes "
            "(UBA_API_MAX_BODY_BYTES); send a shorter message"
        )

    async def _reject(self, send: Send, size: int | None) -> None:
        body = json.dumps(error_body(413, self._message(size))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send, int(declared))
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(send, None)


class RateLimiter:
    """A sliding one-minute window of request times per caller."""

    def __init__(self, default_per_min: int) -> None:
        self.default_per_min = default_per_min
        self._hits: dict[str, deque[float]] = {}

    def check(self, caller: str, per_min: int | None = None) -> None:
        """Count one request for ``caller`` or raise 429 with Retry-After."""
        limit = per_min or self.default_per_min
        now = time.monotonic()
        hits = self._hits.setdefault(caller, deque())
        while hits and now - hits[0] >= 60.0:
            hits.popleft()
        if len(hits) >= limit:
            retry = max(1, math.ceil(60.0 - (now - hits[0])))
            raise ApiError(
                429,
                f"rate limit of {limit} requests per minute reached for this key; retry in {retry} s "
                "or ask for a key with a higher --rate",
                headers={"Retry-After": str(retry)},
            )
        hits.append(now)


class ThreadGuard:
    """At most one running question per thread id."""

    def __init__(self) -> None:
        self._running: set[str] = set()

    @contextmanager
    def hold(self, thread_id: str) -> Iterator[None]:
        """Mark ``thread_id`` busy for the block, or raise 409 when it already is."""
        if thread_id in self._running:
            raise ApiError(
                409,
                f"thread {thread_id!r} is already answering a question; wait for it to finish or use another thread id",
            )
        self._running.add(thread_id)
        try:
            yield
        finally:
            self._running.discard(thread_id)

    def busy(self, thread_id: str) -> bool:
        """True while a question runs on ``thread_id``."""
        return thread_id in self._running
