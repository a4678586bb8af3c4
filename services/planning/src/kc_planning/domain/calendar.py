"""Lịch kế hoạch: the milestones of a plan year per programme level and owner, and registrations.

Calendars are data the owning authority edits (the ministry for national, the Sở for local); each
change is an event. A registration (đăng ký kế hoạch) after the registration deadline is refused
unless an extension decision is recorded for the registrant.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event
from kc_contracts.vocabulary import label

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


class Registration(Aggregate):
    """Đăng ký kế hoạch: a registrant's proposals for a plan year, filed with the plan's owner."""

    class Filed(Aggregate.Created):
        details: dict[str, Any]
        on_time: bool
        deadline: date
        extension: str | None
        calendar: str
        actor: str

    @classmethod
    def file(
        cls, details: dict[str, Any], *, calendar: PlanCalendar, filed_on: date, extension: str | None, actor: str
    ) -> Registration:
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
        deadline = calendar.milestones["registration_deadline"]
        on_time = filed_on <= deadline
        if not on_time and not extension:
            raise PlanError(
                f"Quá hạn đăng ký kế hoạch ({deadline:%d/%m/%Y}, {calendar.reference}); cần quyết định gia hạn / past "
                "the registration deadline: an extension decision is required",
                field="filed_on",
            )
        return cls(
            details=details | {"filed_on": filed_on},
            on_time=on_time,
            deadline=deadline,
            extension=extension,
            calendar=calendar.reference,
            actor=actor,
        )

    @event(Filed)
    def __init__(
        self, details: dict[str, Any], on_time: bool, deadline: date, extension: str | None, calendar: str, actor: str
    ) -> None:
        self.details = dict(details)
        self.on_time, self.deadline, self.extension, self.calendar = on_time, deadline, extension, calendar
