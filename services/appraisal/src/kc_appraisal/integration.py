"""Inbound translation: a contract event another service published → this service's own command.

The application never sees a contract class; the domain never reads another service's JSON.
"""

from __future__ import annotations

from typing import Any

from kc_contracts import ContractEvent, Envelope
from kc_contracts.appraisal_events import (
    AdjustmentDecidedV1,
    AdvanceRecordedV1,
    DeAnApprovedV1,
    DeAnContractedV1,
    NationalAdjustmentDecidedV1,
    NationalContractSignedV1,
    NationalMinistryAppraisedV1,
    NationalSettledV1,
)
from kc_contracts.planning_events import PlanApprovedV1

from kc_appraisal.commands import (
    ApproveInPlan,
    DecideAdjustment,
    FromMinistry,
    MinistryDecision,
    PlanLine,
    RecordMinistryAppraisal,
    RecordProvinceMilestone,
    Settle,
    SignContract,
)
from kc_appraisal.domain.de_an import AppraisalMode, Conclusion, Member


def approve_in_plan(envelope: Envelope, plan: PlanApprovedV1, instance: str) -> ApproveInPlan:
    """``planning.plan.approved.v1`` → the approval of this instance's lines of the plan, decided by
    the plan's owner, in the conversation of the message that carried it (its correlation) and
    caused by that message."""
    return ApproveInPlan(
        plan_id=str(plan.plan_id),
        plan_decision=plan.decision_number,
        batch=plan.batch,
        decided_on=plan.decision_date,
        lines=tuple(
            PlanLine(de_an_id=line.de_an_id, code=line.code, approved_support_vnd=line.approved_support_vnd)
            for line in plan.lines
            if line.instance == instance
        ),
        approver=f"ke-hoach:{plan.owner}",
        correlation_id=envelope.correlationid or envelope.id,
        causation_id=envelope.id,
    )


# -- the ministry's record of the provinces' national đề án (on bo) ----------------------------------------
def _facts(event: ContractEvent) -> dict[str, Any]:
    """What a milestone says of the đề án that the ministry's record keeps (ids and dates as values)."""
    data = event.model_dump(mode="python")
    facts = {k: data.get(k) for k in ("code", "title", "level", "de_an_type", "plan_year", "province_code")}
    for key in KEPT_FACTS:
        if key in data and data[key] is not None:
            facts[key] = data[key]
    if facts.get("beneficiary_ids"):
        facts["beneficiary_ids"] = [str(b) for b in facts["beneficiary_ids"] or []]
    if isinstance(event, AdjustmentDecidedV1) and event.approved and event.change_type == "gia_han_sang_nam_sau":
        facts["extended_to_year"] = event.plan_year + 1
    if isinstance(event, AdvanceRecordedV1):
        facts["advanced_total_vnd"] = event.advanced_total_vnd
    if isinstance(event, DeAnContractedV1 | NationalContractSignedV1):
        facts["contracted_support_vnd"] = event.contracted_support_vnd
    if isinstance(event, DeAnApprovedV1):
        facts["approved_support_vnd"] = event.approved_support_vnd
    return facts


KEPT_FACTS = (
    "implementing_unit",
    "activity_contents",
    "commune_code",
    "beneficiary_ids",
    "budget",
    "recommended_support_vnd",
    "plan_decision",
    "contract_number",
    "approved_support_vnd",
    "contracted_support_vnd",
    "accepted_on",
    "accepted_support_vnd",
    "outputs",
    "settled_support_vnd",
    "settled_on",
    "change_type",
    "description",
    "changes",
    "authority",
    "requested_on",
)


def record_province_milestone(envelope: Envelope, event: ContractEvent) -> RecordProvinceMilestone | None:
    """``appraisal.de-an.<milestone>.v1`` of a province → the ministry's record of that national đề án,
    attributed to the instance that published it (the envelope's, never the payload's)."""
    e: Any = event
    if not hasattr(e, "de_an_id") or not hasattr(e, "status"):
        return None
    milestone = type(event).type.rsplit(".", 1)[-1]
    return RecordProvinceMilestone(
        instance=envelope.kcinstance,
        de_an_id=e.de_an_id,
        level=e.level,
        milestone=milestone,
        status=e.status,
        facts=_facts(event),
        reported_at=e.at,
        actor=e.actor,
        correlation_id=envelope.correlationid or envelope.id,
        causation_id=envelope.id,
    )


def apply_ministry_decision(envelope: Envelope, event: ContractEvent, instance: str) -> FromMinistry | None:
    """``appraisal.national-de-an.*.v1`` of the ministry → the decision on this instance's đề án, as the
    đề án's own command (None: a decision about another province's đề án)."""
    if not isinstance(event, MINISTRY_DECISION_EVENTS) or event.instance != instance:
        return None
    decision: MinistryDecision
    if isinstance(event, NationalMinistryAppraisedV1):
        decision = RecordMinistryAppraisal(
            mode=AppraisalMode(event.mode),
            conclusion=Conclusion(event.conclusion),
            recommended_support_vnd=event.recommended_support_vnd,
            appraised_on=event.appraised_on,
            members=tuple(
                Member(
                    name=str(m.get("name")),
                    role=m.get("role"),
                    opinion=m.get("opinion"),
                    conflict_declared=bool(m.get("conflict_declared")),
                    declaration_signed=bool(m.get("declaration_signed")),
                )
                for m in event.members
            ),
            notes=event.notes,
        )
    elif isinstance(event, NationalContractSignedV1):
        decision = SignContract(
            contract_number=event.contract_number,
            signed_on=event.signed_on,
            contracted_support_vnd=event.contracted_support_vnd,
        )
    elif isinstance(event, NationalAdjustmentDecidedV1):
        decision = DecideAdjustment(
            approved=event.approved,
            decision_number=event.decision_number,
            decided_on=event.decided_on,
            authority=event.authority,
        )
    else:
        decision = Settle(
            settled_on=event.settled_on, dossier_on=event.dossier_on, settled_support_vnd=event.settled_support_vnd
        )
    return FromMinistry(
        de_an_id=event.de_an_id,
        decision=decision,
        actor=event.actor,
        role=event.role,
        correlation_id=envelope.correlationid or envelope.id,
        causation_id=envelope.id,
    )


MINISTRY_DECISION_EVENTS = (
    NationalMinistryAppraisedV1,
    NationalContractSignedV1,
    NationalAdjustmentDecidedV1,
    NationalSettledV1,
)
