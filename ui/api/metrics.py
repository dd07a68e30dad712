"""Prometheus metrics of one server: requests, latency, questions, LLM calls, tool calls, errors."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The counters one app exposes on ``/metrics``; each app has its own registry."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        disable_created_metrics()  # the *_created series only double the exposition
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "uba_http_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "uba_http_request_duration_seconds", "HTTP request latency", ["route"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.questions = Counter(
            "uba_questions", "Questions answered, by surface and outcome", ["surface", "outcome"], registry=r
        )
        self.in_flight = Gauge("uba_questions_in_flight", "Questions being answered now", registry=r)
        self.analyst_seconds = Histogram(
            "uba_analyst_duration_seconds", "Time the analyst spent on a question", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.llm_calls = Counter("uba_llm_calls", "LLM calls made by the agent", registry=r)
        self.llm_tokens = Counter("uba_llm_tokens", "LLM tokens", ["kind"], registry=r)
        self.tool_calls = Counter("uba_tool_calls", "Tool calls made by the agent", ["tool"], registry=r)
        self.errors = Counter("uba_errors", "Errors answered, by HTTP status", ["status"], registry=r)
        self.mcp_calls = Counter(
            "uba_mcp_calls", "MCP tool calls and resource reads, by name and outcome", ["action", "outcome"], registry=r
        )
        self.cancelled = Counter("uba_runs_cancelled", "Runs cancelled because the client went away", registry=r)

    def record_answer(self, usage: dict, trace: list[dict]) -> None:
        """Count the LLM and tool calls of one finished answer."""
        self.llm_calls.inc(int(usage.get("llm_calls") or 0))
        for kind in ("prompt_tokens", "completion_tokens"):
            self.llm_tokens.labels(kind=kind.split("_")[0]).inc(int(usage.get(kind) or 0))
        for step in trace:
            if step.get("tool"):
                self.tool_calls.labels(tool=str(step["tool"])).inc()

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)


def server_timing(timing: dict[str, float], started: float) -> str:
    """A ``Server-Timing`` header: waiting for the model's warm-up and for a worker, the analyst's run, the
    whole request (ms)."""
    total = (time.perf_counter() - started) * 1000
    return (
        f"warm;dur={timing.get('warm_s', 0) * 1000:.1f}, queue;dur={timing.get('queue_s', 0) * 1000:.1f}, analyst;dur={timing.get('analyst_s', 0) * 1000:.1f}, "
        f"total;dur={total:.1f}"
    )


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return path
    raw = scope.get("path", "")
    return "/ui" if raw.startswith("/ui") else "other"


class MetricsMiddleware:
    """ASGI middleware timing every HTTP request and counting it by route template and status."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = _route_of(scope)
            self.metrics.requests.labels(method=scope["method"], route=route, status=str(status)).inc()
            self.metrics.latency.labels(route=route).observe(time.perf_counter() - started)
            if status >= 400:
                self.metrics.errors.labels(status=str(status)).inc()
