"""The registry's composition root: the only place that builds the object graph."""

from __future__ import annotations

from fastapi import FastAPI
from kc_kernel.dated import NoRuleInForceError
from kc_runtime.adminunits import load_catalogue
from kc_runtime.process import serve
from kc_runtime.service import ServiceRuntime
from kc_runtime.settings import Settings
from kc_runtime.store.eventstore import persistence_env
from kc_runtime.store.localprojection import LocalProjection
from kc_runtime.store.views import ViewStore
from kc_runtime.web.stack import service_app

from kc_registry import api, messaging, rulebook, translators
from kc_registry.application import EstablishmentNotFoundError, RegistryApplication
from kc_registry.documents import MAX_DOCUMENT_BYTES, DocumentStore
from kc_registry.domain.errors import DuplicateEstablishmentError, RegistryError, StaleVersionError
from kc_registry.permissions import ROUTE_PERMISSIONS
from kc_registry.projections import documents, establishments

SERVICE = "registry"


def instance_province(instance: str) -> str | None:
    """A province instance registers establishments of its own province only; the ministry any."""
    return instance.removeprefix("tinh-") if instance.startswith("tinh-") else None


def province_now_of(code: str) -> tuple[str, list[str]]:
    """(the province a recorded code is now, the pre-2025 provinces merged into it) — 2025 succession."""
    catalogue = load_catalogue()
    now = catalogue.province_successor.get(code, code) if code not in catalogue.provinces_now else code
    return now, sorted(p for p, successor in catalogue.province_successor.items() if successor == now)


def create_app(settings: Settings) -> FastAPI:
    env = persistence_env(settings)
    application = RegistryApplication(
        env,
        units=load_catalogue(),
        instance_province=instance_province(settings.instance),
        eligibility=rulebook.eligibility_rules(),
        recognitions=rulebook.recognition_rules(),
        documents=DocumentStore(settings.var_dir / settings.instance / "documents"),
        priority=rulebook.priority_rules(),
        province_now_of=province_now_of,
    )
    views = ViewStore(env, name="registry_views", ddl=establishments.DDL + documents.DDL)
    projection = LocalProjection(application, views, establishments.apply, name="registry-establishments")
    projection.catch_up()
    # its own tracking: on a store older than it, it starts from the first event
    dossiers = LocalProjection(application, views, documents.apply, name="registry-documents")
    dossiers.catch_up()

    runtime = ServiceRuntime(settings)
    runtime.publish_from(application, translators.to_contract)
    messaging.subscribe(runtime, application, settings.instance)
    runtime.follow(projection)
    runtime.follow(dossiers)
    runtime.close_on_stop(views.close)
    runtime.close_on_stop(application.close)

    return service_app(
        runtime,
        title="khuyencong registry",
        description=(
            "Cơ sở công nghiệp nông thôn, hồ sơ pháp lý, công nhận / establishments, legal dossiers, "
            "recognitions. Errors: application/problem+json, Vietnamese first."
        ),
        routers=[api.router()],
        state={
            "application": application,
            "establishments": establishments.EstablishmentsView(views),
            "documents": documents.DocumentsView(views),
            "projection": projection,
        },
        instance=settings.instance,
        permissions=ROUTE_PERMISSIONS,
        status_by_error={
            EstablishmentNotFoundError: 404,
            DuplicateEstablishmentError: 409,
            StaleVersionError: 409,
            RegistryError: 422,
            NoRuleInForceError: 422,
        },
        upload_bytes=MAX_DOCUMENT_BYTES + 64 * 1024,
        degradation=True,
    )


def main() -> None:
    serve(SERVICE, create_app)


if __name__ == "__main__":
    main()
