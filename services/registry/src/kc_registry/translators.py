"""The one place where the registry's domain events meet its public contract events."""

from __future__ import annotations

from typing import Any

from kc_contracts import ContractEvent
from kc_contracts.registry_events import EstablishmentRegisteredV1

from kc_registry.domain.establishment import Establishment


def to_contract(domain_event: Any) -> ContractEvent | None:
    if isinstance(domain_event, Establishment.Registered):
        return EstablishmentRegisteredV1(
            establishment_id=domain_event.originator_id,
            name=domain_event.name,
            province_code=domain_event.province_code,
            commune_code=domain_event.commune_code,
            legal_form=domain_event.legal_form,
            registered_at=domain_event.timestamp,
        )
    return None
