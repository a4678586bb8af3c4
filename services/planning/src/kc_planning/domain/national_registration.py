"""Đăng ký kế hoạch khuyến công quốc gia of a province: the Sở's consolidated list of the national
proposals it accepted, filed with the Cục by the national registration deadline (TT 36/2013 Art. 10.2:
"Sở Công Thương … gửi về Cục … trước ngày 15 tháng 6 hàng năm (trường hợp khác theo hướng dẫn của
Cục)"; for plan year 2024 the Cục's guidance said 20/6/2023 — the date is the calendar's, never a
constant). Late, it needs the Cục's recorded extension for the province. A re-filing replaces the
earlier list (``revision``); the ministry keeps the latest.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from kc_planning.domain.extension import Deadline, Extension
from kc_planning.domain.plan import NAMESPACE, PlanError


def national_registration_id(instance: str, year: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"national-registration:{instance}:{year}")


class NationalRegistration(Aggregate):
    class NationalRegistrationOpened(Aggregate.Created):
        instance: str
        province_code: str
        year: int

    class NationalRegistrationFiled(Aggregate.Event):
        revision: int
        filed_on: date
        deadline: date
        on_time: bool
        extension: str | None
        calendar: str
        proposals: list[dict[str, Any]]
        actor: str

    @staticmethod
    def create_id(instance: str, year: int, **_: Any) -> uuid.UUID:
        return national_registration_id(instance, year)

    @event(NationalRegistrationOpened)
    def __init__(self, instance: str, province_code: str, year: int) -> None:
        self.instance, self.province_code, self.year = instance, province_code, year
        self.filings: list[dict[str, Any]] = []

    def file(
        self,
        proposals: list[dict[str, Any]],
        *,
        deadline: Deadline,
        filed_on: date,
        extension: Extension | None,
        actor: str,
    ) -> None:
        """File (or re-file) the consolidated list; ``proposals`` are the accepted registrations' items."""
        if not proposals:
            raise PlanError(
                f"Chưa có đăng ký đề án khuyến công quốc gia năm {self.year} nào được chấp nhận để tổng hợp "
                "/ no accepted national proposal to file",
                field="registrations",
            )
        if filed_on.year >= self.year:
            raise PlanError(
                f"Đăng ký kế hoạch năm {self.year} phải gửi trong năm {self.year - 1} / filed before the plan year",
                field="filed_on",
            )
        admitted = deadline.admit(
            filed_on,
            extension,
            filing=("gửi đăng ký kế hoạch khuyến công quốc gia", "national registration"),
            level="quoc_gia",
            year=self.year,
            grantee_key=self.instance,
        )
        self._filed(
            revision=len(self.filings) + 1,
            filed_on=filed_on,
            deadline=deadline.on,
            on_time=admitted is None,
            extension=admitted.decision_number if admitted else None,
            calendar=deadline.reference,
            proposals=[dict(p) for p in proposals],
            actor=actor,
        )

    @event(NationalRegistrationFiled)
    def _filed(
        self,
        revision: int,
        filed_on: date,
        deadline: date,
        on_time: bool,
        extension: str | None,
        calendar: str,
        proposals: list[dict[str, Any]],
        actor: str,
    ) -> None:
        self.filings.append(
            {
                "revision": revision,
                "filed_on": filed_on,
                "deadline": deadline,
                "on_time": on_time,
                "extension": extension,
                "calendar": calendar,
                "proposals": proposals,
                "total_support_vnd": sum(int(p.get("support_vnd") or 0) for p in proposals),
                "by": actor,
            }
        )

    def state(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "version": self.version,
            "instance": self.instance,
            "province_code": self.province_code,
            "year": self.year,
            "latest": self.filings[-1] if self.filings else None,
            "filings": self.filings,
        }
