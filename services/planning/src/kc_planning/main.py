"""The planning service's composition root."""

from __future__ import annotations

from fastapi import FastAPI
from kc_runtime.bus.rebuild import ensure_tables
from kc_runtime.process import serve
from kc_runtime.service import ServiceRuntime
from kc_runtime.settings import Settings
from kc_runtime.store.eventstore import persistence_env
from kc_runtime.store.localprojection import LocalProjection
from kc_runtime.store.views import ViewStore
from kc_runtime.web.stack import service_app

from kc_planning import api, messaging, translators
from kc_planning.application import NotFoundError, NotOwnerError, PlanningApplication
from kc_planning.domain.plan import PlanError
from kc_planning.permissions import ROUTE_PERMISSIONS
from kc_planning.projections import recognitions, registrations
from kc_planning.projections.establishments import DDL, EstablishmentsView
from kc_planning.projections.programme import ProgrammeQueries, ProgrammeView

SERVICE = "planning"


def create_app(settings: Settings) -> FastAPI:
    env = persistence_env(settings)
    views = ViewStore(env, name="planning_views", ddl=[*DDL, *registrations.DDL, *recognitions.DDL])
    programme = ProgrammeView()
    ensure_tables(views, programme)
    establishments = EstablishmentsView(views)
    recognition_view = recognitions.RecognitionsView(views)
    records = registrations.RegistrationQueries(views)
    application = PlanningApplication(env, instance=settings.instance, records=records)
    listing = LocalProjection(application, views, registrations.apply, name=registrations.NAME)
    listing.catch_up()

    runtime = ServiceRuntime(settings)
    runtime.publish_from(
        application,
        translators.translator(lambda e: application.repository.get(e.originator_id, version=e.originator_version)),
    )
    messaging.subscribe(
        runtime,
        application,
        establishments,
        programme,
        views,
        settings.instance,
        settings.peers,
        registrations.MinistryRecordsView(views),
        recognition_view,
    )
    runtime.run_in_background(listing.follow, "projection")
    runtime.close_on_stop(views.close)
    runtime.close_on_stop(application.close)

    return service_app(
        runtime,
        title="khuyencong planning",
        description="Lịch kế hoạch, đăng ký, kế hoạch năm, báo cáo tỉnh và quốc gia / calendars, registrations, "
        "annual plans, provincial and national views. Errors: application/problem+json, Vietnamese first.",
        routers=[api.router()],
        state={
            "application": application,
            "establishments": establishments,
            "programme": ProgrammeQueries(views),
            "registrations": records,
            "recognitions": recognition_view,
            "views": views,
        },
        instance=settings.instance,
        permissions=ROUTE_PERMISSIONS,
        status_by_error={NotFoundError: 404, NotOwnerError: 403, PlanError: 422},
        upload_bytes=5 * 1024 * 1024,
    )


def main() -> None:
    serve(SERVICE, create_app)


if __name__ == "__main__":
    main()
