"""What the planning service consumes from the bus."""

from __future__ import annotations

from kc_contracts.registry_events import EstablishmentRegisteredV1
from kc_contracts.subjects import subject_for
from kc_runtime.service import ServiceRuntime

from kc_planning.projections.establishments import EstablishmentsView


def subscribe(runtime: ServiceRuntime, establishments: EstablishmentsView, source_instances: list[str]) -> None:
    for source in source_instances:
        runtime.consume(
            f"planning-establishments-{source}",
            source_instance=source,
            subjects=[subject_for(source, EstablishmentRegisteredV1)],
            effect=establishments.apply,
            is_tracked=establishments.store.has_tracked,
        )
