"""The one place where planning's domain events meet its public contracts.

``plan.approved.v1`` carries every line the batch approved, with the đề án's facts as proposed;
the translator reads the plan as it stood at the event's version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from kc_contracts import ContractEvent
from kc_contracts.planning_events import (
    ApprovedLine,
    CalendarChangedV1,
    ExtensionGrantedV1,
    NationalRegistrationFiledV1,
    PlanAmendedV1,
    PlanApprovedV1,
    RegisteredProposal,
    RegistrationAcceptedV1,
    RegistrationFiledV1,
    RegistrationReturnedV1,
)

from kc_planning.domain.calendar import PlanCalendar, Registration
from kc_planning.domain.extension import ExtensionDecision
from kc_planning.domain.national_registration import NationalRegistration
from kc_planning.domain.plan import AnnualPlan

StateAt = Callable[[Any], Any]


def _line(plan: AnnualPlan, key: str, amount: int) -> ApprovedLine:
    p = plan.lines[key]["proposal"]
    return ApprovedLine(
        de_an_id=UUID(key),
        instance=p["instance"],
        code=p["code"],
        title=p["title"],
        beneficiary=", ".join(p.get("beneficiary_ids") or []) or None,
        province_code=p["province_code"],
        commune_code=p.get("commune_code"),
        activity_contents=p["activity_contents"],
        approved_support_vnd=amount,
    )


def _proposal(registration_id: UUID, details: dict[str, Any], item: dict[str, Any]) -> RegisteredProposal:
    return RegisteredProposal(
        registration_id=registration_id,
        registrant=details["registrant"],
        registrant_kind=details.get("registrant_kind") or "don_vi_khac",
        unit=details.get("unit"),
        title=item["title"],
        content=item.get("content"),
        support_vnd=int(item.get("support_vnd") or 0),
        commune_code=item.get("commune_code"),
    )


def translator(state_at: StateAt) -> Callable[[Any], ContractEvent | None]:
    def to_contract(e: Any) -> ContractEvent | None:
        if isinstance(e, AnnualPlan.BatchApproved):
            plan: AnnualPlan = state_at(e)
            lines = [_line(plan, k, v) for k, v in e.approved.items()]
            return PlanApprovedV1(
                plan_id=e.originator_id,
                level=plan.level,
                owner=plan.owner,
                year=plan.year,
                batch=e.batch,
                decision_number=e.decision_number,
                decision_date=e.decision_date,
                signer=e.signer,
                lines=lines,
                total_support_vnd=sum(e.approved.values()),
            )
        if isinstance(e, AnnualPlan.Amended):
            plan = state_at(e)
            return PlanAmendedV1(
                plan_id=e.originator_id,
                level=plan.level,
                owner=plan.owner,
                year=plan.year,
                decision_number=e.decision_number,
                decision_date=e.decision_date,
                signer=e.signer,
                reason=e.reason,
                changes=[_line(plan, k, v) for k, v in e.changes.items()],
                total_support_vnd=plan.approved_total(),
            )
        if isinstance(e, PlanCalendar.Set | PlanCalendar.Changed):
            cal: PlanCalendar = state_at(e)
            return CalendarChangedV1(
                level=cal.level,
                owner=cal.owner,
                year=cal.year,
                registration_deadline=cal.milestones["registration_deadline"],
                dossier_deadline=cal.milestones["dossier_deadline"],
                legal_basis=cal.legal_basis,
                reason=getattr(e, "reason", "lập lịch"),
            )
        if isinstance(e, Registration.Filed):
            d = e.details
            return RegistrationFiledV1(
                registration_id=e.originator_id,
                level=d["level"],
                owner=d["owner"],
                year=d["year"],
                registrant=d["registrant"],
                filed_on=d["filed_on"],
                on_time=e.on_time,
                extension=e.extension,
                items=len(d["items"]),
                support_vnd=sum(int(i.get("support_vnd", 0)) for i in d["items"]),
                registrant_kind=d.get("registrant_kind"),
                unit=d.get("unit"),
                province_code=d.get("province_code"),
                proposals=[_proposal(e.originator_id, d, item) for item in d["items"]],
            )
        if isinstance(e, Registration.RegistrationAccepted | Registration.RegistrationReturned):
            reg: Registration = state_at(e)
            d = reg.details
            common = {
                "registration_id": e.originator_id,
                "level": d["level"],
                "owner": d["owner"],
                "year": d["year"],
                "registrant": d["registrant"],
            }
            if isinstance(e, Registration.RegistrationAccepted):
                return RegistrationAcceptedV1(**common, accepted_on=e.accepted_on, note=e.note)
            return RegistrationReturnedV1(**common, returned_on=e.returned_on, reason=e.reason)
        if isinstance(e, NationalRegistration.NationalRegistrationFiled):
            national: NationalRegistration = state_at(e)
            return NationalRegistrationFiledV1(
                national_registration_id=e.originator_id,
                province_code=national.province_code,
                year=national.year,
                revision=e.revision,
                filed_on=e.filed_on,
                deadline=e.deadline,
                on_time=e.on_time,
                extension=e.extension,
                calendar=e.calendar,
                proposals=[RegisteredProposal(**p) for p in e.proposals],
                total_support_vnd=sum(int(p.get("support_vnd") or 0) for p in e.proposals),
            )
        if isinstance(e, ExtensionDecision.ExtensionGranted):
            return ExtensionGrantedV1(
                extension_id=e.originator_id,
                authority=e.authority,
                level=e.level,
                year=e.year,
                milestone=e.milestone,
                decision_number=e.decision_number,
                decision_date=e.decision_date,
                signer=e.signer,
                grantee=e.grantee,
                grantee_key=e.grantee_key,
                original_deadline=e.original_deadline,
                new_deadline=e.new_deadline,
                reason=e.reason,
            )
        return None

    return to_contract
