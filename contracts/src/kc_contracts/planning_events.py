"""Public events of the planning service. ``plan.approved.v1`` is the one integrators subscribe to."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kc_contracts.base import ContractEvent, contract
from kc_contracts.limits import MAX_BATCH, MAX_COUNT, MAX_VND


def plan_owner(level: str, province_code: str) -> str:
    """The instance that owns a plan: the ministry for national plans, the province for local ones."""
    return "bo" if level == "quoc_gia" else f"tinh-{province_code}"


class ApprovedLine(BaseModel):
    """One đề án in an approved plan."""

    model_config = ConfigDict(frozen=True)

    de_an_id: UUID
    instance: str = Field(description="The instance that owns the đề án (tinh-40, bo …)")
    code: str
    title: str
    beneficiary: str | None = None
    province_code: str
    commune_code: str | None = None
    activity_contents: list[str]
    approved_support_vnd: int = Field(ge=0, le=MAX_VND, description="Integer VND")


@contract
class PlanApprovedV1(ContractEvent):
    """Quyết định giao kế hoạch khuyến công (a batch, đợt) was signed."""

    type = "planning.plan.approved"
    version = 1

    plan_id: UUID
    level: str = Field(description="quoc_gia | dia_phuong")
    owner: str = Field(description="bo | tinh-<code>")
    year: int
    batch: int = Field(ge=1, le=MAX_BATCH, description="Đợt")
    decision_number: str
    decision_date: date
    signer: str
    lines: list[ApprovedLine]
    total_support_vnd: int = Field(ge=0)


@contract
class PlanAmendedV1(ContractEvent):
    """Điều chỉnh kế hoạch: approved amounts changed or lines withdrawn (0 VND), by decision."""

    type = "planning.plan.amended"
    version = 1

    plan_id: UUID
    level: str
    owner: str
    year: int
    decision_number: str
    decision_date: date
    signer: str
    reason: str
    changes: list[ApprovedLine] = Field(description="The lines as they now stand (0 VND = withdrawn)")
    total_support_vnd: int = Field(ge=0, description="The plan's approved total after the amendment")


@contract
class CalendarChangedV1(ContractEvent):
    """A plan calendar was set or changed by its owner (deadlines for registration and dossiers)."""

    type = "planning.calendar.changed"
    version = 1

    level: str
    owner: str
    year: int
    registration_deadline: date
    dossier_deadline: date
    legal_basis: str
    reason: str


@contract
class RegistrationFiledV1(ContractEvent):
    """Đăng ký kế hoạch filed with a plan's owner (on time or under an extension)."""

    type = "planning.registration.filed"
    version = 1

    registration_id: UUID
    level: str
    owner: str
    year: int
    registrant: str
    filed_on: date
    on_time: bool
    extension: str | None = None
    items: int = Field(ge=0, le=MAX_COUNT)
    support_vnd: int = Field(ge=0)
