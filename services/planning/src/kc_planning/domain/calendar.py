"""Lịch kế hoạch: the milestones of a plan year per programme level and owner, and registrations.

Calendars are data the owning authority edits (the ministry for national, the Sở for local); each
change is an event. A registration (đăng ký kế hoạch) after the registration deadline is refused
unless the authority that set the deadline recorded an extension decision for the registrant
(``domain.extension``).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event
from kc_kernel.vocabulary import label

from kc_planning.domain.extension import Deadline, Extension
from kc_planning.domain.plan import NAMESPACE, PlanError


def calendar_id(level: str, owner: str, year: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"calendar:{level}:{owner}:{year}")


class PlanCalendar(Aggregate):
    class Set(Aggregate.Created):
        level: str
        owner: str
        year: int
        milestones: dict[str, date]
        legal_basis: str
        actor: str

    class Changed(Aggregate.Event):
        milestones: dict[str, date]
        legal_basis: str
        reason: str
        actor: str

    @staticmethod
    def create_id(level: str, owner: str, year: int, **_: Any) -> uuid.UUID:
        return calendar_id(level, owner, year)

    @staticmethod
    def check(milestones: dict[str, date], year: int) -> dict[str, date]:
        required = ("registration_deadline", "dossier_deadline")
        missing = [m for m in required if m not in milestones]
        if missing:
            raise PlanError(
                f"Thiếu mốc: {', '.join(label('deadline', m) for m in missing)} "
                f"/ missing milestones: {', '.join(missing)}",
                field="milestones",
            )
        if milestones["registration_deadline"] > milestones["dossier_deadline"]:
            raise PlanError(
                "Hạn đăng ký phải trước hạn nộp hồ sơ / registration must come before dossiers",
                field="milestones.registration_deadline",
            )
        if milestones["dossier_deadline"].year > year:
            raise PlanError(
                f"Hồ sơ kế hoạch năm {year} phải nộp trước năm {year} / dossiers are due before the plan year",
                field="milestones.dossier_deadline",
            )
        return dict(milestones)

    @event(Set)
    def __init__(
        self, level: str, owner: str, year: int, milestones: dict[str, date], legal_basis: str, actor: str
    ) -> None:
        self.level, self.owner, self.year = level, owner, year
        self.milestones = dict(milestones)
        self.legal_basis = legal_basis
        self.history: list[dict[str, Any]] = [{"milestones": dict(milestones), "reason": "lập lịch", "by": actor}]

    def change(self, milestones: dict[str, date], *, legal_basis: str, reason: str, actor: str) -> None:
        merged = self.check(self.milestones | milestones, self.year)
        if merged == self.milestones:
            return
        if not " ".join(reason.split()):
            raise PlanError("Cần nêu lý do thay đổi lịch / a reason is required", field="reason")
        self._changed(milestones=merged, legal_basis=legal_basis or self.legal_basis, reason=reason, actor=actor)

    @event(Changed)
    def _changed(self, milestones: dict[str, date], legal_basis: str, reason: str, actor: str) -> None:
        self.milestones = dict(milestones)
        self.legal_basis = legal_basis
        self.history.append({"milestones": dict(milestones), "reason": reason, "by": actor})

    @property
    def reference(self) -> str:
        return f"calendar:{self.level}:{self.owner}:{self.year}@v{self.version}"

    def deadline(self, milestone: str = "registration_deadline") -> Deadline:
        return Deadline(milestone, self.milestones[milestone], self.reference, self.owner)


REGISTRATION_STATUSES = ("da_nop", "da_chap_nhan", "tra_lai")  # vocabulary kind registration_status
REGISTRANT_KINDS = ("xa", "to_chuc_dich_vu", "so_cong_thuong", "don_vi_khac")  # vocabulary kind registrant_kind


class Registration(Aggregate):
    """Đăng ký kế hoạch: a registrant's proposals for a plan year, filed with the Sở of its province
    (local plans, and national proposals the Sở consolidates into the province's national registration).
    The Sở accepts it into its consolidation or returns it with the reason."""

    class Filed(Aggregate.Created):
        details: dict[str, Any]
        on_time: bool
        deadline: date
        extension: str | None
        calendar: str
        actor: str

    class RegistrationAccepted(Aggregate.Event):
        accepted_on: date
        note: str | None
        actor: str

    class RegistrationReturned(Aggregate.Event):
        returned_on: date
        reason: str
        actor: str

    @classmethod
    def file(
        cls,
        details: dict[str, Any],
        *,
        deadline: Deadline,
        filed_on: date,
        extension: Extension | None,
        actor: str,
    ) -> Registration:
        """``details``: level, year, registrant, registrant_kind, unit (the registrant's key), items."""
        if not " ".join(str(details.get("registrant", "")).split()):
            raise PlanError("Cần tên đơn vị đăng ký / the registrant is required", field="registrant")
        items = list(details.get("items") or [])
        if not items:
            raise PlanError("Bản đăng ký chưa có đề án nào / the registration lists no proposal", field="items")
        for i, item in enumerate(items):
            if not " ".join(str(item.get("title", "")).split()):
                raise PlanError(f"Dòng {i + 1}: thiếu tên đề án / title missing", field=f"items.{i}.title")
            amount = item.get("support_vnd", 0)
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise PlanError(
                    f"Dòng {i + 1}: kinh phí phải là số nguyên VND không âm / non-negative integer VND",
                    field=f"items.{i}.support_vnd",
                )
        admitted = deadline.admit(
            filed_on,
            extension,
            filing=("đăng ký kế hoạch", "registration"),
            level=details["level"],
            year=details["year"],
            grantee_key=str(details.get("unit") or ""),
        )
        return cls(
            details=details | {"filed_on": filed_on} | ({"extension_until": admitted.new_deadline} if admitted else {}),
            on_time=admitted is None,
            deadline=deadline.on,
            extension=admitted.decision_number if admitted else None,
            calendar=deadline.reference,
            actor=actor,
        )

    @event(Filed)
    def __init__(
        self, details: dict[str, Any], on_time: bool, deadline: date, extension: str | None, calendar: str, actor: str
    ) -> None:
        self.details = dict(details)
        self.on_time, self.deadline, self.extension, self.calendar = on_time, deadline, extension, calendar
        self.status = "da_nop"
        self.decision: dict[str, Any] | None = None

    def _undecided(self, field: str) -> None:
        if self.status != "da_nop":
            raise PlanError(
                f"Bản đăng ký đã ở trạng thái «{label('registration_status', self.status)}» / already decided",
                field=field,
            )

    def accept(self, *, on: date, note: str | None, actor: str) -> None:
        """The Sở accepts it into its consolidation (tổng hợp)."""
        self._undecided("status")
        if on < self.details["filed_on"]:
            raise PlanError("Ngày chấp nhận trước ngày đăng ký / accepted before it was filed", field="on")
        self._accepted(accepted_on=on, note=" ".join((note or "").split()) or None, actor=actor)

    @event(RegistrationAccepted)
    def _accepted(self, accepted_on: date, note: str | None, actor: str) -> None:
        self.status = "da_chap_nhan"
        self.decision = {"on": accepted_on, "note": note, "by": actor}

    def return_to_registrant(self, *, on: date, reason: str, actor: str) -> None:
        """The Sở returns it with the reason (trả lại); the registrant may file again."""
        self._undecided("status")
        clean = " ".join(reason.split())
        if not clean:
            raise PlanError("Cần nêu lý do trả lại / a reason is required", field="reason")
        if on < self.details["filed_on"]:
            raise PlanError("Ngày trả lại trước ngày đăng ký / returned before it was filed", field="on")
        self._returned(returned_on=on, reason=clean, actor=actor)

    @event(RegistrationReturned)
    def _returned(self, returned_on: date, reason: str, actor: str) -> None:
        self.status = "tra_lai"
        self.decision = {"on": returned_on, "reason": reason, "by": actor}

    def state(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "version": self.version,
            "status": self.status,
            "on_time": self.on_time,
            "deadline": self.deadline,
            "extension": self.extension,
            "calendar": self.calendar,
            "details": self.details,
            "decision": self.decision,
        }
