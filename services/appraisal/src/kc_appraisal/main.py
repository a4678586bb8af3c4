"""The appraisal service's composition root."""

from __future__ import annotations

from fastapi import FastAPI
from kc_kernel.dated import NoRuleInForceError
from kc_runtime.process import serve
from kc_runtime.service import ServiceRuntime
from kc_runtime.settings import Settings
from kc_runtime.store.eventstore import StatesAt, persistence_env
from kc_runtime.store.files import ContentStore
from kc_runtime.store.localprojection import LocalProjection
from kc_runtime.store.views import ViewStore
from kc_runtime.web.stack import service_app

from kc_appraisal import api, files_api, messaging, rulebook, translators
from kc_appraisal import metrics as programme_metrics
from kc_appraisal.application import MAX_DOCUMENT_BYTES, AppraisalApplication, UnitMismatchError
from kc_appraisal.domain.council import ConflictOfInterestError, NotAMemberError
from kc_appraisal.domain.errors import (
    AppraisalError,
    NotAllowedInStateError,
    NotTheAuthorityError,
    StaleVersionError,
)
from kc_appraisal.domain.national_de_an import AwaitingProvinceError
from kc_appraisal.permissions import ROUTE_PERMISSIONS
from kc_appraisal.projections import beneficiaries, calendars, councils, de_an_list, national_de_an
from kc_appraisal.use_case import AmbiguousCodeError, DeAnNotFoundError, RecordNotFoundError

SERVICE = "appraisal"


def create_app(settings: Settings) -> FastAPI:
    env = persistence_env(settings)
    views = ViewStore(
        env,
        name="appraisal_views",
        ddl=beneficiaries.DDL + de_an_list.DDL + calendars.DDL + councils.DDL + national_de_an.DDL,
    )
    beneficiary_view = beneficiaries.BeneficiariesView(views, settings.instance)
    calendar_view = calendars.CalendarsView(views)
    de_an_view = de_an_list.DeAnList(views)
    national_view = national_de_an.NationalList(views)
    rules = rulebook.rulebook()
    application = AppraisalApplication(
        env,
        rules=rules,
        beneficiaries=beneficiary_view.lookup,
        instance=settings.instance,
        calendars=calendar_view.lookup,
        extensions=calendar_view.extension,
        index=de_an_view,
        councils=councils.CouncilIndex(views),
        council_rules=rulebook.council_rules(),
        files=ContentStore(settings.var_dir / settings.instance / "de-an-files"),  # never sent anywhere
        national_index=national_view,
    )
    listing = LocalProjection(application, views, de_an_list.apply, name=de_an_list.NAME)
    listing.catch_up()
    council_listing = LocalProjection(application, views, councils.apply, name=councils.NAME)
    council_listing.catch_up()
    national_listing = LocalProjection(application, views, national_de_an.apply, name=national_de_an.NAME)
    national_listing.catch_up()

    runtime = ServiceRuntime(settings)
    # each milestone is translated with the đề án as of its version, kept from the event before (no replay)
    states = StatesAt(application)
    runtime.publish_from(application, states.following(translators.translator(states)))
    messaging.subscribe(runtime, application, beneficiary_view, calendar_view, settings.instance, settings.peers)
    runtime.follow(listing)
    programme_metrics.register(runtime.metrics, views, rules=rules, calendars=calendar_view.lookup)
    runtime.follow(council_listing)
    runtime.follow(national_listing)
    runtime.close_on_stop(views.close)
    runtime.close_on_stop(application.close)

    return service_app(
        runtime,
        title="khuyencong appraisal",
        description="Đề án khuyến công: nộp, thẩm định, phê duyệt, thực hiện, nghiệm thu, quyết toán. "
        "Errors: application/problem+json, Vietnamese first.",
        routers=[api.router(), files_api.router()],
        state={"application": application, "beneficiaries": beneficiary_view, "de_an_list": de_an_view},
        instance=settings.instance,
        permissions=ROUTE_PERMISSIONS,
        status_by_error={
            DeAnNotFoundError: 404,
            RecordNotFoundError: 404,
            NotAMemberError: 403,
            ConflictOfInterestError: 403,
            UnitMismatchError: 403,
            NotTheAuthorityError: 403,
            AwaitingProvinceError: 409,
            AmbiguousCodeError: 409,
            NotAllowedInStateError: 409,
            StaleVersionError: 409,
            AppraisalError: 422,
            NoRuleInForceError: 422,
        },
        upload_bytes=MAX_DOCUMENT_BYTES + 64 * 1024,
        degradation=True,
    )


def main() -> None:
    serve(SERVICE, create_app)


if __name__ == "__main__":
    main()
