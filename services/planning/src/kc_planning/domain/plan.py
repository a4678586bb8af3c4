"""Kế hoạch khuyến công năm: one annual plan per (programme level, owner, year).

Lines come from appraisal's outcomes (a đề án proposed for the plan). Approval is by decision
(number, date, signer), in batches (đợt 1, đợt 2 …); each approval emits the lines it approves.
Approved support per funding source must fit the plan's budget envelope. Amendments change
approved amounts or withdraw lines, by decision.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event
from kc_kernel.money import above_appraisal, vnd
from kc_kernel.vocabulary import label

FUNDING_SOURCES = ("quoc_gia", "dia_phuong", "doi_ung", "khac")
FUNDING = "funding_source"  # the vocabulary's kind for them
NAMESPACE = uuid.UUID("0d7d1f7e-3b0a-4c55-9a8e-2f6c7b1f9a31")


class PlanError(ValueError):
    """A planning rule refused the command (Vietnamese first, then English)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def plan_id(level: str, owner: str, year: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"plan:{level}:{owner}:{year}")


def _decision(number: str, field: str = "decision_number") -> str:
    clean = " ".join(number.split())
    if not clean:
        raise PlanError("Cần số quyết định / a decision number is required", field=field)
    return clean


class AnnualPlan(Aggregate):
    class Opened(Aggregate.Created):
        level: str
        owner: str
        year: int
        actor: str

    class LineProposed(Aggregate.Event):
        """A đề án proposed by appraisal, because of that message (causation), in its conversation."""

        line: dict[str, Any]
        actor: str
        correlation_id: str | None
        causation_id: str | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["correlation_id"] = state["causation_id"] = None  # stored before they were recorded

    class EnvelopeSet(Aggregate.Event):
        envelope: dict[str, int]
        decision_number: str
        actor: str

    class BatchApproved(Aggregate.Event):
        batch: int
        decision_number: str
        decision_date: date
        signer: str
        approved: dict[str, int]  # de_an_id -> approved support VND
        actor: str
        correlation_id: str | None  # the request that approved it: plan.approved carries it on
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["correlation_id"] = None  # stored before it was recorded

    class Amended(Aggregate.Event):
        """Điều chỉnh kế hoạch by decision: typed by the plan's owner, or an adjustment of a đề án the
        authority approved (from the bus: that message's conversation and id as causation)."""

        decision_number: str
        decision_date: date
        signer: str
        changes: dict[str, int]  # de_an_id -> new approved support (0 withdraws the line)
        reason: str
        actor: str
        correlation_id: str | None
        causation_id: str | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["correlation_id"] = state["causation_id"] = None  # stored before they were recorded

    @staticmethod
    def create_id(level: str, owner: str, year: int, **_: Any) -> uuid.UUID:
        return plan_id(level, owner, year)

    @classmethod
    def open(cls, *, level: str, owner: str, year: int, actor: str) -> AnnualPlan:
        if level not in ("quoc_gia", "dia_phuong"):
            raise PlanError(
                f"Cấp kế hoạch: «{label('plan_level', 'quoc_gia')}» (quoc_gia) hoặc "
                f"«{label('plan_level', 'dia_phuong')}» "
                "(dia_phuong) / level must be quoc_gia (national) or dia_phuong (local)",
                field="level",
            )
        if (level == "quoc_gia") != (owner == "bo"):
            raise PlanError(
                "Kế hoạch quốc gia do Bộ (bo) lập; kế hoạch địa phương do tỉnh / the ministry owns the "
                "national plan, a province its local plan",
                field="owner",
            )
        return cls(level=level, owner=owner, year=year, actor=actor)

    @event(Opened)
    def __init__(self, level: str, owner: str, year: int, actor: str) -> None:
        self.level, self.owner, self.year = level, owner, year
        self.lines: dict[str, dict[str, Any]] = {}
        self.envelope: dict[str, int] = {}
        self.batches: list[dict[str, Any]] = []
        self.amendments: list[dict[str, Any]] = []

    @property
    def funding_source(self) -> str:
        return "quoc_gia" if self.level == "quoc_gia" else "dia_phuong"

    # -- lines --------------------------------------------------------------------------------------
    def propose_line(
        self, line: dict[str, Any], *, actor: str, correlation_id: str | None = None, causation_id: str | None = None
    ) -> bool:
        """A đề án proposed for this plan; a repeat of the same proposal changes nothing."""
        key = str(line["de_an_id"])
        if key in self.lines and self.lines[key]["approved_support_vnd"] is not None:
            return False  # already approved: later re-proposals wait for an amendment
        if self.lines.get(key, {}).get("proposal") == line:
            return False
        self._line_proposed(line=line, actor=actor, correlation_id=correlation_id, causation_id=causation_id)
        return True

    @event(LineProposed)
    def _line_proposed(
        self, line: dict[str, Any], actor: str, correlation_id: str | None, causation_id: str | None
    ) -> None:
        self.lines[str(line["de_an_id"])] = {"proposal": dict(line), "approved_support_vnd": None, "batch": None}

    def set_envelope(self, envelope: dict[str, int], *, decision_number: str, actor: str) -> None:
        for source, amount in envelope.items():
            if source not in FUNDING_SOURCES:
                raise PlanError(
                    f"Nguồn kinh phí {source!r} không hợp lệ; các nguồn: "
                    f"{', '.join(f'«{label(FUNDING, s)}» ({s})' for s in FUNDING_SOURCES)} / unknown funding source",
                    field=f"envelope.{source}",
                )
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise PlanError(
                    "Dự toán phải là số nguyên VND không âm / must be non-negative integer VND",
                    field=f"envelope.{source}",
                )
        self._envelope_set(envelope=dict(envelope), decision_number=_decision(decision_number), actor=actor)

    @event(EnvelopeSet)
    def _envelope_set(self, envelope: dict[str, int], decision_number: str, actor: str) -> None:
        self.envelope = dict(envelope)

    def approved_total(self) -> int:
        return sum(int(v["approved_support_vnd"] or 0) for v in self.lines.values())

    # -- approval -----------------------------------------------------------------------------------
    def approve_batch(
        self,
        *,
        decision_number: str,
        decision_date: date,
        signer: str,
        amounts: dict[str, int] | None,
        actor: str,
        correlation_id: str | None = None,
    ) -> dict[str, int]:
        """Approve a batch (đợt). ``amounts``: đề án id → approved VND; None approves every proposed,
        not yet approved line at its recommended amount, in priority order."""
        pending = {k: v for k, v in self.lines.items() if v["approved_support_vnd"] is None}
        if amounts is None:
            ordered = sorted(
                pending.items(),
                key=lambda kv: (kv[1]["proposal"].get("priority_rank", []), kv[1]["proposal"].get("code", "")),
            )
            amounts = {k: int(v["proposal"]["recommended_support_vnd"]) for k, v in ordered}
        if not amounts:
            raise PlanError("Không có đề án nào chờ phê duyệt / nothing to approve", field="amounts")
        for key, amount in amounts.items():
            line = pending.get(str(key))
            if line is None:
                raise PlanError(
                    f"Đề án {key} không có trong kế hoạch hoặc đã được phê duyệt / not a pending line",
                    field=f"amounts.{key}",
                )
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                raise PlanError(
                    "Kinh phí phê duyệt phải là số nguyên VND dương / positive integer VND", field=f"amounts.{key}"
                )
            refusal = above_appraisal(
                amount, int(line["proposal"]["recommended_support_vnd"]), code=line["proposal"]["code"]
            )
            if refusal:
                raise PlanError(refusal, field=f"amounts.{key}")
        self._check_envelope(self.approved_total() + sum(amounts.values()))
        signer_clean = " ".join(signer.split())
        if not signer_clean:
            raise PlanError("Cần người ký quyết định / the signer is required", field="signer")
        self._batch_approved(
            batch=len(self.batches) + 1,
            decision_number=_decision(decision_number),
            decision_date=decision_date,
            signer=signer_clean,
            approved={str(k): v for k, v in amounts.items()},
            actor=actor,
            correlation_id=correlation_id,
        )
        return amounts

    def _check_envelope(self, total: int) -> None:
        limit = self.envelope.get(self.funding_source)
        if limit is not None and total > limit:
            raise PlanError(
                f"Tổng kinh phí phê duyệt {vnd(total)} đồng vượt dự toán nguồn «{label(FUNDING, self.funding_source)}» "
                f"{vnd(limit)} đồng "
                "/ approved total above the budget envelope",
                field="amounts",
            )

    @event(BatchApproved)
    def _batch_approved(
        self,
        batch: int,
        decision_number: str,
        decision_date: date,
        signer: str,
        approved: dict[str, int],
        actor: str,
        correlation_id: str | None,
    ) -> None:
        for key, amount in approved.items():
            self.lines[key] = self.lines[key] | {"approved_support_vnd": amount, "batch": batch}
        self.batches.append(
            {
                "batch": batch,
                "decision_number": decision_number,
                "decision_date": decision_date,
                "signer": signer,
                "approved": dict(approved),
            }
        )

    def amend(
        self,
        *,
        decision_number: str,
        decision_date: date,
        signer: str,
        changes: dict[str, int],
        reason: str,
        actor: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        within_envelope: bool = True,
    ) -> None:
        """Change approved amounts by decision. ``within_envelope=False``: a decision the law lets stand
        above the budget envelope (an adjustment the Minister or UBND tỉnh approved) is recorded as
        decided; the envelope is the owner's to raise."""
        if not changes:
            raise PlanError("Không có thay đổi / no change", field="changes")
        for key, amount in changes.items():
            line = self.lines.get(str(key))
            if line is None or line["approved_support_vnd"] is None:
                raise PlanError(
                    f"Đề án {key} chưa được phê duyệt trong kế hoạch / not an approved line", field=f"changes.{key}"
                )
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise PlanError(
                    "Kinh phí phải là số nguyên VND không âm / non-negative integer VND", field=f"changes.{key}"
                )
        new_total = self.approved_total() + sum(
            a - int(self.lines[str(k)]["approved_support_vnd"]) for k, a in changes.items()
        )
        if within_envelope:
            self._check_envelope(new_total)
        if not " ".join(reason.split()):
            raise PlanError("Cần nêu lý do điều chỉnh / a reason is required", field="reason")
        self._amended(
            decision_number=_decision(decision_number),
            decision_date=decision_date,
            signer=" ".join(signer.split()),
            changes={str(k): v for k, v in changes.items()},
            reason=" ".join(reason.split()),
            actor=actor,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )

    @event(Amended)
    def _amended(
        self,
        decision_number: str,
        decision_date: date,
        signer: str,
        changes: dict[str, int],
        reason: str,
        actor: str,
        correlation_id: str | None,
        causation_id: str | None,
    ) -> None:
        for key, amount in changes.items():
            self.lines[key] = self.lines[key] | {"approved_support_vnd": amount}
        self.amendments.append(
            {
                "decision_number": decision_number,
                "decision_date": decision_date,
                "signer": signer,
                "changes": dict(changes),
                "reason": reason,
            }
        )

    def state(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "version": self.version,
            "level": self.level,
            "owner": self.owner,
            "year": self.year,
            "envelope": self.envelope,
            "lines": self.lines,
            "batches": self.batches,
            "amendments": self.amendments,
            "approved_total_vnd": self.approved_total(),
        }
