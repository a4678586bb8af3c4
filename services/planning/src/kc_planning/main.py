"""The planning service's composition root."""

from __future__ import annotations

from fastapi import FastAPI
from kc_runtime.eventstore import persistence_env
from kc_runtime.http import install_health, install_problem_handlers
from kc_runtime.process import serve
from kc_runtime.service import ServiceRuntime
from kc_runtime.settings import Settings
from kc_runtime.views import ViewStore

from kc_planning import api, messaging
from kc_planning.projections.establishments import DDL, EstablishmentsView

SERVICE = "planning"


def create_app(settings: Settings) -> FastAPI:
    views = ViewStore(persistence_env(settings), name="planning_views", ddl=DDL)
    establishments = EstablishmentsView(views)
    runtime = ServiceRuntime(settings)
    messaging.subscribe(runtime, establishments, [settings.instance])
    runtime.close_on_stop(views.close)

    app = FastAPI(
        title="khuyencong planning",
        description="Lịch kế hoạch, đăng ký, kế hoạch năm, báo cáo tỉnh và quốc gia / plans and views",
        lifespan=runtime.lifespan,
    )
    app.state.establishments = establishments
    app.state.runtime = runtime
    app.include_router(api.router())
    install_problem_handlers(app, {})
    install_health(app, runtime.readiness)
    return app


def main() -> None:
    serve(SERVICE, create_app)


if __name__ == "__main__":
    main()
