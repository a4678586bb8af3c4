"""The planning service's use cases."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Tracking
from kc_contracts.vocabulary import label
from kc_runtime.actor import Actor
from kc_runtime.eventstore import ServiceApplication

from kc_planning.commands import ProposeLine
from kc_planning.domain.calendar import PlanCalendar, Registration, calendar_id
from kc_planning.domain.plan import AnnualPlan, PlanError, plan_id

T = TypeVar("T")
SYSTEM = "he-thong"  # the actor of what the system does on its own (a line from a proposal)


class NotFoundError(PlanError):
    """No such plan, calendar or registration in this instance."""


class NotOwnerError(PlanError):
    """This instance does not own that plan (the ministry owns national plans, a province its local one)."""


def plan_owner(level: str, instance: str) -> str:
    return "bo" if level == "quoc_gia" else instance


class PlanningApplication(ServiceApplication):
    name = "planning"

    def __init__(self, env: dict[str, str], *, instance: str) -> None:
        self.instance = instance
        super().__init__(env=env)

    def _owned(self, level: str) -> str:
        owner = plan_owner(level, self.instance)
        if owner != self.instance:
            raise NotOwnerError(
                f"Kế hoạch {label('plan_level', level).lower()} do {label('instance', owner)} lập, không phải "
                f"{label('instance', self.instance)} / {owner}, not {self.instance}, owns the {level} plan",
                field="level",
            )
        return owner

    # -- plans --------------------------------------------------------------------------------------
    def plan(self, level: str, year: int, owner: str | None = None) -> AnnualPlan:
        try:
            plan: AnnualPlan = self.repository.get(plan_id(level, owner or plan_owner(level, self.instance), year))
        except AggregateNotFoundError:
            raise NotFoundError(
                f"Chưa có kế hoạch {label('plan_level', level).lower()} năm {year} / no such plan yet"
            ) from None
        return plan

    def _plan_or_open(self, level: str, owner: str, year: int, actor: str) -> AnnualPlan:
        pid = plan_id(level, owner, year)
        if pid in self.repository:
            found: AnnualPlan = self.repository.get(pid)
            return found
        return AnnualPlan.open(level=level, owner=owner, year=year, actor=actor)

    def _save(self, *aggregates: Any) -> None:
        try:
            self.save(*aggregates)
        except IntegrityError:
            raise PlanError(
                "Kế hoạch vừa thay đổi đồng thời; thử lại / changed concurrently: retry", field="version"
            ) from None

    def set_envelope(
        self, level: str, year: int, envelope: dict[str, int], decision_number: str, actor: Actor
    ) -> AnnualPlan:
        plan = self._plan_or_open(level, self._owned(level), year, actor.name)
        plan.set_envelope(envelope, decision_number=decision_number, actor=actor.name)
        self._save(plan)
        return plan

    def approve(
        self,
        level: str,
        year: int,
        *,
        decision_number: str,
        decision_date: date,
        signer: str,
        amounts: dict[str, int] | None,
        actor: Actor,
    ) -> AnnualPlan:
        self._owned(level)
        plan = self.plan(level, year)
        plan.approve_batch(
            decision_number=decision_number,
            decision_date=decision_date,
            signer=signer,
            amounts=amounts,
            actor=actor.name,
            correlation_id=actor.correlation_id,
        )
        self._save(plan)
        return plan

    def amend(
        self,
        level: str,
        year: int,
        *,
        decision_number: str,
        decision_date: date,
        signer: str,
        changes: dict[str, int],
        reason: str,
        actor: Actor,
    ) -> AnnualPlan:
        self._owned(level)
        plan = self.plan(level, year)
        plan.amend(
            decision_number=decision_number,
            decision_date=decision_date,
            signer=signer,
            changes=changes,
            reason=reason,
            actor=actor.name,
        )
        self._save(plan)
        return plan

    def propose_line(self, command: ProposeLine, tracking: Tracking) -> None:
        """Appraisal proposed a đề án for a plan this instance owns: it becomes a plan line, with the
        tracking of the message that carried it, atomically."""
        owner = plan_owner(command.level, command.instance)
        if owner != self.instance:
            self.save_tracked(tracking)  # someone else's plan
            return
        plan = self._plan_or_open(command.level, owner, command.plan_year, SYSTEM)
        plan.propose_line(
            dict(command.line),
            actor=SYSTEM,
            correlation_id=command.correlation_id,
            causation_id=command.causation_id,
        )
        self.save_tracked(tracking, plan)

    # -- calendars and registrations ------------------------------------------------------------------
    def calendar(self, level: str, year: int, owner: str | None = None) -> PlanCalendar:
        try:
            cal: PlanCalendar = self.repository.get(calendar_id(level, owner or plan_owner(level, self.instance), year))
        except AggregateNotFoundError:
            raise NotFoundError(
                f"Chưa có lịch kế hoạch {label('plan_level', level).lower()} năm {year} / no calendar yet"
            ) from None
        return cal

    def set_calendar(
        self, level: str, year: int, milestones: dict[str, date], *, legal_basis: str, reason: str, actor: Actor
    ) -> PlanCalendar:
        owner = self._owned(level)
        cid = calendar_id(level, owner, year)
        if cid in self.repository:
            cal: PlanCalendar = self.repository.get(cid)
            cal.change(milestones, legal_basis=legal_basis, reason=reason, actor=actor.name)
        else:
            cal = PlanCalendar(
                level=level,
                owner=owner,
                year=year,
                milestones=PlanCalendar.check(milestones, year),
                legal_basis=legal_basis,
                actor=actor.name,
            )
        self._save(cal)
        return cal

    def file_registration(
        self, details: dict[str, Any], *, filed_on: date, extension: str | None, actor: Actor
    ) -> Registration:
        level, year = details["level"], details["year"]
        cal = self.calendar(level, year, owner=plan_owner(level, self.instance))
        registration = Registration.file(
            details | {"owner": cal.owner}, calendar=cal, filed_on=filed_on, extension=extension, actor=actor.name
        )
        self._save(registration)
        return registration

    def registration(self, registration_id: UUID) -> Registration:
        try:
            found: Registration = self.repository.get(registration_id)
        except AggregateNotFoundError:
            raise NotFoundError("Không tìm thấy bản đăng ký / no such registration") from None
        return found
