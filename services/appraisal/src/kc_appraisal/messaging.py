"""What the appraisal service consumes from the bus.

- ``registry.establishment.*`` from its own instance and its peers → the beneficiaries view;
- ``planning.calendar.changed.v1`` from its own instance and the ministry → deadlines override the
  packaged defaults;
- ``planning.extension.granted.v1`` from its own instance and the ministry → a dossier deadline extended for
  an implementing unit by the authority that set it (the Sở for local plans, the Cục for national ones);
- ``planning.plan.approved.v1`` from its own instance (local plan) and the ministry (national plan)
  → the đề án in the plan are approved, with the tracking, in one transaction;
- at a province, ``appraisal.national-de-an.*.v1`` from the ministry → the ministry's decisions on this
  province's national đề án (appraisal, contract, adjustment, settlement) applied to the đề án;
- at the ministry, ``appraisal.de-an.*.v1`` from each province → the ministry's record of the province's
  national đề án.
"""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.planning_events import PlanApprovedV1
from kc_runtime.bus.inbox import Effect
from kc_runtime.service import ServiceRuntime

from kc_appraisal import integration
from kc_appraisal.application import AppraisalApplication
from kc_appraisal.projections.beneficiaries import BeneficiariesView
from kc_appraisal.projections.calendars import CalendarsView


def plan_approvals(app: AppraisalApplication, instance: str) -> Effect:
    """What a ``plan.approved`` message does here: its lines of this instance approved."""

    def effect(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        if isinstance(event, PlanApprovedV1):
            app.approve_in_plan(integration.approve_in_plan(envelope, event, instance), tracking)
        else:
            app.save_tracked(tracking)  # another event on the subject: consumed, nothing to do

    return effect


def ministry_decisions(app: AppraisalApplication, instance: str) -> Effect:
    """What an ``appraisal.national-de-an.*`` message of the ministry does here: its decision on one of
    this instance's national đề án applied to the đề án (others: consumed, nothing to do)."""

    def effect(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        command = integration.apply_ministry_decision(envelope, event, instance)
        if command is None:
            app.save_tracked(tracking)
        else:
            app.apply_ministry_decision(command, tracking)

    return effect


def province_milestones(app: AppraisalApplication) -> Effect:
    """What a province's ``appraisal.de-an.*`` message does at the ministry: its record of the national đề án."""

    def effect(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        command = integration.record_province_milestone(envelope, event)
        if command is None:
            app.save_tracked(tracking)
        else:
            app.record_province_milestone(command, tracking)

    return effect


def subscribe(
    runtime: ServiceRuntime,
    app: AppraisalApplication,
    beneficiaries: BeneficiariesView,
    calendars: CalendarsView,
    instance: str,
    peers: list[str],
) -> None:
    for source in [instance, *peers]:
        runtime.consume(
            f"appraisal-beneficiaries-{source}",
            source_instance=source,
            subjects=[f"kc.{source}.registry.establishment.>"],
            effect=beneficiaries.apply,
            is_tracked=beneficiaries.store.has_tracked,
        )

    for owner in sorted({instance, "bo"}):
        runtime.consume(
            f"appraisal-calendars-{owner}",
            source_instance=owner,
            subjects=[f"kc.{owner}.planning.calendar.changed.v1"],
            effect=calendars.apply,
            is_tracked=calendars.store.has_tracked,
        )
        runtime.consume(  # extensions of the dossier deadline, decided by the authority that set it
            f"appraisal-extensions-{owner}",
            source_instance=owner,
            subjects=[f"kc.{owner}.planning.extension.granted.v1"],
            effect=calendars.apply,
            is_tracked=calendars.store.has_tracked,
        )
        runtime.consume(
            f"appraisal-plans-{owner}",
            source_instance=owner,
            subjects=[f"kc.{owner}.planning.plan.approved.v1"],
            effect=plan_approvals(app, instance),
            is_tracked=app.is_tracked,
        )

    if instance != "bo":
        runtime.consume(  # the ministry decides on its own instance; its decisions on ours arrive here
            f"appraisal-ministry-decisions-{instance}",
            source_instance="bo",
            subjects=["kc.bo.appraisal.national-de-an.>"],
            effect=ministry_decisions(app, instance),
            is_tracked=app.is_tracked,
        )
        return
    for province in peers:
        runtime.consume(  # the provinces' đề án: the ministry's record of their national ones
            f"appraisal-national-de-an-{province}",
            source_instance=province,
            subjects=[f"kc.{province}.appraisal.de-an.>"],
            effect=province_milestones(app),
            is_tracked=app.is_tracked,
        )
