"""Mã tra cứu: the reference the system gives each đề án at draft, unique in its instance.

``tinh-40-2024-0007``: the instance, the plan year, a number in that year. The đề án's own code
(``KCĐP-40-2024-07``) is what officers type and may repeat; the reference is what a unit or the
public looks a đề án up by. A reservation's id is derived from the reference and is saved in the
same transaction as the đề án's first event, so two đề án never get the same one, whatever the
concurrency. A đề án keeps its reference for life (it is in its ``Drafted`` event).
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

_NAMESPACE = UUID("5b0f0d8e-6a43-4b5e-9d2c-3f1d7a0c2e41")


def reference_for(instance: str, plan_year: int, number: int) -> str:
    return f"{instance}-{plan_year}-{number:04d}"


class DeAnReference(Aggregate):
    """The reservation of one reference for one đề án."""

    class Reserved(Aggregate.Created):
        reference: str
        de_an_id: UUID

    @staticmethod
    def create_id(reference: str, de_an_id: UUID) -> UUID:
        return DeAnReference.id_for(reference)

    @staticmethod
    def id_for(reference: str) -> UUID:
        return uuid5(_NAMESPACE, reference.strip().lower())

    @event(Reserved)
    def __init__(self, reference: str, de_an_id: UUID) -> None:
        self.reference = reference
        self.de_an_id = de_an_id
