"""The one place where the đề án's domain events meet the public milestone contracts.

A milestone carries the đề án's context as it stood *at that version*, so the relay translates
each event together with the đề án replayed to that version. The relay carries each event's
correlation and causation to the envelope.

One name per action, but published names do not change: ``BaseAppraisalRecorded`` and
``MinistryAppraisalRecorded`` are published as ``de-an.base-appraised.v1`` and
``de-an.ministry-appraised.v1`` (``BaseAppraisalRecordedV1``, ``MinistryAppraisalRecordedV1``), the
names integrators subscribed to; the one ``Appraised`` event stored before them translates the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kc_contracts import ContractEvent
from kc_contracts.appraisal_events import (
    AdjustmentDecidedV1,
    AdjustmentRequestedV1,
    AdvanceRecordedV1,
    BaseAppraisalRecordedV1,
    BudgetTotals,
    DeAnAcceptedV1,
    DeAnApprovedV1,
    DeAnClosedV1,
    DeAnContractedV1,
    DeAnForwardedV1,
    DeAnNotFundedV1,
    DeAnProposedV1,
    DeAnReturnedV1,
    DeAnSettledV1,
    DeAnSubmittedV1,
    MinistryAppraisalRecordedV1,
    NationalAdjustmentDecidedV1,
    NationalContractSignedV1,
    NationalMinistryAppraisedV1,
    NationalSettledV1,
    SettledCostItem,
)

from kc_appraisal.domain.de_an import DeAn
from kc_appraisal.domain.de_an.events import BASE, DeAnEvents
from kc_appraisal.domain.national_de_an import NationalDeAn

StateAt = Callable[[Any], Any]  # the aggregate the event belongs to, at the event's version


def _common(e: Any, d: DeAn) -> dict[str, Any]:
    return {
        "de_an_id": d.id,
        "code": d.details["code"],
        "title": d.details["title"],
        "level": d.details["level"],
        "de_an_type": d.details["de_an_type"],
        "plan_year": d.details["plan_year"],
        "province_code": d.details["province_code"],
        "status": d.status.value,
        "at": e.timestamp,
        "actor": e.actor,
        "rule_versions": list(getattr(e, "rule_versions", [])),
    }


def _proposal(e: Any, d: DeAn) -> dict[str, Any]:
    return _common(e, d) | {
        "activity_contents": d.details["activity_contents"],
        "commune_code": d.details.get("commune_code"),
        "beneficiary_ids": d.details["beneficiary_ids"],
        "budget": BudgetTotals(**d.budget),
        "implementing_unit": d.details["implementing_unit"],
    }


def settled_cost_items(d: DeAn, settled_vnd: int) -> list[SettledCostItem]:
    """The settled support by cost item: shared among the budget lines in proportion to the support
    each requested (integer VND; the remainder to the last line), what the registry records as the
    support each cost item received."""
    lines = d.details["budget_lines"]
    requested = sum(int(line["support_requested_vnd"]) for line in lines)
    out, given = [], 0
    for i, line in enumerate(lines):
        if i == len(lines) - 1:
            share = settled_vnd - given
        else:
            share = settled_vnd * int(line["support_requested_vnd"]) // requested if requested else 0
        given += share
        out.append(SettledCostItem(cost_item=line["cost_item"], support_item=line["support_item"], support_vnd=share))
    return out


def _ministry_decision(e: Any, r: NationalDeAn) -> ContractEvent | None:
    """The ministry's decision on a province's national đề án → the event the province applies."""
    common = {
        "instance": r.instance,
        "de_an_id": r.de_an_id,
        "code": r.facts.get("code") or "",
        "province_code": r.facts.get("province_code") or "",
        "plan_year": int(r.facts.get("plan_year") or 0),
        "actor": e.actor,
        "role": e.role,
        "at": e.timestamp,
    }
    if isinstance(e, NationalDeAn.MinistryAppraisalRecorded):
        return NationalMinistryAppraisedV1(
            **common,
            mode=e.mode,
            members=e.members,
            conclusion=e.conclusion,
            recommended_support_vnd=e.recommended_support_vnd,
            appraised_on=e.appraised_on,
            notes=e.notes,
        )
    if isinstance(e, NationalDeAn.ContractSigned):
        return NationalContractSignedV1(
            **common,
            contract_number=e.contract_number,
            signed_on=e.signed_on,
            contracted_support_vnd=e.contracted_support_vnd,
        )
    if isinstance(e, NationalDeAn.AdjustmentDecided):
        return NationalAdjustmentDecidedV1(
            **common,
            authority=e.authority,
            change_type=e.change_type,
            approved=e.approved,
            decision_number=e.decision_number,
            decided_on=e.decided_on,
        )
    if isinstance(e, NationalDeAn.Settled):
        return NationalSettledV1(
            **common, settled_on=e.settled_on, dossier_on=e.dossier_on, settled_support_vnd=e.settled_support_vnd
        )
    return None


def translator(state_at: StateAt) -> Callable[[Any], ContractEvent | None]:
    def to_contract(e: Any) -> ContractEvent | None:
        if isinstance(e, NationalDeAn.Decided):
            return _ministry_decision(e, state_at(e))
        if not isinstance(e, DeAn.Event) or isinstance(
            e,
            DeAn.Drafted
            | DeAn.Edited
            | DeAn.SubmissionExtended
            | DeAn.ProgressReported
            | DeAn.DocumentFiled
            | DeAn.ProgressPhotoFiled
            | DeAn.Completed,
        ):
            return None  # working steps inside the unit (its files stay here too): no public milestone
        d = state_at(e)
        if isinstance(e, DeAn.Submitted):
            return DeAnSubmittedV1(
                **_proposal(e, d), deadline=e.deadline, extension_decision=(d.extension or {}).get("decision_number")
            )
        if isinstance(e, DeAn.Returned):
            return DeAnReturnedV1(**_common(e, d), reason=e.reason)
        if isinstance(e, DeAnEvents.AppraisalRecorded):
            appraisal = {
                "conclusion": e.conclusion,
                "recommended_support_vnd": e.recommended_support_vnd,
                "appraised_on": e.appraised_on,
            }
            if e.stage == BASE:
                return BaseAppraisalRecordedV1(**_common(e, d), **appraisal, mode=e.mode)
            return MinistryAppraisalRecordedV1(**_common(e, d), **appraisal)
        if isinstance(e, DeAn.Forwarded):
            return DeAnForwardedV1(**_proposal(e, d), recommended_support_vnd=d.recommended_support_vnd)
        if isinstance(e, DeAn.Proposed):
            return DeAnProposedV1(
                **_proposal(e, d), recommended_support_vnd=d.recommended_support_vnd, priority_rank=e.rank
            )
        if isinstance(e, DeAn.Approved):
            return DeAnApprovedV1(
                **_common(e, d),
                plan_decision=e.plan_decision,
                batch=e.batch,
                approved_support_vnd=e.approved_support_vnd,
            )
        if isinstance(e, DeAn.NotFunded):
            return DeAnNotFundedV1(**_common(e, d), reason=e.reason)
        if isinstance(e, DeAn.Contracted):
            return DeAnContractedV1(
                **_common(e, d),
                contract_number=e.contract_number,
                signed_on=e.signed_on,
                contracted_support_vnd=e.contracted_support_vnd,
            )
        if isinstance(e, DeAn.AdvanceRecorded):
            return AdvanceRecordedV1(
                **_common(e, d), amount_vnd=e.amount_vnd, advanced_total_vnd=d.advanced_vnd, paid_on=e.paid_on
            )
        if isinstance(e, DeAn.AdjustmentRequested):
            return AdjustmentRequestedV1(
                **_common(e, d),
                change_type=e.change_type,
                description=e.description,
                changes=e.changes,
                authority=e.authority,
                requested_on=e.requested_on,
                approved_support_vnd=d.approved_support_vnd,
            )
        if isinstance(e, DeAn.AdjustmentDecided):
            last = d.adjustments[-1]
            return AdjustmentDecidedV1(
                **_common(e, d),
                change_type=last["change_type"],
                authority=e.authority,
                approved=e.approved,
                decision_number=e.decision_number,
                decided_on=e.decided_on,
                description=last.get("description"),
                changes=last.get("changes"),
                approved_support_vnd=d.approved_support_vnd,
                contracted_support_vnd=d.contracted_support_vnd,
            )
        if isinstance(e, DeAn.Accepted):
            return DeAnAcceptedV1(
                **_common(e, d),
                accepted_on=e.accepted_on,
                outputs=e.outputs,
                activity_contents=d.details["activity_contents"],
                beneficiary_ids=d.details["beneficiary_ids"],
                accepted_support_vnd=(d.acceptance or {}).get("accepted_support_vnd", d.contracted_support_vnd),
            )
        if isinstance(e, DeAn.Settled):
            return DeAnSettledV1(
                **_common(e, d),
                settled_support_vnd=e.settled_support_vnd,
                settled_on=e.settled_on,
                beneficiary_ids=d.details["beneficiary_ids"],
                cost_items=settled_cost_items(d, e.settled_support_vnd),
            )
        if isinstance(e, DeAn.Closed):
            return DeAnClosedV1(**_common(e, d))
        return None

    return to_contract
