"""Planning's own commands: what a request (built by ``api``) or the bus (built by ``integration``) asks of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class ProposeLine:
    """A đề án proposed for the plan of ``level`` and ``plan_year`` by the instance that owns it."""

    instance: str
    level: str
    plan_year: int
    line: Mapping[str, Any]  # the đề án's facts as proposed (what a plan line shows and approves)
    correlation_id: str | None = None
    causation_id: str | None = None  # the message that carried the proposal


@dataclass(frozen=True)
class Decision:
    """A decision as signed: its number, date and signer (a plan approval, an amendment, an extension)."""

    number: str
    date: date
    signer: str

    def fields(self) -> dict[str, Any]:
        """As the domain's events name them."""
        return {"decision_number": self.number, "decision_date": self.date, "signer": self.signer}


@dataclass(frozen=True)
class ApprovePlan:
    """A batch (đợt) of the plan approved: ``amounts`` per đề án id, or every waiting line by priority."""

    level: str
    year: int
    decision: Decision
    amounts: Mapping[str, int] | None = None


@dataclass(frozen=True)
class AmendPlan:
    """The approved plan amended: ``changes`` per đề án id (0 withdraws the line), with the reason."""

    level: str
    year: int
    decision: Decision
    changes: Mapping[str, int]
    reason: str


@dataclass(frozen=True)
class GrantExtension:
    """An extension of a deadline decided by the authority that set it, for one unit (or one province)."""

    level: str
    year: int
    milestone: str
    decision: Decision
    grantee: str
    new_deadline: date
    reason: str
    grantee_instance: str | None = None


@dataclass(frozen=True)
class AmendLine:
    """An approved adjustment of a đề án's money (its authority's decision, from the bus): the line of the
    plan that holds the đề án takes the new amount."""

    instance: str  # the instance that owns the đề án (and published the decision)
    level: str
    plan_year: int
    de_an_id: str
    approved_support_vnd: int
    decision: Decision  # the signer: the authority that decided (its Vietnamese name)
    reason: str
    actor: str
    correlation_id: str | None = None
    causation_id: str | None = None
