"""What appraisal knows of a beneficiary (cơ sở thụ hưởng): facts the registry published, as typed
values — the domain never reads another service's JSON. The service's beneficiaries view builds
them; submission checks eligibility on the day and double funding against them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from kc_kernel.vocabulary import label

from kc_appraisal.domain.errors import BeneficiaryError


@dataclass(frozen=True)
class EligibilityPeriod:
    start: date
    end: date | None
    outcome: str  # ``dat`` when eligible
    rules: tuple[str, ...] = ()

    def covers(self, on: date) -> bool:
        return self.start <= on and (self.end is None or on <= self.end)


@dataclass(frozen=True)
class Recognition:
    """A certificate (SP CNNT tiêu biểu, OCOP); which scheme and level give priority, and only while
    valid, is the priority rule's to say."""

    valid_from: date
    valid_to: date
    revoked_on: date | None = None
    scheme: str = ""  # san_pham_cnnt_tieu_bieu | ocop
    level: str | None = None  # xa | huyen | tinh | khu_vuc | quoc_gia

    def valid_on(self, on: date) -> bool:
        return self.valid_from <= on <= self.valid_to and not (self.revoked_on and self.revoked_on <= on)


@dataclass(frozen=True)
class AreaPeriod:
    """A period in which the establishment's production site is on an official priority-area list
    (published by the registry: the list, its version, whether its text is still to confirm)."""

    area: str
    start: date
    end: date | None
    rule: str
    to_confirm: bool = False

    def covers(self, on: date) -> bool:
        return self.start <= on and (self.end is None or on <= self.end)


@dataclass(frozen=True)
class BeneficiaryFacts:
    name: str
    eligibility: tuple[EligibilityPeriod, ...] = ()
    sectors: tuple[str, ...] = ()
    recognitions: tuple[Recognition, ...] = ()
    supported_cost_items: frozenset[str] = field(default_factory=frozenset)  # casefolded: no double funding
    women_owned: bool = False
    ethnic_minority_owned: bool = False
    priority_areas: tuple[AreaPeriod, ...] = ()
    region: str | None = None  # TT 26/2014 region of the province as recorded

    def verdict_on(self, on: date) -> EligibilityPeriod | None:
        return next((p for p in self.eligibility if p.covers(on)), None)


BeneficiaryLookup = Callable[[UUID], BeneficiaryFacts | None]


def check_beneficiaries(
    lookup: BeneficiaryLookup, ids: list[str], cost_items: list[str], on: date
) -> list[BeneficiaryFacts]:
    """Each beneficiary known, eligible on ``on``, and not already state-funded for a cost item."""
    found = []
    for bid in ids:
        facts = lookup(UUID(bid))
        if facts is None:
            raise BeneficiaryError(
                f"Cơ sở thụ hưởng {bid} chưa có trong sổ đăng ký / unknown beneficiary", field="beneficiary_ids"
            )
        verdict = facts.verdict_on(on)
        if verdict is None or verdict.outcome != "dat":
            outcome = label("eligibility_outcome", verdict.outcome) if verdict else "chưa đánh giá"
            raise BeneficiaryError(
                f"Cơ sở '{facts.name}' không đủ điều kiện thụ hưởng ngày {on:%d/%m/%Y} ({outcome}; "
                f"{', '.join(verdict.rules) if verdict else 'no verdict'}) / ineligible beneficiary",
                field="beneficiary_ids",
            )
        check_no_double_funding(facts, cost_items)
        found.append(facts)
    return found


def check_no_double_funding(facts: BeneficiaryFacts, cost_items: list[str]) -> None:
    """No cost item the establishment already received state support for (ND 45/2012: the same cost item
    may not be funded twice) — from the support history the registry published (settlements included)."""
    for item in cost_items:
        if item.casefold() in facts.supported_cost_items:
            raise BeneficiaryError(
                f"Cơ sở '{facts.name}' đã được hỗ trợ hạng mục '{item}' từ nguồn nhà nước"
                " / this cost item was already state-funded (no double funding)",
                field="budget_lines",
            )
