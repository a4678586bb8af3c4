"""What the notifications service consumes: appraisal milestones (own instance, peers) and
planning's public events (own instance and the ministry). Each message → ``integration`` → the
application's use case, in one transaction with the inbox tracking."""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_runtime.bus.inbox import Effect
from kc_runtime.service import ServiceRuntime

from kc_notifications import integration
from kc_notifications.application import NotificationsApplication


def de_an_milestones(app: NotificationsApplication) -> Effect:
    def effect(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        app.record_de_an_milestone(integration.de_an_milestone(envelope, event), tracking)

    return effect


def planning_events(app: NotificationsApplication) -> Effect:
    def effect(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        app.record_planning_event(integration.planning_event(envelope, event), tracking)

    return effect


def subscribe(runtime: ServiceRuntime, app: NotificationsApplication, instance: str, peers: list[str]) -> None:
    for source in [instance, *peers]:
        runtime.consume(
            f"notifications-appraisal-{source}",
            source_instance=source,
            subjects=[f"kc.{source}.appraisal.de-an.>"],
            effect=de_an_milestones(app),
            is_tracked=app.is_tracked,
        )
    for owner in sorted({instance, "bo"}):
        runtime.consume(
            f"notifications-planning-{owner}",
            source_instance=owner,
            subjects=[f"kc.{owner}.planning.>"],
            effect=planning_events(app),
            is_tracked=app.is_tracked,
        )
