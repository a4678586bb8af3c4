"""Public events of the appraisal service: the milestones of a đề án khuyến công.

Every milestone carries the đề án's identity and headline figures, so a consumer (planning's views,
the ministry, an integrator) needs no history to use it, and the rule versions the decision applied.
Money is integer VND.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kc_contracts.base import ContractEvent, contract
from kc_contracts.limits import MAX_BATCH, Count, DeAnVnd, PositiveVnd, Vnd


class BudgetTotals(BaseModel):
    model_config = ConfigDict(frozen=True)

    total_cost_vnd: DeAnVnd
    support_requested_vnd: DeAnVnd
    counterpart_vnd: DeAnVnd
    other_vnd: DeAnVnd


class _Milestone(ContractEvent):
    de_an_id: UUID
    code: str = Field(description="Mã đề án, e.g. KCĐP-40-2024-0007")
    title: str
    level: str = Field(description="quoc_gia | dia_phuong")
    de_an_type: str = Field(description="kcqg_diem | kcqg_nhom | kcqg_thu_huong | kcdp | nhiem_vu")
    plan_year: int
    province_code: str = Field(description="Tỉnh of the implementing province / location")
    status: str
    at: datetime
    actor: str
    rule_versions: list[str] = Field(default_factory=list, description="Rules the decision applied")


class _Proposal(_Milestone):
    """What planning and the ministry need to place the đề án in a plan or a view."""

    activity_contents: list[str]
    commune_code: str | None = None
    beneficiary_ids: list[UUID] = Field(default_factory=list)
    budget: BudgetTotals
    implementing_unit: str


@contract
class DeAnSubmittedV1(_Proposal):
    """Nộp hồ sơ đề án (to the Sở), with the deadline that applied."""

    type = "appraisal.de-an.submitted"
    version = 1
    deadline: date
    extension_decision: str | None = None


@contract
class DeAnReturnedV1(_Milestone):
    """Trả lại để bổ sung (returned for supplement)."""

    type = "appraisal.de-an.returned"
    version = 1
    reason: str


@contract
class BaseAppraisalRecordedV1(_Milestone):
    """Thẩm định cấp cơ sở (Sở Công Thương)."""

    type = "appraisal.de-an.base-appraised"
    version = 1
    conclusion: str = Field(description="dong_y | dong_y_co_chinh_sua | khong_dong_y")
    recommended_support_vnd: Vnd
    mode: str = Field(description="hoi_dong | can_bo")
    appraised_on: date


@contract
class DeAnForwardedV1(_Proposal):
    """Gửi Bộ (Cục) để thẩm định cấp Bộ (national đề án)."""

    type = "appraisal.de-an.forwarded"
    version = 1
    recommended_support_vnd: Vnd


@contract
class MinistryAppraisalRecordedV1(_Milestone):
    """Thẩm định cấp Bộ."""

    type = "appraisal.de-an.ministry-appraised"
    version = 1
    conclusion: str
    recommended_support_vnd: Vnd
    appraised_on: date


@contract
class DeAnProposedV1(_Proposal):
    """Đề xuất đưa vào kế hoạch: the line planning puts in a plan."""

    type = "appraisal.de-an.proposed"
    version = 1
    recommended_support_vnd: Vnd
    priority_rank: list[int] = Field(description="(flagship, area, sector, capability): lower ranks first")


@contract
class DeAnApprovedV1(_Milestone):
    """Được phê duyệt trong kế hoạch (quyết định giao kế hoạch, đợt)."""

    type = "appraisal.de-an.approved"
    version = 1
    plan_decision: str
    batch: int = Field(le=MAX_BATCH)
    approved_support_vnd: Vnd


@contract
class DeAnNotFundedV1(_Milestone):
    type = "appraisal.de-an.not-funded"
    version = 1
    reason: str


@contract
class DeAnContractedV1(_Milestone):
    type = "appraisal.de-an.contracted"
    version = 1
    contract_number: str
    signed_on: date
    contracted_support_vnd: Vnd


@contract
class AdvanceRecordedV1(_Milestone):
    """Tạm ứng."""

    type = "appraisal.de-an.advance-recorded"
    version = 1
    amount_vnd: PositiveVnd
    advanced_total_vnd: Vnd
    paid_on: date


@contract
class AdjustmentDecidedV1(_Milestone):
    """Điều chỉnh, gia hạn, ngừng: decided by the authority the change required."""

    type = "appraisal.de-an.adjustment-decided"
    version = 1
    change_type: str
    authority: str = Field(description="bo_truong | cuc | so_cong_thuong | ubnd_tinh")
    approved: bool
    decision_number: str
    decided_on: date
    description: str | None = Field(None, description="What the request asked for")
    changes: dict[str, Any] | None = Field(None, description="The change as requested (support_vnd …)")
    approved_support_vnd: Vnd | None = Field(None, description="The approved support after the decision")
    contracted_support_vnd: Vnd | None = Field(None, description="The contracted support after the decision")


@contract
class DeAnAcceptedV1(_Milestone):
    """Nghiệm thu, with the outputs achieved (programme indicators)."""

    type = "appraisal.de-an.accepted"
    version = 1
    accepted_on: date
    outputs: dict[str, Count] = Field(
        default_factory=dict,
        description="Results typed per activity content (appraisal rules/results.toml): hoc_vien, "
        "hoc_vien_co_viec_lam, may_moc, mo_hinh, luot_hoi_cho … — never the establishments supported "
        "(beneficiary_ids) nor recognised products (the registry's recognitions)",
    )
    activity_contents: list[str] = Field(default_factory=list)
    beneficiary_ids: list[UUID] = Field(
        default_factory=list, description="The establishments the đề án supported (counted distinct in the views)"
    )
    accepted_support_vnd: Vnd | None = Field(
        None, description="Giá trị hỗ trợ được nghiệm thu (the support the accepted work is worth)"
    )


class SettledCostItem(BaseModel):
    """One cost item of a settled đề án and the state support settled for it (the settled amount shared
    among the budget lines in proportion to their requested support)."""

    model_config = ConfigDict(frozen=True)

    cost_item: str = Field(description="Hạng mục chi, as in the budget line")
    support_item: str = Field(description="Mục hỗ trợ (ceiling table)")
    support_vnd: Vnd


@contract
class AdjustmentRequestedV1(_Milestone):
    """Đề nghị điều chỉnh: the implementing unit asks for a change; ``authority`` must decide it
    (TT 36/2013 Art. 11: the Minister, the Cục, the Sở or UBND tỉnh)."""

    type = "appraisal.de-an.adjustment-requested"
    version = 1
    change_type: str
    description: str
    changes: dict[str, Any] = Field(default_factory=dict)
    authority: str = Field(description="bo_truong | cuc | so_cong_thuong | ubnd_tinh")
    requested_on: date
    approved_support_vnd: Vnd = Field(description="The approved support before the change")


@contract
class DeAnSettledV1(_Milestone):
    """Quyết toán."""

    type = "appraisal.de-an.settled"
    version = 1
    settled_support_vnd: Vnd
    settled_on: date
    beneficiary_ids: list[UUID] | None = Field(None, description="The establishments the support went to")
    cost_items: list[SettledCostItem] | None = Field(
        None, description="The settled support by cost item (what the registry's support history records)"
    )


@contract
class DeAnClosedV1(_Milestone):
    type = "appraisal.de-an.closed"
    version = 1


# -- the ministry's decisions on a province's national đề án (published by ``bo``) ----------------------
class _MinistryDecision(ContractEvent):
    """A decision the ministry recorded on its own instance about a province's national đề án: the
    province's appraisal applies it to the đề án (its own command), so the đề án's history shows who
    decided. ``instance`` and ``de_an_id`` name the đề án (records are keyed by both)."""

    instance: str = Field(description="The instance that owns the đề án (tinh-<code>)")
    de_an_id: UUID
    code: str = Field(description="Mã đề án")
    province_code: str
    plan_year: int
    actor: str = Field(description="Who decided (name, role@instance)")
    role: str = Field(description="The decider's role: cuc | lanh_dao_bo")
    at: datetime


@contract
class NationalMinistryAppraisedV1(_MinistryDecision):
    """Thẩm định cấp Bộ, recorded by the Cục on the ministry's instance."""

    type = "appraisal.national-de-an.ministry-appraised"
    version = 1
    mode: str = Field(description="hoi_dong | can_bo")
    members: list[dict[str, Any]] = Field(default_factory=list, description="The council (hoi_dong)")
    conclusion: str = Field(description="dong_y | dong_y_co_chinh_sua | khong_dong_y")
    recommended_support_vnd: Vnd
    appraised_on: date
    notes: str = ""


@contract
class NationalContractSignedV1(_MinistryDecision):
    """Hợp đồng the Cục signed with the implementing unit."""

    type = "appraisal.national-de-an.contracted"
    version = 1
    contract_number: str
    signed_on: date
    contracted_support_vnd: Vnd


@contract
class NationalAdjustmentDecidedV1(_MinistryDecision):
    """Quyết định điều chỉnh of the Minister (more money, new content, extension, stop) or of the Cục
    (changes that do not raise support), on the ministry's instance."""

    type = "appraisal.national-de-an.adjustment-decided"
    version = 1
    authority: str = Field(description="bo_truong | cuc")
    change_type: str
    approved: bool
    decision_number: str
    decided_on: date


@contract
class NationalSettledV1(_MinistryDecision):
    """Quyết toán of a national đề án, approved by the Cục."""

    type = "appraisal.national-de-an.settled"
    version = 1
    settled_on: date
    dossier_on: date
    settled_support_vnd: Vnd
