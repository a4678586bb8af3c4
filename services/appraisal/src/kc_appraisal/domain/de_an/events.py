"""What happens to a đề án: its decision events, and how each changes the đề án's state.

Every event is a decision: it carries who decided, in which conversation and because of which
message (``By``: actor, correlation, causation) once, in the base ``Event``, and the lifecycle action
it records, whose status is read from the lifecycle table (``leads_to``). ``DeAn`` inherits these
classes (eventsourcing redefines them as ``DeAn.<Event>``).

Events stored before the domain became a package keep loading: their topics name the package
(``kc_appraisal.domain.de_an:DeAn.…``), which re-exports ``DeAn``; they had no causation
(``upcast_v1_v2``); and both appraisal stages were one ``Appraised`` event (kept, for replay only).
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from kc_appraisal.domain.de_an.lifecycle import DRAFTING, Conclusion, Status, leads_to

BASE, MINISTRY = "co_so", "cap_bo"  # the appraisal stages, as the timeline names them


class DeAnEvents:
    class Event(Aggregate.Event):
        """A decision on the đề án: who, in which conversation, because of which message."""

        actor: str
        correlation_id: str | None
        causation_id: str | None
        action: ClassVar[str | None] = None  # the lifecycle action it records
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["causation_id"] = None  # stored before causation was recorded

        def leads_to(self) -> Status | None:
            """The status the đề án is in after this event (None: unchanged)."""
            return leads_to(self.action)

        def apply(self, aggregate: Any) -> None:
            status = self.leads_to()
            if status is not None:
                aggregate.status = status
            self.record(aggregate)

        def record(self, de_an: Any) -> None:
            """What the event changes besides the status."""

        def mutate(self, aggregate: Any) -> Any:
            before = getattr(aggregate, "status", None)
            aggregate = super().mutate(aggregate)
            if aggregate is not None and aggregate.status != before:
                aggregate.status_changed_at = self.timestamp  # when the status last changed (public lookup)
            return aggregate

    class Drafted(Event, Aggregate.Created):
        details: dict[str, Any]
        action = DRAFTING

    class Edited(Event):
        changes: dict[str, Any]
        action = "sua_du_thao"

        def record(self, de_an: Any) -> None:
            de_an.details = de_an.details | self.changes

    class SubmissionExtended(Event):
        decision_number: str
        decided_on: date
        new_deadline: date
        action = "gia_han_nop"

        def record(self, de_an: Any) -> None:
            de_an.extension = {
                "decision_number": self.decision_number,
                "decided_on": self.decided_on,
                "new_deadline": self.new_deadline,
            }

    class Submitted(Event):
        submitted_on: date
        deadline: date
        ceilings: list[dict[str, Any]]
        priority: dict[str, Any]
        rule_versions: list[str]
        action = "nop"

        def record(self, de_an: Any) -> None:
            de_an.submission = {
                "submitted_on": self.submitted_on,
                "deadline": self.deadline,
                "ceilings": self.ceilings,
                "priority": self.priority,
                "rule_versions": self.rule_versions,
            }

    class Returned(Event):
        reason: str
        action = "tra_lai"

        def record(self, de_an: Any) -> None:
            de_an.returns.append(self.reason)

    class AppraisalRecorded(Event):
        """Thẩm định, either stage: the council or staff, the conclusion, the amount recommended."""

        mode: str
        members: list[dict[str, Any]]
        conclusion: str
        recommended_support_vnd: int
        appraised_on: date
        field_visit: dict[str, Any] | None
        notes: str
        rule_versions: list[str]
        minutes: dict[str, Any] | None  # the council's minutes it follows (absent from older events)
        stage: ClassVar[str] = BASE

        def leads_to(self) -> Status | None:
            return leads_to(self.action, rejected=self.conclusion == Conclusion.reject)

        def record(self, de_an: Any) -> None:
            minutes = getattr(self, "minutes", None)
            de_an.appraisals.append(
                {
                    "stage": self.stage,
                    "mode": self.mode,
                    "members": self.members,
                    "conclusion": self.conclusion,
                    "recommended_support_vnd": self.recommended_support_vnd,
                    "appraised_on": self.appraised_on,
                    "field_visit": self.field_visit,
                    "notes": self.notes,
                    "by": self.actor,
                }
                | ({"minutes": minutes} if minutes else {})
            )

    class BaseAppraisalRecorded(AppraisalRecorded):
        """Thẩm định cấp cơ sở (the Sở)."""

        action = "tham_dinh_co_so"
        stage = BASE

    class MinistryAppraisalRecorded(AppraisalRecorded):
        """Thẩm định cấp Bộ (national đề án)."""

        action = "tham_dinh_cap_bo"
        stage = MINISTRY

    class Appraised(AppraisalRecorded):
        """Both stages as stored before they had an event each (``stage`` says which): replay only."""

        stage: str  # type: ignore[misc]

        @property
        def action(self) -> str:  # type: ignore[override]
            return "tham_dinh_co_so" if self.stage == BASE else "tham_dinh_cap_bo"

    class Forwarded(Event):
        forwarded_on: date
        action = "gui_bo"

    class Proposed(Event):
        proposed_on: date
        rank: list[int]
        priority: dict[str, Any]
        rule_versions: list[str]
        action = "de_xuat_ke_hoach"

        def record(self, de_an: Any) -> None:
            de_an.rank = self.rank
            de_an.proposal_priority = self.priority

    class Approved(Event):
        plan_id: str
        plan_decision: str
        batch: int
        decided_on: date
        approved_support_vnd: int
        action = "phe_duyet"

        def record(self, de_an: Any) -> None:
            de_an.approval = {
                "plan_id": self.plan_id,
                "plan_decision": self.plan_decision,
                "batch": self.batch,
                "decided_on": self.decided_on,
                "approved_support_vnd": self.approved_support_vnd,
            }

    class NotFunded(Event):
        reason: str
        action = "khong_bo_tri"

    class Contracted(Event):
        contract_number: str
        signed_on: date
        contracted_support_vnd: int
        action = "ky_hop_dong"

        def record(self, de_an: Any) -> None:
            de_an.contract = {
                "contract_number": self.contract_number,
                "signed_on": self.signed_on,
                "contracted_support_vnd": self.contracted_support_vnd,
            }

    class ProgressReported(Event):
        month: str
        percent: int
        note: str
        action = "bao_cao_tien_do"

        def record(self, de_an: Any) -> None:
            de_an.progress.append({"month": self.month, "percent": self.percent, "note": self.note})

    class DocumentFiled(Event):
        """A file of the đề án's own (its explanation, estimate, contract, minutes …) kept at the province:
        the event carries its hash, size, kind and type, never its bytes nor its name."""

        kind: str
        sha256: str
        size_bytes: int
        media_type: str

        def record(self, de_an: Any) -> None:
            de_an.documents[self.sha256] = {
                "kind": self.kind,
                "sha256": self.sha256,
                "size_bytes": self.size_bytes,
                "media_type": self.media_type,
                "filed_at": self.timestamp,
                "filed_by": self.actor,
            }

    class ProgressPhotoFiled(Event):
        """A photo of the work, attached to the monthly progress report of ``month`` (kept at the province)."""

        month: str
        sha256: str
        size_bytes: int
        media_type: str
        caption: str

        def record(self, de_an: Any) -> None:
            report = next(r for r in reversed(de_an.progress) if r["month"] == self.month)
            report["photos"] = [
                *report.get("photos", []),
                {
                    "sha256": self.sha256,
                    "size_bytes": self.size_bytes,
                    "media_type": self.media_type,
                    "caption": self.caption,
                },
            ]

    class AdvanceRecorded(Event):
        amount_vnd: int
        paid_on: date
        rule_versions: list[str]
        action = "tam_ung"

        def record(self, de_an: Any) -> None:
            de_an.advances.append(
                {"amount_vnd": self.amount_vnd, "paid_on": self.paid_on, "rule_versions": self.rule_versions}
            )

    class AdjustmentRequested(Event):
        change_type: str
        description: str
        changes: dict[str, Any]
        authority: str
        requested_on: date
        rule_versions: list[str]
        action = "de_nghi_dieu_chinh"

        def record(self, de_an: Any) -> None:
            de_an.pending_adjustment = {
                "change_type": self.change_type,
                "description": self.description,
                "changes": self.changes,
                "authority": self.authority,
                "requested_on": self.requested_on,
                "rule_versions": self.rule_versions,
            }

    class AdjustmentDecided(Event):
        """An approved change takes effect as its request described it (a stop stops the đề án)."""

        approved: bool
        authority: str
        decision_number: str
        decided_on: date
        rule_versions: list[str]
        action = "quyet_dinh_dieu_chinh"

        def record(self, de_an: Any) -> None:
            pending = de_an.pending_adjustment or {}
            de_an.adjustments.append(
                pending
                | {
                    "approved": self.approved,
                    "decision_number": self.decision_number,
                    "decided_on": self.decided_on,
                    "decided_by": self.authority,
                }
            )
            de_an.pending_adjustment = None
            if self.approved:
                de_an.adjusted(pending["change_type"], pending["changes"])

    class Completed(Event):
        completed_on: date
        action = "hoan_thanh"

        def record(self, de_an: Any) -> None:
            de_an.completed_on = self.completed_on

    class Accepted(Event):
        accepted_on: date
        outputs: dict[str, int]
        report: str
        rule_versions: list[str]  # the result catalogue applied (absent from older events)
        accepted_support_vnd: int | None  # what the accepted work is worth (None: stored before it was said)
        action = "nghiem_thu"
        class_version = 3

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["accepted_support_vnd"] = None  # accepted before the worth was recorded: the contract's
            state.setdefault("rule_versions", [])  # accepted before the result catalogue was recorded

        def record(self, de_an: Any) -> None:
            de_an.acceptance = {"accepted_on": self.accepted_on, "outputs": self.outputs, "report": self.report}
            if self.accepted_support_vnd is not None:  # an older acceptance: worth the contract, said nowhere
                de_an.acceptance["accepted_support_vnd"] = self.accepted_support_vnd

    class Settled(Event):
        settled_on: date
        dossier_on: date
        settled_support_vnd: int
        rule_versions: list[str]
        action = "quyet_toan"

        def record(self, de_an: Any) -> None:
            de_an.settlement = {
                "settled_on": self.settled_on,
                "dossier_on": self.dossier_on,
                "settled_support_vnd": self.settled_support_vnd,
            }

    class Closed(Event):
        closed_on: date
        action = "dong"
