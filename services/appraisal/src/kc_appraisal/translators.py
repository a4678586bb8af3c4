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
)

from kc_appraisal.domain.de_an import DeAn
from kc_appraisal.domain.de_an.events import BASE, DeAnEvents

StateAt = Callable[[Any], DeAn]


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


def translator(state_at: StateAt) -> Callable[[Any], ContractEvent | None]:
    def to_contract(e: Any) -> ContractEvent | None:
        if not isinstance(e, DeAn.Event) or isinstance(
            e,
            DeAn.Drafted
            | DeAn.Edited
            | DeAn.SubmissionExtended
            | DeAn.ProgressReported
            | DeAn.DocumentFiled
            | DeAn.ProgressPhotoFiled
            | DeAn.AdjustmentRequested
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
        if isinstance(e, DeAn.AdjustmentDecided):
            last = d.adjustments[-1]
            return AdjustmentDecidedV1(
                **_common(e, d),
                change_type=last["change_type"],
                authority=e.authority,
                approved=e.approved,
                decision_number=e.decision_number,
                decided_on=e.decided_on,
            )
        if isinstance(e, DeAn.Accepted):
            return DeAnAcceptedV1(
                **_common(e, d),
                accepted_on=e.accepted_on,
                outputs=e.outputs,
                activity_contents=d.details["activity_contents"],
                beneficiary_ids=d.details["beneficiary_ids"],
            )
        if isinstance(e, DeAn.Settled):
            return DeAnSettledV1(**_common(e, d), settled_support_vnd=e.settled_support_vnd, settled_on=e.settled_on)
        if isinstance(e, DeAn.Closed):
            return DeAnClosedV1(**_common(e, d))
        return None

    return to_contract
