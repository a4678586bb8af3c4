"""Health probes (``/healthz``, ``/readyz`` with what is degraded) and the published chain's head
(``/outbox/head``, for ``kc audit verify``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kc_runtime.web.errors import problem_responses

ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]
Degradation = Callable[[], Awaitable[dict[str, Any]]]


OutboxHead = Callable[[], Awaitable[dict[str, Any] | None]]


def install_outbox_head(app: FastAPI, head: OutboxHead) -> None:
    """``GET /outbox/head`` (permission ``verify``): this service's published chain head, signed
    (``ServiceRuntime.outbox_head``); ``kc audit verify`` compares it with the stream."""

    @app.get(
        "/outbox/head",
        tags=["kiểm toán"],
        summary="Đầu chuỗi sự kiện đã phát (đã ký) / the published chain's head, signed",
        responses=problem_responses(404),
    )
    async def outbox_head() -> dict[str, Any]:
        found = await head()
        if found is None:
            raise StarletteHTTPException(404, "Dịch vụ này không phát sự kiện / this service publishes no events")
        return found


def install_health(app: FastAPI, readiness: ReadinessCheck, degradation: Degradation | None = None) -> None:
    """``/healthz``: the process answers. ``/readyz``: every dependency check is true (else 503), and
    ``degraded`` with the details of what works but not fully (events a projection set aside): the
    service still answers, an operator has something to look at."""

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ready = all(checks.values())
        body: dict[str, Any] = {"ready": ready, "checks": checks}
        if degradation is not None:
            details = await degradation()
            body |= {"degraded": bool(details), **details}
        return JSONResponse(body, status_code=200 if ready else 503)
