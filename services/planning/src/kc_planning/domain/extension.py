"""Quyết định gia hạn: an extension of a deadline, decided and recorded by the authority that set it.

A late registration or dossier is let in only against such a record — never against a number the
applicant types. Who sets which deadline (TT 36/2013 Art. 10, "trường hợp khác theo hướng dẫn của Sở
Công Thương / của Cục"):

- the Sở (its province's instance) sets the local plan's deadlines and the date by which units and
  communes register national proposals with it (``unit_registration_deadline``);
- the Cục (``bo``) sets the national registration and dossier deadlines.

One record per (decision, milestone, grantee): a decision that extends several units is recorded once
for each of them, so each late filing names the decision that lets *it* in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event
from kc_kernel.vocabulary import label

from kc_planning.domain.plan import NAMESPACE, PlanError

MILESTONES = ("registration_deadline", "dossier_deadline", "unit_registration_deadline")


def deadline_authority(level: str, milestone: str, instance: str) -> str:
    """The instance whose authority sets (and so extends) this deadline, asked from ``instance``."""
    if level == "quoc_gia" and milestone != "unit_registration_deadline":
        return "bo"
    return instance


def extension_id(authority: str, level: str, year: int, milestone: str, grantee_key: str, number: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"extension:{authority}:{level}:{year}:{milestone}:{grantee_key}:{_clean(number)}")


def _clean(text: str) -> str:
    return " ".join(str(text).split())


@dataclass(frozen=True)
class Deadline:
    """A deadline a filing is judged by: which milestone, its date, where it came from, who set it."""

    milestone: str
    on: date
    reference: str
    authority: str

    def admit(
        self,
        filed_on: date,
        extension: Extension | None,
        *,
        filing: tuple[str, str],
        level: str,
        year: int,
        grantee_key: str,
    ) -> Extension | None:
        """A filing on ``filed_on``: on time (None), or late and let in by ``extension`` (returned), or
        refused — late without a recorded extension decision of the authority that set the deadline, or
        with one that does not let this filing in. ``filing`` names it (Vietnamese, English)."""
        if filed_on <= self.on:
            return None
        if extension is None:
            vietnamese, english = filing
            raise PlanError(
                f"Quá hạn {vietnamese} ({self.on:%d/%m/%Y}, {self.reference}); cần quyết định gia hạn của "
                f"{label('instance', self.authority)} đã được ghi nhận / past the {english} deadline: a recorded "
                "extension decision of the authority that set it is required",
                field="filed_on",
            )
        extension.admits(level=level, year=year, deadline=self, grantee_key=grantee_key, filed_on=filed_on)
        return extension


@dataclass(frozen=True)
class Extension:
    """What a late filing needs to know of a recorded extension decision."""

    authority: str
    level: str
    year: int
    milestone: str
    decision_number: str
    decision_date: date
    grantee_key: str
    new_deadline: date

    @property
    def reference(self) -> str:
        return f"gia-han:{self.authority}:{self.decision_number}"

    def admits(self, *, level: str, year: int, deadline: Deadline, grantee_key: str, filed_on: date) -> None:
        """Refuse (with the field) unless this decision lets this filing in."""
        if (self.level, self.year, self.milestone) != (level, year, deadline.milestone):
            raise PlanError(
                f"Quyết định gia hạn {self.decision_number} gia hạn «{label('deadline', self.milestone)}» "
                f"{label('plan_level', self.level).lower()} năm {self.year}, không phải "
                f"«{label('deadline', deadline.milestone)}» {label('plan_level', level).lower()} năm {year} "
                "/ the decision extends another deadline",
                field="extension",
            )
        if self.authority != deadline.authority:
            raise PlanError(
                f"Hạn này do {label('instance', deadline.authority)} quy định; chỉ quyết định gia hạn của "
                f"{label('instance', deadline.authority)} được chấp nhận / only the authority that set the "
                "deadline may extend it",
                field="extension",
            )
        if self.grantee_key != grantee_key:
            raise PlanError(
                f"Quyết định gia hạn {self.decision_number} không gia hạn cho đơn vị này / the decision "
                "extends someone else",
                field="extension",
            )
        if filed_on > self.new_deadline:
            raise PlanError(
                f"Quá hạn đã gia hạn ({self.new_deadline:%d/%m/%Y}, quyết định {self.decision_number}) "
                "/ past the extended deadline",
                field="filed_on",
            )


class ExtensionDecision(Aggregate):
    """The record of an extension decision at the authority that decided it."""

    class ExtensionGranted(Aggregate.Created):
        authority: str
        level: str
        year: int
        milestone: str
        decision_number: str
        decision_date: date
        signer: str
        grantee: str
        grantee_key: str
        original_deadline: date
        new_deadline: date
        reason: str
        actor: str

    @staticmethod
    def create_id(
        authority: str, level: str, year: int, milestone: str, grantee_key: str, decision_number: str, **_: Any
    ) -> uuid.UUID:
        return extension_id(authority, level, year, milestone, grantee_key, decision_number)

    @classmethod
    def grant(
        cls,
        *,
        authority: str,
        level: str,
        year: int,
        deadline: Deadline,
        decision_number: str,
        decision_date: date,
        signer: str,
        grantee: str,
        grantee_key: str,
        new_deadline: date,
        reason: str,
        actor: str,
    ) -> ExtensionDecision:
        if deadline.authority != authority:
            raise PlanError(
                f"«{label('deadline', deadline.milestone)}» {label('plan_level', level).lower()} do "
                f"{label('instance', deadline.authority)} quy định và gia hạn, không phải "
                f"{label('instance', authority)} / only the authority that set a deadline extends it",
                field="milestone",
            )
        number = _clean(decision_number)
        if not number:
            raise PlanError("Cần số quyết định gia hạn / a decision number is required", field="decision_number")
        if not _clean(signer):
            raise PlanError("Cần người ký quyết định / the signer is required", field="signer")
        if not _clean(grantee) or not grantee_key:
            raise PlanError("Cần đơn vị được gia hạn / who is extended is required", field="grantee")
        if not _clean(reason):
            raise PlanError("Cần nêu lý do gia hạn / a reason is required", field="reason")
        if new_deadline <= deadline.on:
            raise PlanError(
                f"Hạn mới phải sau hạn hiện hành ({deadline.on:%d/%m/%Y}) / the new deadline must be later",
                field="new_deadline",
            )
        if new_deadline.year >= year:
            raise PlanError(
                f"Hạn mới phải trước năm kế hoạch {year} / the new deadline must fall before the plan year",
                field="new_deadline",
            )
        return cls(
            authority=authority,
            level=level,
            year=year,
            milestone=deadline.milestone,
            decision_number=number,
            decision_date=decision_date,
            signer=_clean(signer),
            grantee=_clean(grantee),
            grantee_key=grantee_key,
            original_deadline=deadline.on,
            new_deadline=new_deadline,
            reason=_clean(reason),
            actor=actor,
        )

    @event(ExtensionGranted)
    def __init__(
        self,
        authority: str,
        level: str,
        year: int,
        milestone: str,
        decision_number: str,
        decision_date: date,
        signer: str,
        grantee: str,
        grantee_key: str,
        original_deadline: date,
        new_deadline: date,
        reason: str,
        actor: str,
    ) -> None:
        self.authority, self.level, self.year, self.milestone = authority, level, year, milestone
        self.decision_number, self.decision_date, self.signer = decision_number, decision_date, signer
        self.grantee, self.grantee_key = grantee, grantee_key
        self.original_deadline, self.new_deadline, self.reason = original_deadline, new_deadline, reason

    @property
    def extension(self) -> Extension:
        return Extension(
            authority=self.authority,
            level=self.level,
            year=self.year,
            milestone=self.milestone,
            decision_number=self.decision_number,
            decision_date=self.decision_date,
            grantee_key=self.grantee_key,
            new_deadline=self.new_deadline,
        )

    def state(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "authority": self.authority,
            "level": self.level,
            "year": self.year,
            "milestone": self.milestone,
            "decision_number": self.decision_number,
            "decision_date": self.decision_date,
            "signer": self.signer,
            "grantee": self.grantee,
            "grantee_key": self.grantee_key,
            "original_deadline": self.original_deadline,
            "new_deadline": self.new_deadline,
            "reason": self.reason,
        }
