"""Inbound translation: a contract event another service published → this service's own command.

The application never sees a contract class; the domain never reads another service's JSON.
"""

from __future__ import annotations

from kc_contracts import Envelope
from kc_contracts.planning_events import PlanApprovedV1

from kc_appraisal.commands import ApproveInPlan, PlanLine


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
