"""The registry's use cases (the eventsourcing Application)."""

from __future__ import annotations

from uuid import UUID

from kc_runtime.eventstore import ServiceApplication

from kc_registry.domain.establishment import Establishment, LegalForm


class RegistryApplication(ServiceApplication):
    name = "registry"

    def register_establishment(
        self,
        *,
        name: str,
        province_code: str,
        commune_code: str,
        legal_form: LegalForm,
        actor: str,
        correlation_id: str | None = None,
    ) -> Establishment:
        establishment = Establishment.register(
            name=name,
            province_code=province_code,
            commune_code=commune_code,
            legal_form=legal_form,
            actor=actor,
            correlation_id=correlation_id,
        )
        self.save(establishment)
        return establishment

    def get_establishment(self, establishment_id: UUID) -> Establishment:
        establishment: Establishment = self.repository.get(establishment_id)
        return establishment
