"""What the bus asks of the registry, as its own commands (built by ``integration``)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class SettledCost:
    cost_item: str
    support_vnd: int


@dataclass(frozen=True)
class RecordSettledSupport:
    """A đề án of this instance was settled (quyết toán): the state support each of its beneficiaries
    received for each cost item goes into their support history, so the same cost item is not funded
    twice."""

    reference: str  # the đề án's code: where the support came from
    funding_source: str  # quoc_gia | dia_phuong
    year: int
    beneficiary_ids: tuple[UUID, ...]
    costs: tuple[SettledCost, ...]
    actor: str
    correlation_id: str | None = None
