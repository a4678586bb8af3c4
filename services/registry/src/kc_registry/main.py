"""The registry's composition root: the only place that builds the object graph."""

from __future__ import annotations

from eventsourcing.application import AggregateNotFoundError
from fastapi import FastAPI
from kc_runtime.eventstore import persistence_env
from kc_runtime.http import install_health, install_problem_handlers
from kc_runtime.process import serve
from kc_runtime.service import ServiceRuntime
from kc_runtime.settings import Settings

from kc_registry import api, translators
from kc_registry.application import RegistryApplication
from kc_registry.domain.establishment import EstablishmentError

SERVICE = "registry"


def create_app(settings: Settings) -> FastAPI:
    application = RegistryApplication(env=persistence_env(settings))
    runtime = ServiceRuntime(settings)
    runtime.publish_from(application, translators.to_contract)
    runtime.close_on_stop(application.close)

    app = FastAPI(
        title="khuyencong registry",
        description=(
            "Cơ sở công nghiệp nông thôn, hồ sơ pháp lý, công nhận / establishments, dossiers, recognitions"
        ),
        lifespan=runtime.lifespan,
    )
    app.state.application = application
    app.state.runtime = runtime
    app.include_router(api.router())
    install_problem_handlers(app, {EstablishmentError: 422, AggregateNotFoundError: 404})
    install_health(app, runtime.readiness)
    return app


def main() -> None:
    serve(SERVICE, create_app)


if __name__ == "__main__":
    main()
