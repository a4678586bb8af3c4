"""Hồ sơ đề án quốc gia tại Bộ: the ministry's record of a province's national đề án.

A national đề án lives in its province's instance (its stream, its lifecycle). The ministry decides
on its own instance: the Cục's appraisal (thẩm định cấp Bộ), the contract the Cục signs, the
adjustment decisions of the Minister or the Cục, the settlement (quyết toán). This record is where
those decisions are taken, keyed by (instance, đề án id): it learns the đề án from the province's
milestones on the bus (forwarded, approved, contracted, accepted …), checks a decision against what
the province last reported with the same lifecycle table and money rules the đề án applies, and
records it with who decided. The decision reaches the province as an event; the province applies it
to the đề án (its own command), and its milestone coming back confirms it (``awaiting`` until then).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate
from kc_kernel.money import vnd
from kc_kernel.vocabulary import label

from kc_appraisal.domain.de_an.council import (
    AppraisalMode,
    Member,
    MinutesLookup,
    appraisal_mode,
    check_council,
    council_from_minutes,
)
from kc_appraisal.domain.de_an.lifecycle import (
    LIFECYCLE,
    MINISTRY_AUTHORITIES,
    MINISTRY_DECIDES,
    Conclusion,
    Level,
    Status,
    leads_to,
)
from kc_appraisal.domain.de_an.values import By, money, text
from kc_appraisal.domain.errors import AppraisalError, NotAllowedInStateError, OverCeilingError
from kc_appraisal.domain.rules import Rulebook, check_decider, check_settlement_dates

_NAMESPACE = UUID("9c1f4a52-2d7e-4f0b-8a6e-5e0b3c7d9f14")
ADJUSTMENT = "quyet_dinh_dieu_chinh"
# the province's milestone that confirms the ministry's decision of each action
CONFIRMED_BY = {
    "ministry-appraised": "tham_dinh_cap_bo",
    "contracted": "ky_hop_dong",
    "adjustment-decided": ADJUSTMENT,
    "settled": "quyet_toan",
}


def record_id(instance: str, de_an_id: UUID | str) -> UUID:
    """The record's id: one per (instance, đề án id), never shared by two provinces."""
    return uuid5(_NAMESPACE, f"{instance}/{de_an_id}")


class AwaitingProvinceError(AppraisalError):
    """The province has not yet applied the ministry's previous decision on this đề án."""


class NationalDeAn(Aggregate):
    """The ministry's record of one province's national đề án and the ministry's decisions on it."""

    class Event(Aggregate.Event):
        """Who, in which conversation, because of which message (the province's, or the request's)."""

        actor: str
        correlation_id: str | None
        causation_id: str | None

    class Opened(Event, Aggregate.Created):
        instance: str
        de_an_id: str

    class Reported(Event):
        """A milestone of the province's đề án, as the province published it."""

        milestone: str
        status: str
        facts: dict[str, Any]
        reported_at: datetime

        def apply(self, record: Any) -> None:
            record.facts = record.facts | {k: v for k, v in self.facts.items() if v is not None}
            record.status = Status(self.status)
            if self.milestone == "adjustment-requested":
                record.pending_adjustment = {
                    k: self.facts.get(k) for k in ("change_type", "description", "changes", "authority", "requested_on")
                }
            elif self.milestone == "adjustment-decided":
                record.pending_adjustment = None
            if CONFIRMED_BY.get(self.milestone) == record.awaiting:
                record.awaiting = None
            record.reports.append(
                {"milestone": self.milestone, "status": self.status, "by": self.actor, "at": self.reported_at}
            )

    class Decided(Event):
        """A decision of the ministry on this đề án: the role that took it, the action it records."""

        role: str
        action: ClassVar[str]

        def decision(self) -> dict[str, Any]:
            skip = {"originator_id", "originator_version", "timestamp", "originator_topic", "correlation_id"}
            return {k: v for k, v in self.__dict__.items() if k not in skip}

        def leads_to(self) -> Status | None:
            return leads_to(self.action)

        def apply(self, record: Any) -> None:
            status = self.leads_to()
            if status is not None:
                record.status = status
            record.awaiting = self.action
            record.decisions.append({"action": self.action, "at": self.timestamp} | self.decision())

    class MinistryAppraisalRecorded(Decided):
        mode: str
        members: list[dict[str, Any]]
        conclusion: str
        recommended_support_vnd: int
        appraised_on: date
        field_visit: dict[str, Any] | None
        notes: str
        action = "tham_dinh_cap_bo"

        def leads_to(self) -> Status | None:
            return leads_to(self.action, rejected=self.conclusion == Conclusion.reject)

    class ContractSigned(Decided):
        contract_number: str
        signed_on: date
        contracted_support_vnd: int
        action = "ky_hop_dong"

    class AdjustmentDecided(Decided):
        authority: str
        change_type: str
        approved: bool
        decision_number: str
        decided_on: date
        rule_versions: list[str]
        action = ADJUSTMENT

        def leads_to(self) -> Status | None:
            stopped = self.approved and self.change_type == "ngung_thuc_hien"
            return Status.stopped if stopped else None

    class Settled(Decided):
        settled_on: date
        dossier_on: date
        settled_support_vnd: int
        rule_versions: list[str]
        action = "quyet_toan"

    @staticmethod
    def create_id(instance: str, de_an_id: str, **_: Any) -> UUID:
        return record_id(instance, de_an_id)

    # -- state ------------------------------------------------------------------------------------
    def __init__(self, instance: str, de_an_id: str, actor: str, correlation_id: str | None, causation_id: str | None):
        self.instance = instance
        self.de_an_id = UUID(de_an_id)
        self.facts: dict[str, Any] = {}
        self.status = Status.draft
        self.pending_adjustment: dict[str, Any] | None = None
        self.awaiting: str | None = None
        self.decisions: list[dict[str, Any]] = []
        self.reports: list[dict[str, Any]] = []

    @classmethod
    def open(cls, *, instance: str, de_an_id: UUID, by: By) -> NationalDeAn:
        return cls._create(cls.Opened, instance=instance, de_an_id=str(de_an_id), **by.fields)

    def _money(self, key: str) -> int:
        return int(self.facts.get(key) or 0)

    # -- what the province reports ----------------------------------------------------------------
    def report(self, *, milestone: str, status: str, facts: dict[str, Any], reported_at: datetime, by: By) -> None:
        """A milestone the province published about this đề án (the province's state wins)."""
        self.trigger_event(
            self.Reported, milestone=milestone, status=Status(status).value, facts=dict(facts),
            reported_at=reported_at, **by.fields,
        )  # fmt: skip

    # -- what the ministry may decide now ---------------------------------------------------------
    def ministry_actions(self) -> list[str]:
        """The ministry's decisions allowed now (none while the province has yet to apply the last one)."""
        if self.awaiting is not None or self.facts.get("level", Level.national.value) != Level.national.value:
            return []
        out = [a for a in MINISTRY_DECIDES if self.status in LIFECYCLE[a][0]]
        pending = self.pending_adjustment
        if pending and pending.get("authority") in MINISTRY_AUTHORITIES and self.status in LIFECYCLE[ADJUSTMENT][0]:
            out.append(ADJUSTMENT)
        return out

    def _require(self, action: str) -> None:
        if self.awaiting is not None:
            raise AwaitingProvinceError(
                f"Tỉnh chưa ghi nhận quyết định «{label('de_an_action', self.awaiting)}» trước đó; chờ sự kiện "
                f"từ tỉnh rồi làm tiếp / the province has not applied the previous decision yet",
                field="status",
                code="awaiting_province",
                action=action,
                awaiting=self.awaiting,
            )
        if action not in self.ministry_actions():
            raise NotAllowedInStateError(action, self.status.value, self.ministry_actions())

    # -- the ministry's decisions -----------------------------------------------------------------
    def record_ministry_appraisal(
        self,
        *,
        mode: AppraisalMode | str,
        members: Sequence[Member],
        conclusion: Conclusion,
        recommended_support_vnd: int,
        appraised_on: date,
        by: By,
        field_visit: dict[str, Any] | None = None,
        notes: str = "",
        council_id: str | None = None,
        councils: MinutesLookup | None = None,
    ) -> None:
        """Thẩm định cấp Bộ (the Cục): the amount recommended stays within what the province forwarded. A
        ministry council named by ``council_id`` gives its members and conclusion from its minutes."""
        self._require("tham_dinh_cap_bo")
        conclusion = Conclusion(conclusion)
        if council_id:
            minutes = councils(str(council_id), str(self.de_an_id)) if councils is not None else None
            if minutes is None or minutes.get("stage") != "cap_bo":
                raise AppraisalError(
                    "Hội đồng thẩm định cấp Bộ này chưa có biên bản thẩm định đề án này / the council has no "
                    "ministry-level minutes for this đề án",
                    field="council_id",
                )
            if conclusion.value != minutes["result"]["conclusion"]:
                raise AppraisalError(
                    f"Kết luận phải theo biên bản {minutes['number']} của hội đồng / the conclusion is the minutes'",
                    field="conclusion",
                )
            mode, council = AppraisalMode.council, council_from_minutes(minutes)
        else:
            council = check_council(appraisal_mode(mode), members)
        money(recommended_support_vnd, "recommended_support_vnd")
        requested = int((self.facts.get("budget") or {}).get("support_requested_vnd") or 0)
        if conclusion is not Conclusion.reject and recommended_support_vnd > requested:
            raise OverCeilingError(
                f"Kinh phí đề nghị {vnd(recommended_support_vnd)} vượt kinh phí xin hỗ trợ {vnd(requested)}"
                " / recommended above requested",
                field="recommended_support_vnd",
            )
        self.trigger_event(
            self.MinistryAppraisalRecorded,
            mode=appraisal_mode(mode).value,
            members=council,
            conclusion=conclusion.value,
            recommended_support_vnd=recommended_support_vnd if conclusion is not Conclusion.reject else 0,
            appraised_on=appraised_on,
            field_visit=field_visit,
            notes=text(notes, "notes", required=False),
            role=by.role or "",
            **by.fields,
        )

    def sign_contract(self, *, contract_number: str, signed_on: date, contracted_support_vnd: int, by: By) -> None:
        """Ký hợp đồng (the Cục with the implementing unit): never above the approved support."""
        self._require("ky_hop_dong")
        money(contracted_support_vnd, "contracted_support_vnd")
        approved = self._money("approved_support_vnd")
        if contracted_support_vnd > approved:
            raise OverCeilingError(
                f"Kinh phí hợp đồng {vnd(contracted_support_vnd)} đồng vượt kinh phí được phê duyệt {vnd(approved)}"
                " đồng / contract above the approved support",
                field="contracted_support_vnd",
            )
        self.trigger_event(
            self.ContractSigned,
            contract_number=text(contract_number, "contract_number"),
            signed_on=signed_on,
            contracted_support_vnd=contracted_support_vnd,
            role=by.role or "",
            **by.fields,
        )

    def decide_adjustment(
        self,
        *,
        approved: bool,
        decision_number: str,
        decided_on: date,
        rules: Rulebook,
        by: By,
        authority: str | None = None,
    ) -> None:
        """Quyết định điều chỉnh of the Minister (more money, new content, extension, stop) or of the
        Cục, each by the role that holds that authority (rules/adjustments.toml)."""
        self._require(ADJUSTMENT)
        pending = self.pending_adjustment or {}
        required = str(pending.get("authority"))
        if authority is not None and authority != required:
            raise AppraisalError(
                f"Điều chỉnh «{label('change_type', pending.get('change_type'))}» thuộc thẩm quyền "
                f"«{label('authority', required)}», không phải «{label('authority', authority)}»"
                f" / wrong authority: {required}, not {authority}",
                field="authority",
                code="wrong_authority",
                required_authority=required,
            )
        ref = check_decider(rules, on=decided_on, authority=required, role=by.role, instance=by.instance or "")
        self.trigger_event(
            self.AdjustmentDecided,
            authority=required,
            change_type=str(pending.get("change_type")),
            approved=bool(approved),
            decision_number=text(decision_number, "decision_number"),
            decided_on=decided_on,
            rule_versions=[ref],
            role=by.role or "",
            **by.fields,
        )

    def settle(self, *, settled_on: date, dossier_on: date, settled_support_vnd: int, rules: Rulebook, by: By) -> None:
        """Quyết toán (the Cục): within the contract, by the settlement rule's deadlines."""
        self._require("quyet_toan")
        money(settled_support_vnd, "settled_support_vnd")
        contracted = self._money("contracted_support_vnd")
        if settled_support_vnd > contracted:
            raise OverCeilingError(
                f"Quyết toán {vnd(settled_support_vnd)} đồng vượt kinh phí hợp đồng {vnd(contracted)} đồng"
                " / settlement above the contract",
                field="settled_support_vnd",
            )
        accepted_on = self.facts.get("accepted_on")
        if not isinstance(accepted_on, date):
            raise NotAllowedInStateError("quyet_toan", self.status.value, self.ministry_actions())
        final_year = int(self.facts.get("extended_to_year") or self.facts.get("plan_year") or accepted_on.year)
        ref = check_settlement_dates(
            rules, accepted_on=accepted_on, final_year=final_year, dossier_on=dossier_on, settled_on=settled_on
        )
        self.trigger_event(
            self.Settled,
            settled_on=settled_on,
            dossier_on=dossier_on,
            settled_support_vnd=settled_support_vnd,
            rule_versions=[ref],
            role=by.role or "",
            **by.fields,
        )

    # -- reading ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        pending = self.pending_adjustment
        return {
            "id": str(self.id),
            "version": self.version,
            "instance": self.instance,
            "de_an_id": str(self.de_an_id),
            "status": self.status.value,
            "facts": self.facts,
            "pending_adjustment": pending,
            "required_authority": (pending or {}).get("authority"),
            "awaiting": self.awaiting,
            "allowed_actions": self.ministry_actions(),
            "decisions": self.decisions,
            "reports": self.reports,
        }
