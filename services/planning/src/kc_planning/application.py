"""The planning service's use cases."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol, TypeVar
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError, Tracking
from kc_contracts.subjects import check_instance
from kc_kernel.dated import NoRuleInForceError
from kc_kernel.vocabulary import label
from kc_runtime.store.eventstore import ServiceApplication
from kc_runtime.text import unit_key
from kc_runtime.web.actor import Actor

from kc_planning.commands import AmendLine, AmendPlan, ApprovePlan, GrantExtension, ProposeLine
from kc_planning.domain.calendar import PlanCalendar, Registration, calendar_id
from kc_planning.domain.extension import (
    MILESTONES,
    Deadline,
    Extension,
    ExtensionDecision,
    deadline_authority,
    extension_id,
)
from kc_planning.domain.national_registration import NationalRegistration, national_registration_id
from kc_planning.domain.plan import AnnualPlan, PlanError, plan_id
from kc_planning.rulebook import national_calendar

log = structlog.get_logger("kc.planning")

T = TypeVar("T")
SYSTEM = "he-thong"  # the actor of what the system does on its own (a line from a proposal)


class RegistrationRecords(Protocol):
    """What the registration cycle reads from the views (``projections.registrations``)."""

    def published_calendar(self, level: str, owner: str, year: int) -> dict[str, Any] | None: ...

    def granted_extension(self, extension_id: str) -> Extension | None: ...

    def accepted_items(self, *, level: str, year: int) -> list[dict[str, Any]]: ...


class NotFoundError(PlanError):
    """No such plan, calendar or registration in this instance."""


class NotOwnerError(PlanError):
    """This instance does not own that plan (the ministry owns national plans, a province its local one)."""


def plan_owner(level: str, instance: str) -> str:
    return "bo" if level == "quoc_gia" else instance


class PlanningApplication(ServiceApplication):
    name = "planning"

    def __init__(self, env: dict[str, str], *, instance: str, records: RegistrationRecords | None = None) -> None:
        self.instance = instance
        self.records = records  # read models the registration cycle consults (the Cục's records, the Sở's list)
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
        return self.find(
            plan_id(level, owner or plan_owner(level, self.instance), year),
            AnnualPlan,
            NotFoundError(f"Chưa có kế hoạch {label('plan_level', level).lower()} năm {year} / no such plan yet"),
        )

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

    def approve(self, command: ApprovePlan, actor: Actor) -> AnnualPlan:
        self._owned(command.level)
        plan = self.plan(command.level, command.year)
        plan.approve_batch(
            **command.decision.fields(),
            amounts=dict(command.amounts) if command.amounts is not None else None,
            actor=actor.name,
            correlation_id=actor.correlation_id,
        )
        self._save(plan)
        return plan

    def amend(self, command: AmendPlan, actor: Actor) -> AnnualPlan:
        self._owned(command.level)
        plan = self.plan(command.level, command.year)
        plan.amend(
            **command.decision.fields(),
            changes=dict(command.changes),
            reason=command.reason,
            actor=actor.name,
            correlation_id=actor.correlation_id,
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
        key = str(command.line["de_an_id"])
        taken = plan.lines.get(key)
        if taken is not None and taken["proposal"].get("instance") != command.instance:
            # a line is its proposing instance's: another instance's event never overwrites it
            log.error(
                "proposal refused: the plan line of this đề án belongs to another instance",
                de_an_id=key,
                instance=command.instance,
                owner=taken["proposal"].get("instance"),
            )
            self.save_tracked(tracking)
            return
        plan.propose_line(
            dict(command.line),
            actor=SYSTEM,
            correlation_id=command.correlation_id,
            causation_id=command.causation_id,
        )
        self.save_tracked(tracking, plan)

    def amend_line(self, command: AmendLine, tracking: Tracking) -> None:
        """An adjustment of a đề án's money its authority approved: the line of the plan this instance owns
        takes the new amount (``plan.amended``), with the tracking of the message, atomically. A line
        already at that amount, another instance's line or another owner's plan: consumed only."""
        owner = plan_owner(command.level, command.instance)
        pid = plan_id(command.level, owner, command.plan_year)
        if owner != self.instance or pid not in self.repository:
            self.save_tracked(tracking)
            return
        plan: AnnualPlan = self.repository.get(pid)
        line = plan.lines.get(command.de_an_id)
        if (
            line is None
            or line["approved_support_vnd"] is None
            or line["proposal"].get("instance") != command.instance
            or int(line["approved_support_vnd"]) == command.approved_support_vnd
        ):
            if line is None or line["approved_support_vnd"] is None:
                log.warning("adjustment of a đề án not approved in this plan", de_an_id=command.de_an_id)
            self.save_tracked(tracking)
            return
        plan.amend(
            **command.decision.fields(),
            changes={command.de_an_id: command.approved_support_vnd},
            reason=command.reason,
            actor=command.actor,
            correlation_id=command.correlation_id,
            causation_id=command.causation_id,
            within_envelope=False,
        )
        self.save_tracked(tracking, plan)

    # -- calendars and registrations ------------------------------------------------------------------
    def calendar(self, level: str, year: int, owner: str | None = None) -> PlanCalendar:
        return self.find(
            calendar_id(level, owner or plan_owner(level, self.instance), year),
            PlanCalendar,
            NotFoundError(f"Chưa có lịch kế hoạch {label('plan_level', level).lower()} năm {year} / no calendar yet"),
        )

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
        """A unit or commune registers proposals with this instance (the Sở; the Cục for national units).
        Late, only against an extension decision recorded by the authority that set the deadline."""
        level, year = details["level"], details["year"]
        unit = actor.unit if actor.unit_bound else unit_key(str(details.get("registrant", "")))
        if not unit:
            raise NotOwnerError(
                "Tài khoản đơn vị chưa gắn với đơn vị nào / this unit account names no unit", field="registrant"
            )
        deadline = self.registration_deadline(level, year)
        registration = Registration.file(
            details
            | {"owner": self.instance, "unit": unit, "province_code": self.province_code, "filed_with": self.instance},
            deadline=deadline,
            filed_on=filed_on,
            extension=self._extension(extension, level=level, year=year, deadline=deadline, grantee_key=unit),
            actor=actor.name,
        )
        self._save(registration)
        return registration

    def registration(self, registration_id: UUID) -> Registration:
        return self.find(
            registration_id, Registration, NotFoundError("Không tìm thấy bản đăng ký / no such registration")
        )

    # -- the registration cycle (đăng ký kế hoạch) ---------------------------------------------------------
    @property
    def province_code(self) -> str | None:
        return self.instance.removeprefix("tinh-") if self.instance.startswith("tinh-") else None

    def registration_deadline(self, level: str, year: int) -> Deadline:
        """The deadline a registration filed here is judged by: the Sở's local calendar; for national
        proposals, the date units register with the Sở (a province) or with the Cục (the ministry)."""
        if level == "dia_phuong":
            return self.calendar(level, year, owner=self.instance).deadline("registration_deadline")
        if self.instance == "bo":
            return self.national_deadline(year, "registration_deadline")
        return self.national_deadline(year, "unit_registration_deadline")

    def national_deadline(self, year: int, milestone: str) -> Deadline:
        """A national deadline of plan year ``year``: the Cục's published calendar (its own aggregate at the
        ministry, the calendar.changed events it published at a province), else the packaged default."""
        if milestone != "unit_registration_deadline":
            if self.instance == "bo":
                cid = calendar_id("quoc_gia", "bo", year)
                if cid in self.repository:
                    cal: PlanCalendar = self.repository.get(cid)
                    return cal.deadline(milestone)
            elif self.records is not None:
                row = self.records.published_calendar("quoc_gia", "bo", year)
                if row is not None:
                    return Deadline(
                        milestone,
                        date.fromisoformat(row[milestone]),
                        f"calendar:quoc_gia:bo:{year}@{row['event_id'].rsplit(':', 1)[-1]}",
                        "bo",
                    )
        rules = national_calendar()
        asked = date(year - 1, 1, 1)
        try:
            rule = rules.on(asked)
        except NoRuleInForceError:
            raise NotFoundError(
                f"Chưa có lịch kế hoạch khuyến công quốc gia năm {year} / no national calendar for {year}"
            ) from None
        authority = self.instance if milestone == "unit_registration_deadline" else "bo"
        return Deadline(milestone, rule.params.on(milestone, year), rules.reference(asked), authority)

    def deadline(self, level: str, year: int, milestone: str) -> Deadline:
        if milestone not in MILESTONES:
            raise PlanError(
                f"Mốc {milestone!r} không có; các mốc: {', '.join(MILESTONES)} / unknown milestone", field="milestone"
            )
        if level == "dia_phuong":
            if milestone == "unit_registration_deadline":
                milestone = "registration_deadline"
            return self.calendar(level, year, owner=self.instance).deadline(milestone)
        return self.national_deadline(year, milestone)

    def _extension(
        self, number: str | None, *, level: str, year: int, deadline: Deadline, grantee_key: str
    ) -> Extension | None:
        """The recorded extension decision a late filing names, or None when it names none."""
        clean = " ".join((number or "").split())
        if not clean:
            return None
        eid = extension_id(deadline.authority, level, year, deadline.milestone, grantee_key, clean)
        if deadline.authority == self.instance:
            if eid in self.repository:
                decision: ExtensionDecision = self.repository.get(eid)
                return decision.extension
        elif self.records is not None:
            found = self.records.granted_extension(str(eid))
            if found is not None:
                return found
        raise PlanError(
            f"Không có quyết định gia hạn số {clean} của {label('instance', deadline.authority)} cho đơn vị này "
            f"(«{label('deadline', deadline.milestone)}» {label('plan_level', level).lower()} năm {year}) / no such "
            "extension recorded by the authority that set the deadline",
            field="extension",
        )

    def accept_registration(self, registration_id: UUID, *, on: date, note: str | None, actor: Actor) -> Registration:
        registration = self.registration(registration_id)
        registration.accept(on=on, note=note, actor=actor.name)
        self._save(registration)
        return registration

    def return_registration(self, registration_id: UUID, *, on: date, reason: str, actor: Actor) -> Registration:
        registration = self.registration(registration_id)
        registration.return_to_registrant(on=on, reason=reason, actor=actor.name)
        self._save(registration)
        return registration

    def grant_extension(self, command: GrantExtension, actor: Actor) -> ExtensionDecision:
        """Record an extension decision of this instance's authority (the Sở; the Cục at ``bo``)."""
        level, year, milestone, number = command.level, command.year, command.milestone, command.decision.number
        authority = deadline_authority(level, milestone, self.instance)
        if authority != self.instance:
            raise NotOwnerError(
                f"«{label('deadline', milestone)}» {label('plan_level', level).lower()} do "
                f"{label('instance', authority)} quy định và gia hạn / only {authority} extends this deadline",
                field="milestone",
            )
        deadline = self.deadline(level, year, milestone)
        if command.grantee_instance:
            check_instance(command.grantee_instance)
            key = command.grantee_instance
        else:
            key = unit_key(command.grantee)
        if extension_id(authority, level, year, deadline.milestone, key, number) in self.repository:
            raise PlanError(
                f"Quyết định gia hạn {number} cho {command.grantee} đã được ghi nhận / already recorded",
                field="decision_number",
            )
        decision = ExtensionDecision.grant(
            authority=authority,
            level=level,
            year=year,
            deadline=deadline,
            **command.decision.fields(),
            grantee=command.grantee or label("instance", key),
            grantee_key=key,
            new_deadline=command.new_deadline,
            reason=command.reason,
            actor=actor.name,
        )
        self._save(decision)
        return decision

    def extension(self, extension: UUID) -> ExtensionDecision:
        return self.find(
            extension,
            ExtensionDecision,
            NotFoundError("Không tìm thấy quyết định gia hạn / no such extension decision"),
        )

    def file_national_registration(
        self, year: int, *, filed_on: date, extension: str | None, actor: Actor
    ) -> NationalRegistration:
        """The Sở files the province's national registration with the Cục: every accepted national
        proposal of the year, by the Cục's deadline (late: against the Cục's extension for the province)."""
        if self.province_code is None or self.records is None:
            raise NotOwnerError(
                "Đăng ký kế hoạch khuyến công quốc gia do Sở Công Thương gửi Cục / the Sở files it, from its "
                "province's instance",
                field="year",
            )
        deadline = self.national_deadline(year, "registration_deadline")
        nid = national_registration_id(self.instance, year)
        if nid in self.repository:
            registration: NationalRegistration = self.repository.get(nid)
        else:
            registration = NationalRegistration(instance=self.instance, province_code=self.province_code, year=year)
        registration.file(
            self.records.accepted_items(level="quoc_gia", year=year),
            deadline=deadline,
            filed_on=filed_on,
            extension=self._extension(
                extension, level="quoc_gia", year=year, deadline=deadline, grantee_key=self.instance
            ),
            actor=actor.name,
        )
        self._save(registration)
        return registration

    def national_registration(self, year: int) -> NationalRegistration:
        return self.find(
            national_registration_id(self.instance, year),
            NationalRegistration,
            NotFoundError(f"Chưa gửi đăng ký kế hoạch khuyến công quốc gia năm {year} / not filed yet"),
        )
