"""``GET /metrics`` in the Prometheus text format, and HTTP rates and latencies by route template.

Requests are counted by *route template* (``/de-an/{de_an_id}``), never by raw path, so a scan of
random URLs cannot blow up the series: a path no route matches is ``(unmatched)``.

``/metrics`` needs the permission ``verify`` (the auditor roles ``kiem_toan_tinh`` / ``kiem_toan``,
whose tokens may live 30 days; mapped in ``RUNTIME_ROUTE_PERMISSIONS``): Prometheus sends one with
``authorization: credentials_file``. Counts of đề án per state are not secret, but a scrape is work
done for whoever asks, and the routes and rates reveal who uses what.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kc_runtime.metrics import Metrics
from kc_runtime.web.auth import Refusal

UNMATCHED = "(unmatched)"
# a command is a transaction and a signature; an export can take seconds
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def route_template(app: Any, scope: Scope) -> str:
    """The template of the route ``scope`` reached (set by the router), or the one it would reach
    (a request refused before routing: 401, 403, 413), or :data:`UNMATCHED`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    for candidate in getattr(app, "routes", []):
        match, _ = candidate.matches(scope)
        if match == Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED))
    return UNMATCHED


def install_metrics(app: FastAPI, metrics: Metrics, *, guard: Refusal | None = None) -> None:
    """``GET /metrics`` and the HTTP middleware; call it after :func:`~kc_runtime.web.auth.install_auth`
    so requests refused there are counted too (the last middleware added is the outermost). ``guard``:
    the route's own check, for an app without ``install_auth`` (:func:`~kc_runtime.web.auth.token_guard`)."""

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Số đo cho Prometheus / metrics in the Prometheus text format",
        response_class=Response,
    )
    async def metrics_endpoint(request: Request) -> Response:
        refused = guard(request) if guard is not None else None
        if refused is not None:
            return refused
        body = await asyncio.to_thread(metrics.exposition)
        # the classic text format every Prometheus 2.x reads (the names are plain ASCII: nothing escaped)
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)

    router = app.router
    requests = Counter(
        "kc_http_requests",
        "HTTP requests answered, by method, route template and status",
        ["method", "route", "status"],
        registry=metrics.registry,
    )
    latency = Histogram(
        "kc_http_request_duration_seconds",
        "Time to answer an HTTP request, by method and route template",
        ["method", "route"],
        buckets=LATENCY_BUCKETS,
        registry=metrics.registry,
    )

    class Measure:
        """Plain ASGI: times the whole answer, labels it by route template once the router has run."""

        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await self.inner(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            try:
                await self.inner(scope, receive, send_status)
            finally:
                method = scope["method"]
                route = route_template(router, scope)
                requests.labels(method, route, str(status)).inc()
                latency.labels(method, route).observe(time.perf_counter() - started)

    app.add_middleware(Measure)
