"""What the registry consumes from the bus.

- ``appraisal.de-an.settled.v1`` (own instance) → the support each beneficiary received, per cost item,
  into its support history (``support-recorded``), against double funding.
"""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.appraisal_events import DeAnSettledV1
from kc_contracts.subjects import subject_for
from kc_runtime.bus.inbox import Effect
from kc_runtime.service import ServiceRuntime

from kc_registry import integration
from kc_registry.application import RegistryApplication


def settlements(app: RegistryApplication) -> Effect:
    """What a ``de-an.settled`` message does here: the support history of the đề án's beneficiaries."""

    def effect(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        command = integration.record_settled_support(envelope, event) if isinstance(event, DeAnSettledV1) else None
        if command is None:
            app.save_tracked(tracking)
        else:
            app.record_settled_support(command, tracking)

    return effect


def subscribe(runtime: ServiceRuntime, app: RegistryApplication, instance: str) -> None:
    runtime.consume(
        f"registry-settlements-{instance}",
        source_instance=instance,
        subjects=[subject_for(instance, DeAnSettledV1)],
        effect=settlements(app),
        is_tracked=app.is_tracked,
    )
