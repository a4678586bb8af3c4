"""What the planning service consumes from the bus.

- ``registry.establishment.registered.v1`` (own instance) → the establishments view;
- ``appraisal.de-an.*`` (own instance and peers) → the programme view (provincial/national);
- ``appraisal.de-an.proposed.v1`` (own instance and peers) → lines of the plans this instance owns;
- ``appraisal.de-an.adjustment-decided.v1`` (own instance and peers) → an approved change of a đề án's
  money amends the line of the plan this instance owns (``plan.amended``);
- ``planning.calendar.changed.v1`` and ``planning.extension.granted.v1`` of the ministry (at a province)
  → the Cục's national deadlines and extensions, by which national registrations are judged;
- ``registry.establishment.recognition-recorded/-revoked.v1`` (own instance and peers) → the typical
  products certified, counted at the regional and national level in the programme indicators;
- ``planning.national-registration.filed.v1`` of the provinces (at the ministry) → every province's
  national registration.
"""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.appraisal_events import AdjustmentDecidedV1, DeAnProposedV1
from kc_contracts.planning_events import CalendarChangedV1, ExtensionGrantedV1, NationalRegistrationFiledV1
from kc_contracts.registry_events import EstablishmentRegisteredV1, RecognitionRecordedV1, RecognitionRevokedV1
from kc_contracts.subjects import subject_for
from kc_runtime.bus.inbox import Effect
from kc_runtime.bus.rebuild import live_effect
from kc_runtime.service import ServiceRuntime
from kc_runtime.store.views import ViewStore

from kc_planning import integration
from kc_planning.application import PlanningApplication
from kc_planning.projections.establishments import EstablishmentsView
from kc_planning.projections.programme import ProgrammeView
from kc_planning.projections.recognitions import RecognitionsView
from kc_planning.projections.registrations import MinistryRecordsView


def proposals(app: PlanningApplication) -> Effect:
    """What a ``de-an.proposed`` message does here: a line of a plan this instance owns."""

    def effect(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        if isinstance(event, DeAnProposedV1):
            app.propose_line(integration.propose_line(envelope, event), tracking)
        else:
            app.save_tracked(tracking)  # another event on the subject: consumed, nothing to do

    return effect


def adjustments(app: PlanningApplication) -> Effect:
    """What a ``de-an.adjustment-decided`` message does here: the line of a plan this instance owns amended."""

    def effect(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        command = integration.amend_line(envelope, event) if isinstance(event, AdjustmentDecidedV1) else None
        if command is None:
            app.save_tracked(tracking)
        else:
            app.amend_line(command, tracking)

    return effect


def subscribe(
    runtime: ServiceRuntime,
    app: PlanningApplication,
    establishments: EstablishmentsView,
    programme: ProgrammeView,
    views: ViewStore,
    instance: str,
    peers: list[str],
    records: MinistryRecordsView | None = None,
    recognitions: RecognitionsView | None = None,
) -> None:
    runtime.consume(
        f"planning-establishments-{instance}",
        source_instance=instance,
        subjects=[subject_for(instance, EstablishmentRegisteredV1)],
        effect=establishments.apply,
        is_tracked=establishments.store.has_tracked,
    )
    effect = live_effect(programme, views)
    for source in [instance, *peers]:
        if recognitions is not None:  # typical products counted from the registry's certificates
            runtime.consume(
                f"planning-recognitions-{source}",
                source_instance=source,
                subjects=[subject_for(source, RecognitionRecordedV1), subject_for(source, RecognitionRevokedV1)],
                effect=recognitions.apply,
                is_tracked=recognitions.store.has_tracked,
            )
        runtime.consume(
            f"planning-programme-{source}",
            source_instance=source,
            subjects=[f"kc.{source}.appraisal.de-an.>"],
            effect=effect,
            is_tracked=views.has_tracked,
        )

        runtime.consume(
            f"planning-proposals-{source}",
            source_instance=source,
            subjects=[subject_for(source, DeAnProposedV1)],
            effect=proposals(app),
            is_tracked=app.is_tracked,
        )
        runtime.consume(
            f"planning-adjustments-{source}",
            source_instance=source,
            subjects=[subject_for(source, AdjustmentDecidedV1)],
            effect=adjustments(app),
            is_tracked=app.is_tracked,
        )
    if records is None:
        return
    if instance != "bo":
        runtime.consume(
            f"planning-ministry-records-{instance}",
            source_instance="bo",
            subjects=[subject_for("bo", CalendarChangedV1), subject_for("bo", ExtensionGrantedV1)],
            effect=records.apply,
            is_tracked=records.store.has_tracked,
        )
        return
    for province in peers:
        runtime.consume(
            f"planning-national-registrations-{province}",
            source_instance=province,
            subjects=[subject_for(province, NationalRegistrationFiledV1)],
            effect=records.apply,
            is_tracked=records.store.has_tracked,
        )
