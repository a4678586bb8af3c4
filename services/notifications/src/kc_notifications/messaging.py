"""What the notifications service consumes: appraisal milestones (own instance, peers) and
planning's public events (own instance and the ministry)."""

from __future__ import annotations

from kc_runtime.service import ServiceRuntime

from kc_notifications.inflow import Inflow


def subscribe(runtime: ServiceRuntime, inflow: Inflow, instance: str, peers: list[str]) -> None:
    for source in [instance, *peers]:
        runtime.consume(
            f"notifications-appraisal-{source}",
            source_instance=source,
            subjects=[f"kc.{source}.appraisal.de-an.>"],
            effect=inflow.appraisal,
            is_tracked=inflow.store.has_tracked,
        )
    for owner in sorted({instance, "bo"}):
        runtime.consume(
            f"notifications-planning-{owner}",
            source_instance=owner,
            subjects=[f"kc.{owner}.planning.>"],
            effect=inflow.planning,
            is_tracked=inflow.store.has_tracked,
        )
