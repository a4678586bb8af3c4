"""The appraisal service's use cases (the eventsourcing Application)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Tracking
from kc_contracts.planning_events import PlanApprovedV1
from kc_contracts.vocabulary import VIETNAM_TIME, has_label, label
from kc_runtime.actor import Actor
from kc_runtime.eventstore import ServiceApplication
from kc_runtime.text import unit_key

from kc_appraisal.domain.de_an import BeneficiaryLookup, DeAn, Level, Status
from kc_appraisal.domain.errors import AppraisalError, StaleVersionError
from kc_appraisal.domain.reference import DeAnReference, reference_for
from kc_appraisal.domain.rules import CalendarLookup, Rulebook

T = TypeVar("T")
log = structlog.get_logger("kc.appraisal")
CodeLookup = Callable[[str], list[UUID]]  # the đề án with this code (the list view)
YearCount = Callable[[int], int]  # how many đề án of this plan year there are (the list view)


class DeAnNotFoundError(AppraisalError):
    """No đề án with this id in this instance (or none the caller's unit may see)."""


class AmbiguousCodeError(AppraisalError):
    """Several đề án share this code: look it up by its reference (mã tra cứu)."""


class UnitMismatchError(AppraisalError):
    """An implementing unit drafts only its own đề án."""


@dataclass(frozen=True)
class PublicStatus:
    """What anyone may know of a đề án from its code: nothing personal, no amounts, no dossier."""

    code: str
    reference: str | None
    title: str
    status: Status
    plan_year: int
    level: Level
    province_code: str
    status_changed_on: date

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "reference": self.reference,
            "title": self.title,
            "status": {"code": self.status.value, "label": label("de_an_status", self.status)},
            "plan_year": self.plan_year,
            "level": {"code": self.level.value, "label": label("plan_level", self.level)},
            "province": {"code": self.province_code, "name": _province_name(self.province_code)},
            "status_changed_on": self.status_changed_on.isoformat(),
        }


def _province_name(code: str) -> str | None:
    """Its name now, or before the 2025 merger; the ministry's own đề án (``00``) have none."""
    for kind in ("province", "province_truoc_2025"):
        if has_label(kind, code):
            return label(kind, code)
    return None


def unit_of(de_an: DeAn) -> str:
    """The implementing unit's key: recorded at draft, or (đề án drafted before) from its name."""
    return str(de_an.details.get("unit") or unit_key(de_an.details["implementing_unit"]))


class AppraisalApplication(ServiceApplication):
    name = "appraisal"

    def __init__(
        self,
        env: dict[str, str],
        *,
        rules: Rulebook,
        beneficiaries: BeneficiaryLookup,
        instance: str,
        calendars: CalendarLookup | None = None,
        codes: CodeLookup | None = None,
        drafted_in: YearCount | None = None,
    ) -> None:
        self.codes = codes
        self.drafted_in = drafted_in
        self.rules = rules
        self.calendars = calendars
        self.beneficiaries = beneficiaries
        self.instance = instance
        super().__init__(env=env)

    # -- reading ----------------------------------------------------------------------------------
    def get(self, de_an_id: UUID, version: int | None = None, *, actor: Actor | None = None) -> DeAn:
        """The đề án; for an actor bound to a unit, only its own unit's (another's is not found)."""
        try:
            de_an: Any = self.repository.get(de_an_id, version=version)
        except AggregateNotFoundError:
            raise DeAnNotFoundError("Không tìm thấy đề án / đề án not found") from None
        if not isinstance(de_an, DeAn) or (actor is not None and not actor.reaches_unit(unit_of(de_an))):
            raise DeAnNotFoundError("Không tìm thấy đề án / đề án not found")
        return de_an

    def as_of(self, de_an_id: UUID, moment: datetime, *, actor: Actor | None = None) -> DeAn:
        """The đề án as it stood at ``moment`` (replayed from its stream)."""
        self.get(de_an_id, actor=actor)
        versions = [
            e.originator_version for e in self.events.get(de_an_id) if getattr(e, "timestamp", moment) <= moment
        ]
        if not versions:
            raise DeAnNotFoundError(f"Đề án chưa tồn tại vào {moment.isoformat()} / did not exist yet")
        return self.get(de_an_id, version=max(versions))

    def public_status(self, code: str) -> PublicStatus:
        """The public lookup (tra cứu) by reference or by the đề án's code: where it stands,
        nothing personal, no amounts, no dossier."""
        try:
            reservation: Any = self.repository.get(DeAnReference.id_for(code))
            found = [reservation.de_an_id] if isinstance(reservation, DeAnReference) else []
        except AggregateNotFoundError:
            found = self.codes(code) if self.codes else []
        if not found:
            raise DeAnNotFoundError(f"Không có đề án mã {code} / no đề án with this code")
        if len(found) > 1:
            raise AmbiguousCodeError(
                f"Có {len(found)} đề án cùng mã {code}; tra cứu bằng mã tra cứu (dạng {self.instance}-2024-0007)"
                " / several đề án share this code: use the reference",
                field="code",
            )
        de_an = self.get(found[0])
        d = de_an.details
        return PublicStatus(
            code=d["code"],
            reference=d.get("reference"),
            title=d["title"],
            status=de_an.status,
            plan_year=int(d["plan_year"]),
            level=de_an.level,
            province_code=d["province_code"],
            status_changed_on=de_an.status_changed_at.astimezone(VIETNAM_TIME).date(),
        )

    def timeline(self, de_an_id: UUID, *, actor: Actor | None = None) -> list[dict[str, Any]]:
        """Who did what, when, under which rule version: straight from the stream."""
        self.get(de_an_id, actor=actor)
        out = []
        for e in self.events.get(de_an_id):
            payload = {
                k: v
                for k, v in e.__dict__.items()
                if k
                not in (
                    "originator_id",
                    "originator_version",
                    "timestamp",
                    "originator_topic",
                    "actor",
                    "correlation_id",
                    "rule_versions",
                )
            }
            out.append(
                {
                    "version": e.originator_version,
                    "event": type(e).__name__,
                    "at": getattr(e, "timestamp", None),
                    "actor": getattr(e, "actor", None),
                    "correlation_id": getattr(e, "correlation_id", None),
                    "rule_versions": getattr(e, "rule_versions", []),
                    "data": payload,
                }
            )
        return out

    # -- commands ---------------------------------------------------------------------------------
    def draft(self, details: dict[str, Any], actor: Actor, on: date) -> DeAn:
        """A new đề án with its reference (mã tra cứu) and implementing unit (an implementing
        unit's own token drafts for that unit only)."""
        unit = details.get("unit") or unit_key(str(details.get("implementing_unit") or ""))
        if actor.unit_bound and actor.unit is not None:
            if details.get("unit") not in (None, actor.unit):
                raise UnitMismatchError(
                    f"Đơn vị {actor.unit} chỉ lập đề án của đơn vị mình / a unit drafts its own đề án only",
                    field="unit",
                )
            unit = actor.unit
        details = details | {"province_code": details.get("province_code") or self._province(), "unit": unit or None}
        year = details.get("plan_year")
        number = (self.drafted_in(year) if self.drafted_in and isinstance(year, int) else 0) + 1
        for _ in range(100):  # the count is a hint; the reservation decides (a concurrent draft took it: next)
            reference = reference_for(self.instance, year, number) if isinstance(year, int) else None
            de_an = DeAn.draft(details | {"reference": reference}, rules=self.rules, on=on, **actor.by)
            try:
                self.save(de_an, DeAnReference(reference=de_an.details["reference"], de_an_id=de_an.id))
            except IntegrityError:
                number += 1
                continue
            return de_an
        raise StaleVersionError("Đang có nhiều đề án được lập cùng lúc; thử lại / too many concurrent drafts")

    def _province(self) -> str:
        return self.instance.removeprefix("tinh-") if self.instance.startswith("tinh-") else "00"

    def change(
        self,
        de_an_id: UUID,
        command: Callable[[DeAn], T],
        expected_version: int | None = None,
        *,
        actor: Actor | None = None,
    ) -> DeAn:
        """Load (at the expected version, if given), run one domain command, save."""
        de_an = self.get(de_an_id, actor=actor)
        if expected_version is not None and de_an.version != expected_version:
            raise StaleVersionError(
                f"Đề án đã thay đổi (phiên bản hiện tại {de_an.version}, bạn gửi {expected_version}); tải lại / "
                "stale version: reload and retry",
                field="version",
            )
        command(de_an)
        try:
            self.save(de_an)
        except IntegrityError:
            raise StaleVersionError(
                "Đề án vừa bị thay đổi đồng thời; tải lại / changed concurrently", field="version"
            ) from None
        return de_an

    # -- from the bus -----------------------------------------------------------------------------
    def apply_plan(self, plan: PlanApprovedV1, tracking: Tracking) -> list[str]:
        """``plan.approved``: approve this instance's đề án in the plan, with the tracking, atomically.

        A line that cannot apply (unknown đề án, wrong state, amount above appraisal) is reported in
        the log and the returned list; the others still apply.
        """
        changed, problems = [], []
        for line in plan.lines:
            if line.instance != self.instance:
                continue
            try:
                de_an = self.get(line.de_an_id)
                de_an.approve_in_plan(
                    plan_id=str(plan.plan_id),
                    plan_decision=plan.decision_number,
                    batch=plan.batch,
                    decided_on=plan.decision_date,
                    approved_support_vnd=line.approved_support_vnd,
                    actor=f"ke-hoach:{plan.owner}",
                    correlation_id=str(plan.plan_id),
                )
                changed.append(de_an)
            except AppraisalError as exc:
                problems.append(f"{line.code}: {exc}")
                log.warning("plan line not applied", plan=str(plan.plan_id), code=line.code, error=str(exc))
        self.save_tracked(tracking, *changed)
        return problems
