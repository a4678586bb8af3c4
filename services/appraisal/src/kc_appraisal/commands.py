"""What can be asked of the appraisal service: one typed command per use case.

The HTTP handlers, the bus's integration, the console and the tests build these and call the
application method of the same name (``Submit`` → ``AppraisalApplication.submit``). They carry what
the caller decided; who the caller is travels beside them (``Actor``), and the time of day comes
from the application's clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from kc_appraisal.domain.de_an import AppraisalMode, Conclusion, Member


@dataclass(frozen=True)
class DraftDeAn:
    """The đề án as typed in the draft form (checked whole by the domain); ``unit`` defaults to the
    implementing unit's name folded, and is the token's own unit for an implementing unit."""

    details: Mapping[str, Any]


@dataclass(frozen=True)
class EditDraft:
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class ExtendSubmission:
    decision_number: str
    decided_on: date
    new_deadline: date


@dataclass(frozen=True)
class Submit:
    submitted_on: date


@dataclass(frozen=True)
class ReturnForSupplement:
    reason: str


@dataclass(frozen=True)
class RecordAppraisal:
    mode: AppraisalMode
    conclusion: Conclusion
    recommended_support_vnd: int
    appraised_on: date
    members: tuple[Member, ...] = ()
    field_visit: Mapping[str, Any] | None = None
    notes: str = ""
    council_id: str | None = None  # the council whose minutes for this đề án the appraisal follows


class RecordBaseAppraisal(RecordAppraisal):
    """Thẩm định cấp cơ sở (the Sở)."""


class RecordMinistryAppraisal(RecordAppraisal):
    """Thẩm định cấp Bộ."""


@dataclass(frozen=True)
class Forward:
    forwarded_on: date


@dataclass(frozen=True)
class Propose:
    proposed_on: date


@dataclass(frozen=True)
class MarkNotFunded:
    reason: str


@dataclass(frozen=True)
class SignContract:
    contract_number: str
    signed_on: date
    contracted_support_vnd: int


@dataclass(frozen=True)
class ReportProgress:
    month: str
    percent: int
    note: str = ""


@dataclass(frozen=True)
class RecordAdvance:
    amount_vnd: int
    paid_on: date


@dataclass(frozen=True)
class RequestAdjustment:
    change_type: str
    description: str
    requested_on: date
    changes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DecideAdjustment:
    """Quyết định điều chỉnh: the authority is the one the decider's role holds (a typed one must match)."""

    approved: bool
    decision_number: str
    decided_on: date
    authority: str | None = None


@dataclass(frozen=True)
class Complete:
    completed_on: date


@dataclass(frozen=True)
class Accept:
    accepted_on: date
    outputs: Mapping[str, int] = field(default_factory=dict)
    report: str = ""
    accepted_support_vnd: int | None = None  # what the accepted work is worth (default: the contract)


@dataclass(frozen=True)
class Settle:
    settled_on: date
    dossier_on: date
    settled_support_vnd: int


@dataclass(frozen=True)
class Close:
    closed_on: date


# -- councils and field trips ------------------------------------------------------------------------
@dataclass(frozen=True)
class EnrolPerson:
    """Onto the roster of people who may sit on a council (``subject``: how they sign in)."""

    subject: str
    name: str
    title: str = ""
    organisation: str = ""


@dataclass(frozen=True)
class FoundCouncil:
    name: str
    stage: str
    decision_number: str
    decided_on: date
    signer: str
    chair: str
    secretary: str
    members: tuple[str, ...]
    de_an_ids: tuple[str, ...]
    scoresheet: str | None = None


@dataclass(frozen=True)
class SignDeclaration:
    de_an_id: str
    conflict: bool
    signed_on: date
    note: str = ""


@dataclass(frozen=True)
class RecordOpinion:
    de_an_id: str
    conclusion: Conclusion
    given_on: date
    score: int | None = None
    comment: str = ""


@dataclass(frozen=True)
class RecordMinutes:
    de_an_id: str
    number: str
    held_on: date
    absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScheduleFieldTrip:
    name: str
    decision_number: str
    starts_on: date
    ends_on: date
    team: tuple[str, ...]
    visits: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class RecordFindings:
    visit: int
    findings: str
    outcome: str
    recorded_on: date


# -- from the bus (built by ``integration``) ---------------------------------------------------------
@dataclass(frozen=True)
class PlanLine:
    de_an_id: UUID
    code: str
    approved_support_vnd: int


@dataclass(frozen=True)
class ApproveInPlan:
    """A signed plan decision (quyết định giao kế hoạch) approving this instance's đề án in it: from
    planning over the bus, or a decision taken outside the system recorded by hand (one line)."""

    plan_id: str
    plan_decision: str
    batch: int
    decided_on: date
    lines: tuple[PlanLine, ...]
    approver: str  # ``ke-hoach:<owner>`` (the plan's owner decided), or the officer who records it
    correlation_id: str | None = None
    causation_id: str | None = None  # the message that carried the decision
    # a plan from the bus applies the lines it can (the others are reported); one recorded by hand
    # fails whole, with the reason
    skip_failed_lines: bool = True


@dataclass(frozen=True)
class RecordProvinceMilestone:
    """A province's milestone of one of its đề án, for the ministry's record of its national đề án."""

    instance: str  # the province that published it (the envelope's, never the payload's)
    de_an_id: UUID
    level: str
    milestone: str  # the contract's event name: forwarded, approved, contracted …
    status: str
    facts: Mapping[str, Any]
    reported_at: datetime
    actor: str
    correlation_id: str | None = None
    causation_id: str | None = None


MinistryDecision = RecordMinistryAppraisal | SignContract | DecideAdjustment | Settle


@dataclass(frozen=True)
class FromMinistry:
    """A decision the ministry recorded on its own instance about one of this instance's national đề án,
    to apply to the đề án (from the bus): who decided, in which role, in which conversation, by which message."""

    de_an_id: UUID
    decision: MinistryDecision
    actor: str
    role: str
    correlation_id: str | None = None
    causation_id: str | None = None


@dataclass(frozen=True)
class NationalQuery:
    instance: str | None = None
    status: str | None = None
    plan_year: int | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class ListQuery:
    q: str | None = None
    status: str | None = None
    plan_year: int | None = None
    level: str | None = None
    limit: int = 50
    offset: int = 0
