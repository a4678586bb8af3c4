"""Thẩm định thực tế: a field trip as a schedule across establishments — several đề án visited on set
dates by one team (Thái Nguyên, March 2024: the Sở's teams at the establishments of the year's local đề
án) — with the findings of each visit recorded against it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate

from kc_appraisal.domain.de_an.values import By, text
from kc_appraisal.domain.errors import AppraisalError

# (de_an id) → (code, title) of a đề án of this instance, or None
DeAnLookup = Callable[[str], "tuple[str, str] | None"]


class VisitOutcome(StrEnum):
    passed = "dat"
    supplement = "can_bo_sung"
    failed = "khong_dat"


class FieldTripError(AppraisalError):
    """A field trip's schedule or findings refused."""


class FieldTrip(Aggregate):
    class Event(Aggregate.Event):
        actor: str
        correlation_id: str | None

    class Scheduled(Event, Aggregate.Created):
        name: str
        decision_number: str
        starts_on: date
        ends_on: date
        team: list[str]
        visits: list[dict[str, Any]]  # de_an_id, code, title, on, place, establishment_id

    class FindingsRecorded(Event):
        visit: int
        findings: str
        outcome: str
        recorded_on: date

        def apply(self, trip: Any) -> None:
            trip.visits[self.visit] = trip.visits[self.visit] | {
                "findings": self.findings,
                "outcome": self.outcome,
                "recorded_on": self.recorded_on,
                "recorded_by": self.actor,
            }

    def __init__(
        self,
        name: str,
        decision_number: str,
        starts_on: date,
        ends_on: date,
        team: list[str],
        visits: list[dict[str, Any]],
        **_: Any,
    ) -> None:
        self.name, self.decision_number = name, decision_number
        self.starts_on, self.ends_on = starts_on, ends_on
        self.team = team
        self.visits = [dict(v) for v in visits]

    @classmethod
    def schedule(
        cls,
        *,
        name: str,
        decision_number: str,
        starts_on: date,
        ends_on: date,
        team: Sequence[str],
        visits: Sequence[dict[str, Any]],
        de_an: DeAnLookup,
        by: By,
    ) -> FieldTrip:
        if ends_on < starts_on:
            raise FieldTripError("Ngày kết thúc trước ngày bắt đầu / ends before it starts", field="ends_on")
        members = [text(m, f"team.{i}") for i, m in enumerate(team)]
        if not members:
            raise FieldTripError("Đoàn thẩm định cần ít nhất một người / the team is empty", field="team")
        planned = []
        for i, v in enumerate(visits):
            on = v.get("on")
            if not isinstance(on, date) or not starts_on <= on <= ends_on:
                raise FieldTripError(
                    f"Ngày thăm thứ {i + 1} phải trong thời gian của đoàn ({starts_on:%d/%m/%Y}–{ends_on:%d/%m/%Y})"
                    " / each visit falls within the trip",
                    field=f"visits.{i}.on",
                )
            de_an_id = str(v.get("de_an_id") or "")
            found = de_an(de_an_id)
            if found is None:
                raise FieldTripError(f"Không có đề án {de_an_id} / unknown đề án", field=f"visits.{i}.de_an_id")
            planned.append(
                {
                    "de_an_id": de_an_id,
                    "code": found[0],
                    "title": found[1],
                    "on": on,
                    "place": text(v.get("place"), f"visits.{i}.place"),
                    "establishment_id": str(v["establishment_id"]) if v.get("establishment_id") else None,
                    "findings": None,
                    "outcome": None,
                }
            )
        if not planned:
            raise FieldTripError("Lịch thăm trống / no visit scheduled", field="visits")
        planned.sort(key=lambda v: (v["on"], v["code"]))
        return cls._create(cls.Scheduled, name=text(name, "name"),
                           decision_number=text(decision_number, "decision_number"), starts_on=starts_on,
                           ends_on=ends_on, team=members, visits=planned, actor=by.actor,
                           correlation_id=by.correlation_id)  # fmt: skip

    def record_findings(
        self, *, visit: int, findings: str, outcome: VisitOutcome | str, recorded_on: date, by: By
    ) -> None:
        if not 0 <= visit < len(self.visits):
            raise FieldTripError(f"Không có lần thăm số {visit + 1} / no such visit", field="visit")
        planned = self.visits[visit]
        if planned.get("findings"):
            raise FieldTripError("Lần thăm này đã có kết quả / findings already recorded", field="visit")
        if recorded_on < planned["on"]:
            raise FieldTripError(
                f"Kết quả ghi trước ngày thăm ({planned['on']:%d/%m/%Y}) / findings before the visit",
                field="recorded_on",
            )
        try:
            result = VisitOutcome(str(outcome))
        except ValueError:
            raise FieldTripError(
                "Kết quả: «Đạt», «Cần bổ sung» hoặc «Không đạt» / outcome: dat, can_bo_sung or khong_dat",
                field="outcome",
            ) from None
        self.trigger_event(self.FindingsRecorded, visit=visit, findings=text(findings, "findings"),
                           outcome=result.value, recorded_on=recorded_on, actor=by.actor,
                           correlation_id=by.correlation_id)  # fmt: skip

    def state(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "version": self.version,
            "name": self.name,
            "decision_number": self.decision_number,
            "starts_on": self.starts_on,
            "ends_on": self.ends_on,
            "team": self.team,
            "visits": [v | {"index": i} for i, v in enumerate(self.visits)],
            "status": "da_co_ket_qua" if all(v.get("findings") for v in self.visits) else "da_len_lich",
        }
