"""The notifications service's composition root (its features land with their own issues)."""

from __future__ import annotations

from fastapi import FastAPI
from kc_runtime.http import install_health, install_problem_handlers
from kc_runtime.process import serve
from kc_runtime.service import ServiceRuntime
from kc_runtime.settings import Settings

SERVICE = "notifications"


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(settings)
    app = FastAPI(title="khuyencong notifications", lifespan=runtime.lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app, {})
    install_health(app, runtime.readiness)
    return app


def main() -> None:
    serve(SERVICE, create_app)


if __name__ == "__main__":
    main()
