"""Inbound translation: a contract event another service published → the registry's own command.

The application never sees a contract class.
"""

from __future__ import annotations

from kc_contracts import Envelope
from kc_contracts.appraisal_events import DeAnSettledV1

from kc_registry.commands import RecordSettledSupport, SettledCost


def record_settled_support(envelope: Envelope, event: DeAnSettledV1) -> RecordSettledSupport | None:
    """``appraisal.de-an.settled.v1`` → the support received, per beneficiary and cost item (None: the
    settlement names no beneficiary or cost item — a settlement published before it said them)."""
    if not event.beneficiary_ids or not event.cost_items:
        return None
    return RecordSettledSupport(
        reference=event.code,
        funding_source="quoc_gia" if event.level == "quoc_gia" else "dia_phuong",
        year=event.plan_year,
        beneficiary_ids=tuple(event.beneficiary_ids),
        costs=tuple(SettledCost(c.cost_item, c.support_vnd) for c in event.cost_items if c.support_vnd > 0),
        actor=f"quyết toán đề án {event.code}: {event.actor}",
        correlation_id=envelope.correlationid or envelope.id,
    )
