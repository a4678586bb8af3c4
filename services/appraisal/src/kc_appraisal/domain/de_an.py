"""Đề án khuyến công: one event stream per đề án, from draft to settlement (DOMAIN §7).

The lifecycle is an explicit table: each action lists the states it is allowed in; any other
action is refused with the list of what *is* allowed. Public command methods check and compute
(deadlines, ceilings, advances, authority — each with the rule version applied); the ``@event``
methods only assign.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from kc_contracts.money import vnd
from kc_contracts.vocabulary import label

from kc_appraisal.domain.errors import (
    AppraisalError,
    AuthorityError,
    BeneficiaryError,
    BudgetError,
    NotAllowedInStateError,
    OverCeilingError,
)
from kc_appraisal.domain.rules import (
    CalendarLookup,
    Rulebook,
    advance_limit,
    allowed_support,
    calendar_for,
    check_ceiling,
    check_deadline,
    evaluate_priority,
    required_authority,
    settlement_deadlines,
)

BeneficiaryLookup = Callable[[UUID], dict[str, Any] | None]


class Level(StrEnum):
    national = "quoc_gia"
    local = "dia_phuong"


class DeAnType(StrEnum):
    flagship = "kcqg_diem"  # đề án điểm: ≥ 2 linked contents, large, multi-year
    group = "kcqg_nhom"  # theo nhóm: beneficiaries fixed after approval by the Sở
    named = "kcqg_thu_huong"  # for a named beneficiary
    local = "kcdp"
    task = "nhiem_vu"


class Status(StrEnum):
    draft = "du_thao"
    submitted = "da_nop"
    base_rejected = "khong_dat_co_so"
    base_passed = "dat_co_so"
    forwarded = "da_gui_bo"
    ministry_rejected = "khong_dat_cap_bo"
    ministry_passed = "dat_cap_bo"
    proposed = "de_xuat"
    not_funded = "khong_bo_tri"
    approved = "da_phe_duyet"
    contracted = "da_ky_hop_dong"
    stopped = "dung_thuc_hien"
    completed = "hoan_thanh"
    accepted = "da_nghiem_thu"
    settled = "da_quyet_toan"
    closed = "da_dong"


class Conclusion(StrEnum):
    agree = "dong_y"
    agree_with_changes = "dong_y_co_chinh_sua"
    reject = "khong_dong_y"


S = Status
# action -> (states it is allowed in, levels it applies to)
LIFECYCLE: dict[str, tuple[frozenset[Status], frozenset[Level]]] = {
    "sua_du_thao": (frozenset({S.draft}), frozenset(Level)),
    "gia_han_nop": (frozenset({S.draft}), frozenset(Level)),
    "nop": (frozenset({S.draft}), frozenset(Level)),
    "tra_lai": (frozenset({S.submitted, S.forwarded}), frozenset(Level)),
    "tham_dinh_co_so": (frozenset({S.submitted}), frozenset(Level)),
    "gui_bo": (frozenset({S.base_passed}), frozenset({Level.national})),
    "tham_dinh_cap_bo": (frozenset({S.forwarded}), frozenset({Level.national})),
    "de_xuat_ke_hoach": (frozenset({S.ministry_passed}), frozenset({Level.national})),
    "de_xuat_ke_hoach_dia_phuong": (frozenset({S.base_passed}), frozenset({Level.local})),
    "phe_duyet": (frozenset({S.proposed}), frozenset(Level)),
    "khong_bo_tri": (frozenset({S.proposed}), frozenset(Level)),
    "ky_hop_dong": (frozenset({S.approved}), frozenset(Level)),
    "bao_cao_tien_do": (frozenset({S.contracted}), frozenset(Level)),
    "tam_ung": (frozenset({S.contracted}), frozenset(Level)),
    "de_nghi_dieu_chinh": (frozenset({S.approved, S.contracted}), frozenset(Level)),
    "quyet_dinh_dieu_chinh": (frozenset({S.approved, S.contracted}), frozenset(Level)),
    "hoan_thanh": (frozenset({S.contracted}), frozenset(Level)),
    "nghiem_thu": (frozenset({S.completed, S.stopped}), frozenset(Level)),
    "quyet_toan": (frozenset({S.accepted}), frozenset(Level)),
    "dong": (frozenset({S.settled}), frozenset(Level)),
}
TERMINAL = {S.base_rejected, S.ministry_rejected, S.not_funded, S.closed}
MONEY_FIELDS = ("total_cost_vnd", "support_requested_vnd", "counterpart_vnd", "other_vnd")


def _text(value: Any, field: str, *, required: bool = True) -> str:
    text = unicodedata.normalize("NFC", " ".join(str(value or "").split()))
    if required and not text:
        raise AppraisalError(f"Thiếu {field} / {field} is required", field=field)
    return text


def _money(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BudgetError(f"{field} phải là số nguyên VND không âm / must be non-negative integer VND", field=field)
    return value


def check_budget_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    clean = []
    for i, line in enumerate(lines):
        where = f"budget_lines.{i}"
        item: dict[str, Any] = {
            "cost_item": _text(line.get("cost_item"), f"{where}.cost_item"),
            "support_item": _text(line.get("support_item") or "khac", f"{where}.support_item"),
            "content": str(line.get("content") or ""),
            **{m: _money(line.get(m, 0), f"{where}.{m}") for m in MONEY_FIELDS},
        }
        if item["support_requested_vnd"] + item["counterpart_vnd"] + item["other_vnd"] != item["total_cost_vnd"]:
            raise BudgetError(
                f"Dòng {i + 1}: hỗ trợ + đối ứng + nguồn khác phải bằng tổng chi phí / support + counterpart + other "
                "must equal the total cost",
                field=f"{where}.total_cost_vnd",
            )
        clean.append(item)
    return clean


def totals(lines: list[dict[str, Any]]) -> dict[str, int]:
    return {m: sum(int(line[m]) for line in lines) for m in MONEY_FIELDS}


class DeAn(Aggregate):
    """A đề án khuyến công and its whole history."""

    status_changed_at: datetime

    class Event(Aggregate.Event):
        def mutate(self, aggregate: Any) -> Any:
            before = getattr(aggregate, "status", None)
            aggregate = super().mutate(aggregate)
            if aggregate is not None and aggregate.status != before:
                aggregate.status_changed_at = self.timestamp  # when the status last changed (public lookup)
            return aggregate

    class Drafted(Aggregate.Created):
        details: dict[str, Any]
        actor: str
        correlation_id: str | None

    class Edited(Aggregate.Event):
        changes: dict[str, Any]
        actor: str
        correlation_id: str | None

    class SubmissionExtended(Aggregate.Event):
        decision_number: str
        decided_on: date
        new_deadline: date
        actor: str
        correlation_id: str | None

    class Submitted(Aggregate.Event):
        submitted_on: date
        deadline: date
        ceilings: list[dict[str, Any]]
        priority: dict[str, Any]
        rule_versions: list[str]
        actor: str
        correlation_id: str | None

    class Returned(Aggregate.Event):
        reason: str
        actor: str
        correlation_id: str | None

    class Appraised(Aggregate.Event):
        """Thẩm định: stage ``co_so`` (Sở) or ``cap_bo`` (ministry)."""

        stage: str
        mode: str
        members: list[dict[str, Any]]
        conclusion: str
        recommended_support_vnd: int
        appraised_on: date
        field_visit: dict[str, Any] | None
        notes: str
        rule_versions: list[str]
        actor: str
        correlation_id: str | None

    class Forwarded(Aggregate.Event):
        forwarded_on: date
        actor: str
        correlation_id: str | None

    class Proposed(Aggregate.Event):
        proposed_on: date
        rank: list[int]
        priority: dict[str, Any]
        rule_versions: list[str]
        actor: str
        correlation_id: str | None

    class Approved(Aggregate.Event):
        plan_id: str
        plan_decision: str
        batch: int
        decided_on: date
        approved_support_vnd: int
        actor: str
        correlation_id: str | None

    class NotFunded(Aggregate.Event):
        reason: str
        actor: str
        correlation_id: str | None

    class Contracted(Aggregate.Event):
        contract_number: str
        signed_on: date
        contracted_support_vnd: int
        actor: str
        correlation_id: str | None

    class ProgressReported(Aggregate.Event):
        month: str
        percent: int
        note: str
        actor: str
        correlation_id: str | None

    class AdvanceRecorded(Aggregate.Event):
        amount_vnd: int
        paid_on: date
        rule_versions: list[str]
        actor: str
        correlation_id: str | None

    class AdjustmentRequested(Aggregate.Event):
        change_type: str
        description: str
        changes: dict[str, Any]
        authority: str
        requested_on: date
        rule_versions: list[str]
        actor: str
        correlation_id: str | None

    class AdjustmentDecided(Aggregate.Event):
        approved: bool
        authority: str
        decision_number: str
        decided_on: date
        rule_versions: list[str]
        actor: str
        correlation_id: str | None

    class Completed(Aggregate.Event):
        completed_on: date
        actor: str
        correlation_id: str | None

    class Accepted(Aggregate.Event):
        accepted_on: date
        outputs: dict[str, int]
        report: str
        actor: str
        correlation_id: str | None

    class Settled(Aggregate.Event):
        settled_on: date
        dossier_on: date
        settled_support_vnd: int
        rule_versions: list[str]
        actor: str
        correlation_id: str | None

    class Closed(Aggregate.Event):
        closed_on: date
        actor: str
        correlation_id: str | None

    # -- the lifecycle table -----------------------------------------------------------------------
    def allowed_actions(self) -> list[str]:
        return [a for a, (states, levels) in LIFECYCLE.items() if self.status in states and self.level in levels]

    def _require(self, action: str) -> None:
        states, levels = LIFECYCLE[action]
        if self.status not in states or self.level not in levels:
            raise NotAllowedInStateError(action, self.status.value, self.allowed_actions())

    # -- drafting ---------------------------------------------------------------------------------
    @classmethod
    def draft(
        cls, details: dict[str, Any], *, rules: Rulebook, on: date, actor: str, correlation_id: str | None = None
    ) -> DeAn:
        return cls(details=cls.check_details(details, rules=rules, on=on), actor=actor, correlation_id=correlation_id)

    @staticmethod
    def check_details(details: dict[str, Any], *, rules: Rulebook, on: date) -> dict[str, Any]:
        d = dict(details)
        d["title"] = _text(d.get("title"), "title")
        d["code"] = _text(d.get("code"), "code")
        d["implementing_unit"] = _text(d.get("implementing_unit"), "implementing_unit")
        try:
            level, kind = Level(str(d.get("level"))), DeAnType(str(d.get("de_an_type")))
        except ValueError as exc:
            raise AppraisalError(
                f"Cấp chương trình hoặc loại đề án không hợp lệ / invalid level or type: {exc}", field="de_an_type"
            ) from None
        if (kind is DeAnType.local) != (level is Level.local) and kind is not DeAnType.task:
            raise AppraisalError(
                "Loại đề án không khớp cấp chương trình (KCĐP chỉ thuộc địa phương) / type and level do not match",
                field="de_an_type",
            )
        d["level"], d["de_an_type"] = level.value, kind.value
        if not isinstance(d.get("plan_year"), int) or not 2010 <= d["plan_year"] <= 2100:
            raise AppraisalError("Năm kế hoạch không hợp lệ / invalid plan year", field="plan_year")
        catalogue = rules.contents.on(on).params.items
        contents = [str(c) for c in d.get("activity_contents") or []]
        unknown = [c for c in contents if c not in catalogue]
        if not contents or unknown:
            raise AppraisalError(
                f"Nội dung hoạt động phải thuộc danh mục {rules.contents.reference(on)}: "
                f"{', '.join(unknown) or 'trống'} / activity contents must come from the catalogue",
                field="activity_contents",
            )
        if kind is DeAnType.flagship and len(set(contents)) < 2:
            raise AppraisalError(
                "Đề án điểm cần ít nhất 2 nội dung liên kết / a flagship needs ≥ 2 contents", field="activity_contents"
            )
        d["activity_contents"] = contents
        d["beneficiary_ids"] = [str(UUID(str(b))) for b in d.get("beneficiary_ids") or []]
        if kind is DeAnType.named and not d["beneficiary_ids"]:
            raise BeneficiaryError(
                "Đề án cho đơn vị thụ hưởng cụ thể cần ít nhất một cơ sở / a named-beneficiary "
                "đề án needs a beneficiary",
                field="beneficiary_ids",
            )
        d["budget_lines"] = check_budget_lines(list(d.get("budget_lines") or []))
        d["priority_areas"] = [str(a) for a in d.get("priority_areas") or []]
        d["expected_outputs"] = {str(k): int(v) for k, v in (d.get("expected_outputs") or {}).items()}
        return d

    @event(Drafted)
    def __init__(self, details: dict[str, Any], actor: str, correlation_id: str | None) -> None:
        self.details = dict(details)
        self.status = Status.draft
        self.extension: dict[str, Any] | None = None
        self.submission: dict[str, Any] | None = None
        self.appraisals: list[dict[str, Any]] = []
        self.rank: list[int] | None = None
        self.proposal_priority: dict[str, Any] | None = None
        self.approval: dict[str, Any] | None = None
        self.contract: dict[str, Any] | None = None
        self.progress: list[dict[str, Any]] = []
        self.advances: list[dict[str, Any]] = []
        self.adjustments: list[dict[str, Any]] = []
        self.pending_adjustment: dict[str, Any] | None = None
        self.extended_to_year: int | None = None
        self.completed_on: date | None = None
        self.acceptance: dict[str, Any] | None = None
        self.settlement: dict[str, Any] | None = None
        self.returns: list[str] = []

    @property
    def level(self) -> Level:
        return Level(self.details["level"])

    @property
    def budget(self) -> dict[str, int]:
        return totals(self.details["budget_lines"])

    def edit(
        self, changes: dict[str, Any], *, rules: Rulebook, on: date, actor: str, correlation_id: str | None = None
    ) -> None:
        self._require("sua_du_thao")
        merged = self.check_details(self.details | changes, rules=rules, on=on)
        diff = {k: v for k, v in merged.items() if self.details.get(k) != v}
        if diff:
            self._edited(changes=diff, actor=actor, correlation_id=correlation_id)

    @event(Edited)
    def _edited(self, changes: dict[str, Any], actor: str, correlation_id: str | None) -> None:
        self.details = self.details | changes

    def extend_submission(
        self,
        *,
        decision_number: str,
        decided_on: date,
        new_deadline: date,
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        self._require("gia_han_nop")
        self._submission_extended(
            decision_number=_text(decision_number, "decision_number"),
            decided_on=decided_on,
            new_deadline=new_deadline,
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(SubmissionExtended)
    def _submission_extended(
        self, decision_number: str, decided_on: date, new_deadline: date, actor: str, correlation_id: str | None
    ) -> None:
        self.extension = {"decision_number": decision_number, "decided_on": decided_on, "new_deadline": new_deadline}

    # -- submission -------------------------------------------------------------------------------
    def submit(
        self,
        *,
        submitted_on: date,
        rules: Rulebook,
        beneficiaries: BeneficiaryLookup,
        actor: str,
        correlation_id: str | None = None,
        calendars: CalendarLookup | None = None,
    ) -> None:
        self._require("nop")
        d = self.details
        if not d["budget_lines"]:
            raise BudgetError(
                "Đề án chưa có dòng dự toán kinh phí / the đề án has no budget lines", field="budget_lines"
            )
        calendar = calendar_for(rules, d["level"], d["province_code"], d["plan_year"], calendars)
        extended = self.extension["new_deadline"] if self.extension else None
        versions = [check_deadline(calendar, submitted_on, extended)]
        facts = self._check_beneficiaries(beneficiaries, submitted_on)
        priority = evaluate_priority(
            rules, on=submitted_on, areas=d["priority_areas"], beneficiary=facts[0] if facts else None
        )
        versions.append(priority.rule)
        ceilings = []
        for i, line in enumerate(d["budget_lines"]):
            check = allowed_support(
                rules,
                level=d["level"],
                province=d["province_code"],
                on=submitted_on,
                item=line["support_item"],
                total_cost_vnd=line["total_cost_vnd"],
                multiplier_pct=priority.multiplier_pct,
            )
            check_ceiling(check, line["support_requested_vnd"], f"budget_lines.{i}.support_requested_vnd")
            ceilings.append({"line": i, "item": check.item, "allowed_vnd": check.allowed_vnd, "rule": check.rule})
            versions.append(check.rule)
        self._submitted(
            submitted_on=submitted_on,
            deadline=extended or calendar.dossier_deadline,
            ceilings=ceilings,
            priority={
                "items": [i.__dict__ for i in priority.items],
                "area": priority.area,
                "sector": priority.sector,
                "multiplier_pct": priority.multiplier_pct,
                "rule": priority.rule,
                "rank": priority.rank(d["de_an_type"] == DeAnType.flagship),
            },
            rule_versions=sorted(set(versions)),
            actor=actor,
            correlation_id=correlation_id,
        )

    def _check_beneficiaries(self, lookup: BeneficiaryLookup, on: date) -> list[dict[str, Any]]:
        found = []
        for bid in self.details["beneficiary_ids"]:
            facts = lookup(UUID(bid))
            if facts is None:
                raise BeneficiaryError(
                    f"Cơ sở thụ hưởng {bid} chưa có trong sổ đăng ký / unknown beneficiary", field="beneficiary_ids"
                )
            verdict = next(
                (
                    p
                    for p in facts.get("eligibility") or []
                    if date.fromisoformat(p["start"]) <= on and (p["end"] is None or on <= date.fromisoformat(p["end"]))
                ),
                None,
            )
            if verdict is None or verdict["outcome"] != "dat":
                outcome = label("eligibility_outcome", verdict["outcome"]) if verdict else "chưa đánh giá"
                raise BeneficiaryError(
                    f"Cơ sở '{facts.get('name')}' không đủ điều kiện thụ hưởng ngày {on:%d/%m/%Y} ({outcome}; "
                    f"{', '.join(verdict['rules']) if verdict else 'no verdict'}) / ineligible beneficiary",
                    field="beneficiary_ids",
                )
            supported = {s["cost_item"].casefold() for s in facts.get("support") or []}
            for line in self.details["budget_lines"]:
                if line["cost_item"].casefold() in supported:
                    raise BeneficiaryError(
                        f"Cơ sở '{facts.get('name')}' đã được hỗ trợ hạng mục '{line['cost_item']}' từ nguồn nhà nước"
                        " / this cost item was already state-funded (no double funding)",
                        field="budget_lines",
                    )
            found.append(facts)
        return found

    @event(Submitted)
    def _submitted(
        self,
        submitted_on: date,
        deadline: date,
        ceilings: list[dict[str, Any]],
        priority: dict[str, Any],
        rule_versions: list[str],
        actor: str,
        correlation_id: str | None,
    ) -> None:
        self.status = Status.submitted
        self.submission = {
            "submitted_on": submitted_on,
            "deadline": deadline,
            "ceilings": ceilings,
            "priority": priority,
            "rule_versions": rule_versions,
        }

    def return_for_supplement(self, *, reason: str, actor: str, correlation_id: str | None = None) -> None:
        self._require("tra_lai")
        self._returned(reason=_text(reason, "reason"), actor=actor, correlation_id=correlation_id)

    @event(Returned)
    def _returned(self, reason: str, actor: str, correlation_id: str | None) -> None:
        self.status = Status.draft
        self.returns.append(reason)

    # -- appraisal --------------------------------------------------------------------------------
    def appraise(
        self,
        *,
        stage: str,
        mode: str,
        members: list[dict[str, Any]],
        conclusion: Conclusion,
        recommended_support_vnd: int,
        appraised_on: date,
        rules: Rulebook,
        field_visit: dict[str, Any] | None = None,
        notes: str = "",
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        self._require("tham_dinh_co_so" if stage == "co_so" else "tham_dinh_cap_bo")
        if mode not in ("hoi_dong", "can_bo"):
            raise AppraisalError(
                f"Hình thức thẩm định: «{label('appraisal_mode', 'hoi_dong')}» hoặc "
                f"«{label('appraisal_mode', 'can_bo')}»"
                " / mode must be hoi_dong (council) or can_bo (staff)",
                field="mode",
            )
        clean_members = self._check_council(mode, members, conclusion)
        requested = self.budget["support_requested_vnd"]
        _money(recommended_support_vnd, "recommended_support_vnd")
        if conclusion is not Conclusion.reject and recommended_support_vnd > requested:
            raise OverCeilingError(
                f"Kinh phí đề nghị {vnd(recommended_support_vnd)} vượt kinh phí xin hỗ trợ "
                f"{vnd(requested)} / recommended above requested",
                field="recommended_support_vnd",
            )
        allowed_total = (
            sum(
                c["allowed_vnd"] if c["allowed_vnd"] is not None else line["support_requested_vnd"]
                for c, line in zip(self.submission["ceilings"], self.details["budget_lines"], strict=True)
            )
            if self.submission
            else requested
        )
        if recommended_support_vnd > allowed_total:
            raise OverCeilingError(
                f"Kinh phí đề nghị vượt tổng mức tối đa {vnd(allowed_total)} / above the ceilings",
                field="recommended_support_vnd",
            )
        versions = sorted({c["rule"] for c in (self.submission or {}).get("ceilings", [])})
        self._appraised(
            stage=stage,
            mode=mode,
            members=clean_members,
            conclusion=conclusion.value,
            recommended_support_vnd=recommended_support_vnd if conclusion is not Conclusion.reject else 0,
            appraised_on=appraised_on,
            field_visit=field_visit,
            notes=_text(notes, "notes", required=False),
            rule_versions=versions,
            actor=actor,
            correlation_id=correlation_id,
        )

    @staticmethod
    def _check_council(mode: str, members: list[dict[str, Any]], conclusion: Conclusion) -> list[dict[str, Any]]:
        if mode == "can_bo":
            return []
        if len(members) < 3:
            raise AppraisalError(
                "Hội đồng thẩm định cần ít nhất 3 thành viên / a council needs ≥ 3 members", field="members"
            )
        clean = []
        for i, m in enumerate(members):
            name = _text(m.get("name"), f"members.{i}.name")
            if not m.get("declaration_signed"):
                raise AppraisalError(
                    f"Thành viên {name} chưa ký cam kết về xung đột lợi ích / conflict-of-interest "
                    "declaration not signed",
                    field=f"members.{i}.declaration_signed",
                )
            conflict = bool(m.get("conflict_declared"))
            opinion = m.get("opinion")
            if conflict and opinion:
                raise AppraisalError(
                    f"Thành viên {name} có xung đột lợi ích nên không cho ý kiến / a member with a "
                    "conflict of interest must not give an opinion",
                    field=f"members.{i}.opinion",
                )
            if not conflict:
                try:
                    opinion = Conclusion(str(opinion)).value
                except ValueError:
                    raise AppraisalError(
                        f"Ý kiến của {name}: "
                        + ", ".join(f"«{label('appraisal_conclusion', c)}»" for c in Conclusion)
                        + " / opinion required: dong_y, dong_y_co_chinh_sua or khong_dong_y",
                        field=f"members.{i}.opinion",
                    ) from None
            clean.append(
                {
                    "name": name,
                    "role": _text(m.get("role"), f"members.{i}.role", required=False),
                    "opinion": opinion,
                    "conflict_declared": conflict,
                    "declaration_signed": True,
                }
            )
        voting = [m for m in clean if m["opinion"]]
        if not voting:
            raise AppraisalError(
                "Không còn thành viên nào đủ điều kiện cho ý kiến / no member may vote", field="members"
            )
        return clean

    @event(Appraised)
    def _appraised(
        self,
        stage: str,
        mode: str,
        members: list[dict[str, Any]],
        conclusion: str,
        recommended_support_vnd: int,
        appraised_on: date,
        field_visit: dict[str, Any] | None,
        notes: str,
        rule_versions: list[str],
        actor: str,
        correlation_id: str | None,
    ) -> None:
        passed = conclusion != Conclusion.reject
        if stage == "co_so":
            self.status = Status.base_passed if passed else Status.base_rejected
        else:
            self.status = Status.ministry_passed if passed else Status.ministry_rejected
        self.appraisals.append(
            {
                "stage": stage,
                "mode": mode,
                "members": members,
                "conclusion": conclusion,
                "recommended_support_vnd": recommended_support_vnd,
                "appraised_on": appraised_on,
                "field_visit": field_visit,
                "notes": notes,
                "by": actor,
            }
        )

    @property
    def recommended_support_vnd(self) -> int:
        return int(self.appraisals[-1]["recommended_support_vnd"]) if self.appraisals else 0

    def forward_to_ministry(self, *, forwarded_on: date, actor: str, correlation_id: str | None = None) -> None:
        self._require("gui_bo")
        self._forwarded(forwarded_on=forwarded_on, actor=actor, correlation_id=correlation_id)

    @event(Forwarded)
    def _forwarded(self, forwarded_on: date, actor: str, correlation_id: str | None) -> None:
        self.status = Status.forwarded

    def propose(
        self,
        *,
        proposed_on: date,
        rules: Rulebook,
        beneficiaries: BeneficiaryLookup,
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        """Đề xuất vào kế hoạch: priority is judged again on this decision's date (a certificate must
        still be valid then)."""
        self._require("de_xuat_ke_hoach" if self.level is Level.national else "de_xuat_ke_hoach_dia_phuong")
        first = next((beneficiaries(UUID(b)) for b in self.details["beneficiary_ids"]), None)
        priority = evaluate_priority(rules, on=proposed_on, areas=self.details["priority_areas"], beneficiary=first)
        rank = priority.rank(self.details["de_an_type"] == DeAnType.flagship)
        self._proposed(
            proposed_on=proposed_on,
            rank=rank,
            priority={
                "items": [i.__dict__ for i in priority.items],
                "area": priority.area,
                "sector": priority.sector,
                "rule": priority.rule,
            },
            rule_versions=[priority.rule],
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(Proposed)
    def _proposed(
        self,
        proposed_on: date,
        rank: list[int],
        priority: dict[str, Any],
        rule_versions: list[str],
        actor: str,
        correlation_id: str | None,
    ) -> None:
        self.status = Status.proposed
        self.rank = rank
        self.proposal_priority = priority

    # -- the plan ---------------------------------------------------------------------------------
    def approve_in_plan(
        self,
        *,
        plan_id: str,
        plan_decision: str,
        batch: int,
        decided_on: date,
        approved_support_vnd: int,
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        self._require("phe_duyet")
        _money(approved_support_vnd, "approved_support_vnd")
        if approved_support_vnd > self.recommended_support_vnd:
            raise OverCeilingError(
                f"Kinh phí phê duyệt {vnd(approved_support_vnd)} vượt kinh phí thẩm định "
                f"{vnd(self.recommended_support_vnd)} / approved above the appraised amount",
                field="approved_support_vnd",
            )
        self._approved(
            plan_id=plan_id,
            plan_decision=_text(plan_decision, "plan_decision"),
            batch=batch,
            decided_on=decided_on,
            approved_support_vnd=approved_support_vnd,
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(Approved)
    def _approved(
        self,
        plan_id: str,
        plan_decision: str,
        batch: int,
        decided_on: date,
        approved_support_vnd: int,
        actor: str,
        correlation_id: str | None,
    ) -> None:
        self.status = Status.approved
        self.approval = {
            "plan_id": plan_id,
            "plan_decision": plan_decision,
            "batch": batch,
            "decided_on": decided_on,
            "approved_support_vnd": approved_support_vnd,
        }

    def mark_not_funded(self, *, reason: str, actor: str, correlation_id: str | None = None) -> None:
        self._require("khong_bo_tri")
        self._not_funded(reason=_text(reason, "reason"), actor=actor, correlation_id=correlation_id)

    @event(NotFunded)
    def _not_funded(self, reason: str, actor: str, correlation_id: str | None) -> None:
        self.status = Status.not_funded

    @property
    def approved_support_vnd(self) -> int:
        return int(self.approval["approved_support_vnd"]) if self.approval else 0

    # -- implementation ---------------------------------------------------------------------------
    def sign_contract(
        self,
        *,
        contract_number: str,
        signed_on: date,
        contracted_support_vnd: int,
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        self._require("ky_hop_dong")
        _money(contracted_support_vnd, "contracted_support_vnd")
        if contracted_support_vnd > self.approved_support_vnd:
            raise OverCeilingError(
                "Kinh phí hợp đồng vượt kinh phí được phê duyệt / contract above the approved support",
                field="contracted_support_vnd",
            )
        self._contracted(
            contract_number=_text(contract_number, "contract_number"),
            signed_on=signed_on,
            contracted_support_vnd=contracted_support_vnd,
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(Contracted)
    def _contracted(
        self, contract_number: str, signed_on: date, contracted_support_vnd: int, actor: str, correlation_id: str | None
    ) -> None:
        self.status = Status.contracted
        self.contract = {
            "contract_number": contract_number,
            "signed_on": signed_on,
            "contracted_support_vnd": contracted_support_vnd,
        }

    @property
    def contracted_support_vnd(self) -> int:
        return int(self.contract["contracted_support_vnd"]) if self.contract else 0

    @property
    def progress_pct(self) -> int:
        return int(self.progress[-1]["percent"]) if self.progress else 0

    def report_progress(
        self, *, month: str, percent: int, note: str = "", actor: str, correlation_id: str | None = None
    ) -> None:
        self._require("bao_cao_tien_do")
        if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit() or not 1 <= int(month[5:]) <= 12:
            raise AppraisalError("Tháng báo cáo dạng YYYY-MM / month must be YYYY-MM", field="month")
        if not isinstance(percent, int) or not self.progress_pct <= percent <= 100:
            raise AppraisalError(
                f"Tiến độ phải từ {self.progress_pct} đến 100% / progress must not go back", field="percent"
            )
        self._progress_reported(
            month=month,
            percent=percent,
            note=_text(note, "note", required=False),
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(ProgressReported)
    def _progress_reported(self, month: str, percent: int, note: str, actor: str, correlation_id: str | None) -> None:
        self.progress.append({"month": month, "percent": percent, "note": note})

    @property
    def advanced_vnd(self) -> int:
        return sum(int(a["amount_vnd"]) for a in self.advances)

    def record_advance(
        self, *, amount_vnd: int, paid_on: date, rules: Rulebook, actor: str, correlation_id: str | None = None
    ) -> None:
        self._require("tam_ung")
        if not isinstance(amount_vnd, int) or isinstance(amount_vnd, bool) or amount_vnd <= 0:
            raise BudgetError(
                "Số tiền tạm ứng phải là số nguyên VND dương / advance must be positive integer VND", field="amount_vnd"
            )
        items = [line["support_item"] for line in self.details["budget_lines"]]
        limit, group, ref = advance_limit(
            rules,
            on=paid_on,
            support_items=items,
            contracted_vnd=self.contracted_support_vnd,
            progress_pct=self.progress_pct,
        )
        if self.advanced_vnd + amount_vnd > limit:
            raise OverCeilingError(
                f"Tạm ứng vượt mức cho phép: tối đa {vnd(limit)} đồng (nhóm «{label('advance_group', group)}», "
                f"tiến độ {self.progress_pct}%, "
                f"đã tạm ứng {vnd(self.advanced_vnd)}; {ref}) / advance above the allowed share",
                field="amount_vnd",
            )
        self._advance_recorded(
            amount_vnd=amount_vnd, paid_on=paid_on, rule_versions=[ref], actor=actor, correlation_id=correlation_id
        )

    @event(AdvanceRecorded)
    def _advance_recorded(
        self, amount_vnd: int, paid_on: date, rule_versions: list[str], actor: str, correlation_id: str | None
    ) -> None:
        self.advances.append({"amount_vnd": amount_vnd, "paid_on": paid_on, "rule_versions": rule_versions})

    # -- adjustments ------------------------------------------------------------------------------
    def request_adjustment(
        self,
        *,
        change_type: str,
        description: str,
        changes: dict[str, Any],
        requested_on: date,
        rules: Rulebook,
        actor: str,
        correlation_id: str | None = None,
    ) -> str:
        self._require("de_nghi_dieu_chinh")
        if self.pending_adjustment is not None:
            raise AppraisalError(
                "Đang có đề nghị điều chỉnh chờ quyết định / an adjustment is already pending", field="change_type"
            )
        current = self.approved_support_vnd
        new_support = changes.get("support_vnd")
        if change_type in ("tang_kinh_phi", "giam_kinh_phi"):
            new_amount = _money(new_support, "changes.support_vnd")
            if (change_type == "tang_kinh_phi") != (new_amount > current):
                raise AppraisalError(
                    f"Kinh phí mới {vnd(new_amount)} đồng không phù hợp loại điều chỉnh "
                    f"«{label('change_type', change_type)}» "
                    "/ the new amount does not match the change type",
                    field="changes.support_vnd",
                )
        authority, ref = required_authority(
            rules,
            on=requested_on,
            level=self.details["level"],
            group=self.details["de_an_type"] == DeAnType.group,
            change_type=change_type,
        )
        self._adjustment_requested(
            change_type=change_type,
            description=_text(description, "description"),
            changes=changes,
            authority=authority,
            requested_on=requested_on,
            rule_versions=[ref],
            actor=actor,
            correlation_id=correlation_id,
        )
        return authority

    @event(AdjustmentRequested)
    def _adjustment_requested(
        self,
        change_type: str,
        description: str,
        changes: dict[str, Any],
        authority: str,
        requested_on: date,
        rule_versions: list[str],
        actor: str,
        correlation_id: str | None,
    ) -> None:
        self.pending_adjustment = {
            "change_type": change_type,
            "description": description,
            "changes": changes,
            "authority": authority,
            "requested_on": requested_on,
            "rule_versions": rule_versions,
        }

    def decide_adjustment(
        self,
        *,
        approved: bool,
        authority: str,
        decision_number: str,
        decided_on: date,
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        self._require("quyet_dinh_dieu_chinh")
        pending = self.pending_adjustment
        if pending is None:
            raise AppraisalError(
                "Không có đề nghị điều chỉnh nào đang chờ / no pending adjustment", field="decision_number"
            )
        if authority != pending["authority"]:
            raise AuthorityError(
                f"Điều chỉnh «{label('change_type', pending['change_type'])}» thuộc thẩm quyền "
                f"«{label('authority', pending['authority'])}», không phải «{label('authority', authority)}» "
                f"({', '.join(pending['rule_versions'])}) / wrong authority: {pending['authority']}, not {authority}",
                field="authority",
                code="wrong_authority",
                required_authority=pending["authority"],
            )
        self._adjustment_decided(
            approved=approved,
            authority=authority,
            decision_number=_text(decision_number, "decision_number"),
            decided_on=decided_on,
            rule_versions=pending["rule_versions"],
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(AdjustmentDecided)
    def _adjustment_decided(
        self,
        approved: bool,
        authority: str,
        decision_number: str,
        decided_on: date,
        rule_versions: list[str],
        actor: str,
        correlation_id: str | None,
    ) -> None:
        pending = self.pending_adjustment or {}
        self.adjustments.append(
            pending
            | {
                "approved": approved,
                "decision_number": decision_number,
                "decided_on": decided_on,
                "decided_by": authority,
            }
        )
        self.pending_adjustment = None
        if not approved:
            return
        change, changes = pending["change_type"], pending["changes"]
        if change in ("tang_kinh_phi", "giam_kinh_phi") and self.approval:
            self.approval = self.approval | {"approved_support_vnd": int(changes["support_vnd"])}
            if self.contract:
                self.contract = self.contract | {"contracted_support_vnd": int(changes["support_vnd"])}
        elif change == "gia_han_sang_nam_sau":
            self.extended_to_year = int(self.details["plan_year"]) + 1
        elif change == "ngung_thuc_hien":
            self.status = Status.stopped
        elif change == "thay_doi_dia_diem" and changes.get("commune_code"):
            self.details = self.details | {"commune_code": changes["commune_code"]}
        elif change == "thay_doi_don_vi_thu_huong" and changes.get("beneficiary_ids"):
            self.details = self.details | {"beneficiary_ids": list(changes["beneficiary_ids"])}

    # -- completion, acceptance, settlement --------------------------------------------------------
    def complete(self, *, completed_on: date, actor: str, correlation_id: str | None = None) -> None:
        self._require("hoan_thanh")
        self._completed(completed_on=completed_on, actor=actor, correlation_id=correlation_id)

    @event(Completed)
    def _completed(self, completed_on: date, actor: str, correlation_id: str | None) -> None:
        self.status = Status.completed
        self.completed_on = completed_on

    def accept(
        self,
        *,
        accepted_on: date,
        outputs: dict[str, int],
        report: str = "",
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        self._require("nghiem_thu")
        clean = {}
        for key, value in outputs.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise AppraisalError(
                    f"Kết quả '{key}' phải là số nguyên không âm / outputs are counts", field=f"outputs.{key}"
                )
            clean[str(key)] = value
        self._accepted(
            accepted_on=accepted_on,
            outputs=clean,
            report=_text(report, "report", required=False),
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(Accepted)
    def _accepted(
        self, accepted_on: date, outputs: dict[str, int], report: str, actor: str, correlation_id: str | None
    ) -> None:
        self.status = Status.accepted
        self.acceptance = {"accepted_on": accepted_on, "outputs": outputs, "report": report}

    def settle(
        self,
        *,
        settled_on: date,
        dossier_on: date,
        settled_support_vnd: int,
        rules: Rulebook,
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        self._require("quyet_toan")
        assert self.acceptance is not None
        _money(settled_support_vnd, "settled_support_vnd")
        if settled_support_vnd > self.contracted_support_vnd:
            raise OverCeilingError(
                "Quyết toán vượt kinh phí hợp đồng / settlement above the contract", field="settled_support_vnd"
            )
        dossier_by, final_by, ref = settlement_deadlines(
            rules,
            accepted_on=self.acceptance["accepted_on"],
            final_year=self.extended_to_year or int(self.details["plan_year"]),
        )
        if dossier_on > dossier_by:
            raise AppraisalError(
                f"Hồ sơ quyết toán phải nộp trước {dossier_by:%d/%m/%Y} (15 ngày sau nghiệm thu; {ref})"
                " / settlement dossier too late",
                field="dossier_on",
            )
        if settled_on > final_by:
            raise AppraisalError(
                f"Quyết toán phải xong trước {final_by:%d/%m/%Y} ({ref}) / settlement too late", field="settled_on"
            )
        self._settled(
            settled_on=settled_on,
            dossier_on=dossier_on,
            settled_support_vnd=settled_support_vnd,
            rule_versions=[ref],
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(Settled)
    def _settled(
        self,
        settled_on: date,
        dossier_on: date,
        settled_support_vnd: int,
        rule_versions: list[str],
        actor: str,
        correlation_id: str | None,
    ) -> None:
        self.status = Status.settled
        self.settlement = {
            "settled_on": settled_on,
            "dossier_on": dossier_on,
            "settled_support_vnd": settled_support_vnd,
        }

    def close(self, *, closed_on: date, actor: str, correlation_id: str | None = None) -> None:
        self._require("dong")
        self._closed(closed_on=closed_on, actor=actor, correlation_id=correlation_id)

    @event(Closed)
    def _closed(self, closed_on: date, actor: str, correlation_id: str | None) -> None:
        self.status = Status.closed

    # -- reading ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything the đề án is, serialisable: used by the API and to prove replays are exact."""
        return {
            "id": str(self.id),
            "version": self.version,
            "status": self.status.value,
            "status_changed_at": self.status_changed_at,
            "details": self.details,
            "budget": self.budget,
            "extension": self.extension,
            "submission": self.submission,
            "appraisals": self.appraisals,
            "rank": self.rank,
            "proposal_priority": self.proposal_priority,
            "approval": self.approval,
            "contract": self.contract,
            "progress": self.progress,
            "advances": self.advances,
            "advanced_vnd": self.advanced_vnd,
            "adjustments": self.adjustments,
            "pending_adjustment": self.pending_adjustment,
            "extended_to_year": self.extended_to_year,
            "completed_on": self.completed_on,
            "acceptance": self.acceptance,
            "settlement": self.settlement,
            "returns": self.returns,
            "allowed_actions": self.allowed_actions(),
        }
