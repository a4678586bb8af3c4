"""The appraisal service's use cases (the eventsourcing Application)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Tracking
from kc_contracts.planning_events import PlanApprovedV1
from kc_runtime.actor import Actor
from kc_runtime.eventstore import ServiceApplication

from kc_appraisal.domain.de_an import BeneficiaryLookup, DeAn
from kc_appraisal.domain.errors import AppraisalError, StaleVersionError
from kc_appraisal.domain.rules import CalendarLookup, Rulebook

T = TypeVar("T")
log = structlog.get_logger("kc.appraisal")


class DeAnNotFoundError(AppraisalError):
    """No đề án with this id in this instance."""


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
    ) -> None:
        self.rules = rules
        self.calendars = calendars
        self.beneficiaries = beneficiaries
        self.instance = instance
        super().__init__(env=env)

    # -- reading ----------------------------------------------------------------------------------
    def get(self, de_an_id: UUID, version: int | None = None) -> DeAn:
        try:
            de_an: DeAn = self.repository.get(de_an_id, version=version)
        except AggregateNotFoundError:
            raise DeAnNotFoundError("Không tìm thấy đề án / đề án not found") from None
        return de_an

    def as_of(self, de_an_id: UUID, moment: datetime) -> DeAn:
        """The đề án as it stood at ``moment`` (replayed from its stream)."""
        versions = [
            e.originator_version for e in self.events.get(de_an_id) if getattr(e, "timestamp", moment) <= moment
        ]
        if not versions:
            raise DeAnNotFoundError(f"Đề án chưa tồn tại vào {moment.isoformat()} / did not exist yet")
        return self.get(de_an_id, version=max(versions))

    def timeline(self, de_an_id: UUID) -> list[dict[str, Any]]:
        """Who did what, when, under which rule version: straight from the stream."""
        self.get(de_an_id)
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
        de_an = DeAn.draft(
            details | {"province_code": details.get("province_code") or self._province()},
            rules=self.rules,
            on=on,
            **actor.by,
        )
        self.save(de_an)
        return de_an

    def _province(self) -> str:
        return self.instance.removeprefix("tinh-") if self.instance.startswith("tinh-") else "00"

    def change(self, de_an_id: UUID, command: Callable[[DeAn], T], expected_version: int | None = None) -> DeAn:
        """Load (at the expected version, if given), run one domain command, save."""
        de_an = self.get(de_an_id)
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
