"""A service's FastAPI app (``service_app``) and the HTTP stack every service puts around its API, in one
order: problem+json handlers, auth, request guards, metrics outermost (so it counts what the guards and
auth refuse), the health probes, the published chain's head and the offline API docs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI

from kc_runtime.keys import TrustFile
from kc_runtime.metrics import Metrics
from kc_runtime.tracing import Spans
from kc_runtime.web.apidocs import install_offline_docs
from kc_runtime.web.auth import install_auth
from kc_runtime.web.errors import install_problem_handlers
from kc_runtime.web.guards import install_request_guards
from kc_runtime.web.metrics import install_metrics
from kc_runtime.web.probes import install_health, install_outbox_head


class ServiceParts(Protocol):
    """What the stack takes from the service's runtime (``kc_runtime.service.ServiceRuntime``)."""

    trust: TrustFile
    metrics: Metrics
    spans: Spans | None  # tracing exported (OpenTelemetry), or None

    async def readiness(self) -> dict[str, bool]: ...

    async def degradation(self) -> dict[str, Any]: ...

    async def outbox_head(self) -> dict[str, Any] | None: ...

    def lifespan(self, _app: Any = None) -> AbstractAsyncContextManager[None]: ...


def service_app(
    runtime: ServiceParts,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    state: Mapping[str, Any],
    instance: str,
    permissions: Mapping[tuple[str, str], str],
    status_by_error: Mapping[type[Exception], int],
    upload_bytes: int = 0,
    degradation: bool = False,
    outbox_head: bool = True,
) -> FastAPI:
    """A service's app: its title and description in the API docs, started and stopped with the runtime
    (its lifespan), what its handlers read from ``app.state`` (and ``runtime``), its routers, and the
    stack around them; ``degradation`` adds what is degraded to ``/readyz``, ``outbox_head`` serves
    ``/outbox/head`` (services that publish)."""
    app = FastAPI(title=title, description=description, lifespan=runtime.lifespan)
    for name, value in {**state, "runtime": runtime}.items():
        setattr(app.state, name, value)
    for router in routers:
        app.include_router(router)
    install_problem_handlers(app, status_by_error)
    install_auth(app, instance=instance, trust=runtime.trust, permissions=permissions)
    install_request_guards(app, upload_bytes=upload_bytes, spans=runtime.spans)
    install_metrics(app, runtime.metrics)  # outermost: counts what the guards and auth refuse
    install_health(app, runtime.readiness, runtime.degradation if degradation else None)
    if outbox_head:
        install_outbox_head(app, runtime.outbox_head)
    install_offline_docs(app)
    return app
