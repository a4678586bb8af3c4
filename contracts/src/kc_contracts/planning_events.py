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


class RegisteredProposal(BaseModel):
    """One proposal (nội dung đăng ký) of a registrant, as the Sở accepted it."""

    model_config = ConfigDict(frozen=True)

    registration_id: UUID = Field(description="The registrant's đăng ký kế hoạch this proposal came from")
    registrant: str = Field(description="Đơn vị đăng ký (name as filed)")
    registrant_kind: str = Field(description="xa | to_chuc_dich_vu | so_cong_thuong | don_vi_khac")
    unit: str | None = Field(None, description="The registrant's unit key (from its name)")
    title: str
    content: str | None = Field(None, description="Nội dung hoạt động (ND 45 Art. 4: 1–9)")
    support_vnd: int = Field(ge=0, description="Kinh phí đề nghị hỗ trợ, integer VND")
    commune_code: str | None = Field(None, description="Mã xã/phường as recorded")


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
    registrant_kind: str | None = Field(None, description="xa | to_chuc_dich_vu | so_cong_thuong | don_vi_khac")
    unit: str | None = Field(None, description="The registrant's unit key (from its name)")
    province_code: str | None = Field(None, description="Mã tỉnh of the instance it was filed with")
    proposals: list[RegisteredProposal] | None = Field(None, description="The proposals, one per item")


@contract
class RegistrationAcceptedV1(ContractEvent):
    """The plan's owner (the Sở) accepted a registration into its consolidation (tổng hợp)."""

    type = "planning.registration.accepted"
    version = 1

    registration_id: UUID
    level: str
    owner: str
    year: int
    registrant: str
    accepted_on: date
    note: str | None = None


@contract
class RegistrationReturnedV1(ContractEvent):
    """The plan's owner (the Sở) returned a registration to its registrant, with the reason."""

    type = "planning.registration.returned"
    version = 1

    registration_id: UUID
    level: str
    owner: str
    year: int
    registrant: str
    returned_on: date
    reason: str


@contract
class NationalRegistrationFiledV1(ContractEvent):
    """Đăng ký kế hoạch khuyến công quốc gia: the Sở filed the province's consolidated list of accepted
    proposals for the national programme with the Cục (TT 36/2013 Art. 10.2; deadline from the national
    calendar). A later filing for the same province and year (``revision``) replaces the earlier one."""

    type = "planning.national-registration.filed"
    version = 1

    national_registration_id: UUID
    province_code: str = Field(description="Mã tỉnh of the filing Sở, as recorded")
    year: int = Field(description="Plan year N")
    revision: int = Field(ge=1, description="1 for the first filing; each re-filing replaces the previous")
    filed_on: date
    deadline: date
    on_time: bool
    extension: str | None = Field(None, description="Số quyết định gia hạn of the Cục (when filed late)")
    calendar: str = Field(description="The calendar (and version) the deadline came from")
    proposals: list[RegisteredProposal]
    total_support_vnd: int = Field(ge=0)


@contract
class ExtensionGrantedV1(ContractEvent):
    """Quyết định gia hạn: the authority that set a deadline extended it for one registrant or unit
    (the Sở for local plans and units' national registrations; the Cục for national registrations and
    dossiers). Only a recorded decision lets a late registration or dossier in."""

    type = "planning.extension.granted"
    version = 1

    extension_id: UUID
    authority: str = Field(description="The instance whose authority decided: bo | tinh-<code>")
    level: str = Field(description="quoc_gia | dia_phuong")
    year: int = Field(description="Plan year N")
    milestone: str = Field(description="registration_deadline | dossier_deadline | unit_registration_deadline")
    decision_number: str
    decision_date: date
    signer: str
    grantee: str = Field(description="Who it extends (name)")
    grantee_key: str = Field(description="Their key: a unit's key from its name, or a province's instance")
    original_deadline: date
    new_deadline: date
    reason: str
