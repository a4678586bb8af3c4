"""Inbound translation: a contract event another service published → planning's own command.

The application never sees a contract class.
"""

from __future__ import annotations

from kc_contracts import Envelope
from kc_contracts.appraisal_events import AdjustmentDecidedV1, DeAnProposedV1
from kc_kernel.vocabulary import label

from kc_planning.commands import AmendLine, Decision, ProposeLine
from kc_planning.projections.programme import attributed_province


def propose_line(envelope: Envelope, event: DeAnProposedV1) -> ProposeLine:
    """``appraisal.de-an.proposed.v1`` → a line of the plan, from the instance that published it."""
    return ProposeLine(
        instance=envelope.kcinstance,
        level=event.level,
        plan_year=event.plan_year,
        line={
            "de_an_id": str(event.de_an_id),
            "instance": envelope.kcinstance,
            "code": event.code,
            "title": event.title,
            # counted in the proposing province (or one merged into it), never in another its payload names
            "province_code": attributed_province(envelope.kcinstance, event.province_code),
            "commune_code": event.commune_code,
            "activity_contents": list(event.activity_contents),
            "beneficiary_ids": [str(b) for b in event.beneficiary_ids],
            "implementing_unit": event.implementing_unit,
            "budget": event.budget.model_dump(),
            "recommended_support_vnd": event.recommended_support_vnd,
            "priority_rank": list(event.priority_rank),
        },
        correlation_id=envelope.correlationid or envelope.id,
        causation_id=envelope.id,
    )


def amend_line(envelope: Envelope, event: AdjustmentDecidedV1) -> AmendLine | None:
    """``appraisal.de-an.adjustment-decided.v1`` → the plan line of that đề án at its new approved amount
    (None: refused, or a change that moves no money, or decided before the event said the amount)."""
    if not event.approved or event.approved_support_vnd is None:
        return None
    return AmendLine(
        instance=envelope.kcinstance,
        level=event.level,
        plan_year=event.plan_year,
        de_an_id=str(event.de_an_id),
        approved_support_vnd=event.approved_support_vnd,
        decision=Decision(event.decision_number, event.decided_on, label("authority", event.authority)),
        reason=f"{label('change_type', event.change_type)}: {event.description or event.code}",
        actor=event.actor,
        correlation_id=envelope.correlationid or envelope.id,
        causation_id=envelope.id,
    )
