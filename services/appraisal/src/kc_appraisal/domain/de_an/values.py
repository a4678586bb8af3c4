"""The small checks every part of a đề án applies to what people type: text and integer VND."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from kc_appraisal.domain.errors import AppraisalError, BudgetError


@dataclass(frozen=True)
class By:
    """Who decided, in which conversation (correlation), because of which message (causation):
    carried once by every decision event. ``role`` and ``instance`` say in which capacity and where the
    decision was recorded (the authority it needs is checked against them; the events keep the actor,
    whose name says both)."""

    actor: str
    correlation_id: str | None = None
    causation_id: str | None = None
    role: str | None = None
    instance: str | None = None

    @property
    def fields(self) -> dict[str, Any]:
        return {"actor": self.actor, "correlation_id": self.correlation_id, "causation_id": self.causation_id}


def text(value: Any, field: str, *, required: bool = True) -> str:
    """NFC, spaces collapsed; a required one must not be empty."""
    clean = unicodedata.normalize("NFC", " ".join(str(value or "").split()))
    if required and not clean:
        raise AppraisalError(f"Thiếu {field} / {field} is required", field=field)
    return clean


def money(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BudgetError(f"{field} phải là số nguyên VND không âm / must be non-negative integer VND", field=field)
    return value
