"""The đề án aggregate: one event stream per đề án, from draft to settlement (DOMAIN §7).

Public command methods check and compute (deadlines, ceilings, advances, authority — each with the
rule version applied) and trigger one event (``events``); an event's ``apply`` only assigns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from kc_kernel.money import above_appraisal, vnd
from kc_kernel.periods import check_month
from kc_kernel.vocabulary import label

from kc_appraisal.domain.beneficiary import BeneficiaryLookup, check_beneficiaries, check_no_double_funding
from kc_appraisal.domain.de_an.budget import totals
from kc_appraisal.domain.de_an.council import (
    AppraisalMode,
    Member,
    MinutesLookup,
    appraisal_mode,
    check_council,
    council_from_minutes,
)
from kc_appraisal.domain.de_an.details import check_details
from kc_appraisal.domain.de_an.events import DeAnEvents
from kc_appraisal.domain.de_an.files import DeAnFiles
from kc_appraisal.domain.de_an.lifecycle import (
    LIFECYCLE,
    MINISTRY,
    MINISTRY_AUTHORITIES,
    MINISTRY_DECIDES,
    Conclusion,
    DeAnType,
    Level,
    Status,
    allowed_actions,
)
from kc_appraisal.domain.de_an.values import By, money, text
from kc_appraisal.domain.errors import (
    AppraisalError,
    AuthorityError,
    BudgetError,
    NotAllowedInStateError,
    NotTheAuthorityError,
    OverCeilingError,
)
from kc_appraisal.domain.rules import (
    CalendarLookup,
    ExtensionLookup,
    Rulebook,
    advance_limit,
    allowed_total,
    calendar_for,
    check_ceilings,
    check_deadline,
    check_decider,
    check_results,
    check_settlement_dates,
    evaluate_priority,
    required_authority,
)


class DeAn(DeAnEvents, DeAnFiles, Aggregate):
    """A đề án khuyến công and its whole history (its events: ``events.DeAnEvents``)."""

    status: Status
    status_changed_at: datetime

    # -- state -------------------------------------------------------------------------------------
    def __init__(self, details: dict[str, Any]) -> None:
        """The state after ``Drafted`` (its decision fields are history, not state)."""
        self.details = dict(details)
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
        self.documents: dict[str, dict[str, Any]] = {}  # sha256 -> what the file is (bytes kept aside)

    @property
    def level(self) -> Level:
        return Level(self.details["level"])

    @property
    def budget(self) -> dict[str, int]:
        return totals(self.details["budget_lines"])

    @property
    def recommended_support_vnd(self) -> int:
        return int(self.appraisals[-1]["recommended_support_vnd"]) if self.appraisals else 0

    @property
    def approved_support_vnd(self) -> int:
        return int(self.approval["approved_support_vnd"]) if self.approval else 0

    @property
    def contracted_support_vnd(self) -> int:
        return int(self.contract["contracted_support_vnd"]) if self.contract else 0

    @property
    def progress_pct(self) -> int:
        return int(self.progress[-1]["percent"]) if self.progress else 0

    @property
    def advanced_vnd(self) -> int:
        return sum(int(a["amount_vnd"]) for a in self.advances)

    def allowed_actions(self) -> list[str]:
        return allowed_actions(self.status, self.level)

    def _require(self, action: str) -> None:
        states, levels = LIFECYCLE[action]
        if self.status not in states or self.level not in levels:
            raise NotAllowedInStateError(action, self.status.value, self.allowed_actions())

    def ministry_actions(self) -> list[str]:
        """What of the allowed actions the ministry records on its own instance (a national đề án's
        ministry appraisal, contract and settlement; an adjustment of the Minister or the Cục)."""
        national = self.level is Level.national
        out = [a for a in self.allowed_actions() if national and a in MINISTRY_DECIDES]
        pending = self.pending_adjustment
        if (
            pending
            and pending["authority"] in MINISTRY_AUTHORITIES
            and "quyet_dinh_dieu_chinh" in self.allowed_actions()
        ):
            out.append("quyet_dinh_dieu_chinh")
        return out

    def _decided_by_ministry(self, action: str, by: By) -> None:
        """On a national đề án the ministry decides ``action`` on its own instance; the province applies
        its decision from the bus. Recorded anywhere else, it is refused naming who decides."""
        if self.level is not Level.national or action not in MINISTRY_DECIDES or by.instance == MINISTRY:
            return
        authority = MINISTRY_DECIDES[action]
        raise NotTheAuthorityError(
            f"Đề án khuyến công quốc gia: «{label('de_an_action', action)}» do «{label('authority', authority)}» "
            "quyết định và ghi trên hệ thống của Bộ Công Thương; tỉnh nhận kết quả qua sự kiện"
            f" / on a national đề án, '{action}' is recorded by the ministry ({authority}) on its own instance",
            field="status",
            code="ministry_decides",
            action=action,
            required_authority=authority,
        )

    def adjusted(self, change: str, changes: dict[str, Any]) -> None:
        """An approved adjustment's effect (TT 36/2013 Art. 11 change types)."""
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

    # -- drafting ---------------------------------------------------------------------------------
    @classmethod
    def draft(cls, details: dict[str, Any], *, rules: Rulebook, on: date, by: By) -> DeAn:
        return cls._create(cls.Drafted, details=check_details(details, rules=rules, on=on), **by.fields)

    def edit(self, changes: dict[str, Any], *, rules: Rulebook, on: date, by: By) -> None:
        self._require("sua_du_thao")
        merged = check_details(self.details | changes, rules=rules, on=on)
        diff = {k: v for k, v in merged.items() if self.details.get(k) != v}
        if diff:
            self.trigger_event(self.Edited, changes=diff, **by.fields)

    def extend_submission(self, *, decision_number: str, decided_on: date, new_deadline: date, by: By) -> None:
        self._require("gia_han_nop")
        self.trigger_event(
            self.SubmissionExtended,
            decision_number=text(decision_number, "decision_number"),
            decided_on=decided_on,
            new_deadline=new_deadline,
            **by.fields,
        )

    # -- submission -------------------------------------------------------------------------------
    def submit(
        self,
        *,
        submitted_on: date,
        rules: Rulebook,
        beneficiaries: BeneficiaryLookup,
        by: By,
        calendars: CalendarLookup | None = None,
        extensions: ExtensionLookup | None = None,
    ) -> None:
        self._require("nop")
        d = self.details
        if not d["budget_lines"]:
            raise BudgetError(
                "Đề án chưa có dòng dự toán kinh phí / the đề án has no budget lines", field="budget_lines"
            )
        calendar = calendar_for(rules, d["level"], d["province_code"], d["plan_year"], calendars)
        extended = self.extension["new_deadline"] if self.extension else None
        if extended is None and extensions is not None:  # decided by the authority that set the deadline
            extended = extensions(d["level"], d["province_code"], d["plan_year"], d.get("implementing_unit") or "")
        versions = [check_deadline(calendar, submitted_on, extended)]
        cost_items = [line["cost_item"] for line in d["budget_lines"]]
        facts = check_beneficiaries(beneficiaries, d["beneficiary_ids"], cost_items, submitted_on)
        priority = evaluate_priority(rules, on=submitted_on, beneficiaries=facts)
        versions.append(priority.rule)
        checks = check_ceilings(
            rules,
            level=d["level"],
            province=d["province_code"],
            on=submitted_on,
            lines=d["budget_lines"],
            beneficiaries=d["beneficiary_ids"],
            priority_multiplier_pct=priority.multiplier_pct,
        )
        ceilings = sorted((r for check in checks for r in check.records()), key=lambda r: r["line"])
        versions += [check.rule for check in checks]
        self.trigger_event(
            self.Submitted,
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
            **by.fields,
        )

    def return_for_supplement(self, *, reason: str, by: By) -> None:
        self._require("tra_lai")
        self.trigger_event(self.Returned, reason=text(reason, "reason"), **by.fields)

    # -- appraisal --------------------------------------------------------------------------------
    def record_base_appraisal(
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
        """Thẩm định cấp cơ sở (the Sở)."""
        minutes = self._minutes(council_id, councils, "co_so")
        self._appraise(self.BaseAppraisalRecorded, mode, members, conclusion, recommended_support_vnd,
                       appraised_on, field_visit, notes, by, minutes)  # fmt: skip

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
        """Thẩm định cấp Bộ (national đề án, after forwarding)."""
        minutes = self._minutes(council_id, councils, "cap_bo")
        self._appraise(self.MinistryAppraisalRecorded, mode, members, conclusion, recommended_support_vnd,
                       appraised_on, field_visit, notes, by, minutes)  # fmt: skip

    def _appraise(
        self,
        event: type[DeAnEvents.AppraisalRecorded],
        mode: AppraisalMode | str,
        members: Sequence[Member],
        conclusion: Conclusion,
        recommended_vnd: int,
        appraised_on: date,
        field_visit: dict[str, Any] | None,
        notes: str,
        by: By,
        minutes: dict[str, Any] | None = None,
    ) -> None:
        self._require(str(event.action))
        self._decided_by_ministry(str(event.action), by)
        conclusion = Conclusion(conclusion)
        if minutes is None:
            council = check_council(appraisal_mode(mode), members)
        else:  # the council's own record: its members as the minutes list them, its computed result
            if appraisal_mode(mode) is not AppraisalMode.council:
                raise AppraisalError(
                    "Thẩm định theo biên bản hội đồng là thẩm định bằng hội đồng (hoi_dong) / minutes mean a council",
                    field="mode",
                )
            council = council_from_minutes(minutes)
            if conclusion.value != minutes["result"]["conclusion"]:
                raise AppraisalError(
                    f"Kết luận phải theo biên bản {minutes['number']} của hội đồng: "
                    f"«{label('appraisal_conclusion', minutes['result']['conclusion'])}» / the conclusion is the "
                    "council's, as its minutes record it",
                    field="conclusion",
                )
        requested = self.budget["support_requested_vnd"]
        money(recommended_vnd, "recommended_support_vnd")
        if conclusion is not Conclusion.reject and recommended_vnd > requested:
            raise OverCeilingError(
                f"Kinh phí đề nghị {vnd(recommended_vnd)} vượt kinh phí xin hỗ trợ {vnd(requested)}"
                " / recommended above requested",
                field="recommended_support_vnd",
            )
        ceilings = (self.submission or {}).get("ceilings", [])
        allowed = allowed_total(ceilings, self.details["budget_lines"]) if self.submission else requested
        if recommended_vnd > allowed:
            raise OverCeilingError(
                f"Kinh phí đề nghị vượt tổng mức tối đa {vnd(allowed)} / above the ceilings",
                field="recommended_support_vnd",
            )
        self.trigger_event(
            event,
            mode=appraisal_mode(mode).value,
            members=council,
            conclusion=Conclusion(conclusion).value,
            recommended_support_vnd=recommended_vnd if conclusion is not Conclusion.reject else 0,
            appraised_on=appraised_on,
            field_visit=field_visit,
            notes=text(notes, "notes", required=False),
            rule_versions=sorted({c["rule"] for c in ceilings} | set((minutes or {}).get("rule_versions", []))),
            minutes={k: v for k, v in minutes.items() if k != "members"} if minutes else None,
            **by.fields,
        )

    def _minutes(self, council_id: str | None, councils: MinutesLookup | None, stage: str) -> dict[str, Any] | None:
        """The minutes of the council named for this đề án (None: no council named)."""
        if not council_id:
            return None
        found = councils(str(council_id), str(self.id)) if councils is not None else None
        if found is None:
            raise AppraisalError(
                "Hội đồng này chưa có biên bản thẩm định đề án này / the council has no minutes for this đề án",
                field="council_id",
            )
        if found["stage"] != stage:
            raise AppraisalError(
                f"Hội đồng thẩm định «{label('appraisal_stage', found['stage'])}», không phải "
                f"«{label('appraisal_stage', stage)}» / the council appraises at another level",
                field="council_id",
            )
        return found

    def forward(self, *, forwarded_on: date, by: By) -> None:
        """Gửi Bộ: a national đề án that passed the Sở's appraisal goes to the ministry."""
        self._require("gui_bo")
        self.trigger_event(self.Forwarded, forwarded_on=forwarded_on, **by.fields)

    def propose(self, *, proposed_on: date, rules: Rulebook, beneficiaries: BeneficiaryLookup, by: By) -> None:
        """Đề xuất vào kế hoạch: priority is judged again on this decision's date (a certificate must
        still be valid then)."""
        self._require("de_xuat_ke_hoach" if self.level is Level.national else "de_xuat_ke_hoach_dia_phuong")
        known = [beneficiaries(UUID(b)) for b in self.details["beneficiary_ids"]]
        cost_items = [line["cost_item"] for line in self.details["budget_lines"]]
        for facts in known:  # funded meanwhile (a settlement since the submission): not proposed for more
            if facts is not None:
                check_no_double_funding(facts, cost_items)
        priority = evaluate_priority(rules, on=proposed_on, beneficiaries=[f for f in known if f is not None])
        self.trigger_event(
            self.Proposed,
            proposed_on=proposed_on,
            rank=priority.rank(self.details["de_an_type"] == DeAnType.flagship),
            priority={
                "items": [i.__dict__ for i in priority.items],
                "area": priority.area,
                "sector": priority.sector,
                "rule": priority.rule,
            },
            rule_versions=[priority.rule],
            **by.fields,
        )

    # -- the plan ---------------------------------------------------------------------------------
    def approve_in_plan(
        self, *, plan_id: str, plan_decision: str, batch: int, decided_on: date, approved_support_vnd: int, by: By
    ) -> None:
        self._require("phe_duyet")
        money(approved_support_vnd, "approved_support_vnd")
        refusal = above_appraisal(approved_support_vnd, self.recommended_support_vnd)
        if refusal:
            raise OverCeilingError(refusal, field="approved_support_vnd")
        self.trigger_event(
            self.Approved,
            plan_id=plan_id,
            plan_decision=text(plan_decision, "plan_decision"),
            batch=batch,
            decided_on=decided_on,
            approved_support_vnd=approved_support_vnd,
            **by.fields,
        )

    def mark_not_funded(self, *, reason: str, by: By) -> None:
        self._require("khong_bo_tri")
        self.trigger_event(self.NotFunded, reason=text(reason, "reason"), **by.fields)

    # -- implementation ---------------------------------------------------------------------------
    def sign_contract(self, *, contract_number: str, signed_on: date, contracted_support_vnd: int, by: By) -> None:
        self._require("ky_hop_dong")
        self._decided_by_ministry("ky_hop_dong", by)
        money(contracted_support_vnd, "contracted_support_vnd")
        if contracted_support_vnd > self.approved_support_vnd:
            raise OverCeilingError(
                "Kinh phí hợp đồng vượt kinh phí được phê duyệt / contract above the approved support",
                field="contracted_support_vnd",
            )
        self.trigger_event(
            self.Contracted,
            contract_number=text(contract_number, "contract_number"),
            signed_on=signed_on,
            contracted_support_vnd=contracted_support_vnd,
            **by.fields,
        )

    def report_progress(self, *, month: str, percent: int, by: By, note: str = "") -> None:
        self._require("bao_cao_tien_do")
        try:
            check_month(month)
        except ValueError as exc:
            raise AppraisalError(str(exc), field="month") from None
        if not isinstance(percent, int) or not self.progress_pct <= percent <= 100:
            raise AppraisalError(
                f"Tiến độ phải từ {self.progress_pct} đến 100% / progress must not go back", field="percent"
            )
        self.trigger_event(
            self.ProgressReported, month=month, percent=percent, note=text(note, "note", required=False), **by.fields
        )

    def record_advance(self, *, amount_vnd: int, paid_on: date, rules: Rulebook, by: By) -> None:
        self._require("tam_ung")
        if not isinstance(amount_vnd, int) or isinstance(amount_vnd, bool) or amount_vnd <= 0:
            raise BudgetError(
                "Số tiền tạm ứng phải là số nguyên VND dương / advance must be positive integer VND", field="amount_vnd"
            )
        limit, group, ref = advance_limit(
            rules,
            on=paid_on,
            support_items=[line["support_item"] for line in self.details["budget_lines"]],
            contracted_vnd=self.contracted_support_vnd,
            progress_pct=self.progress_pct,
        )
        if self.advanced_vnd + amount_vnd > limit:
            raise OverCeilingError(
                f"Tạm ứng vượt mức cho phép: tối đa {vnd(limit)} đồng (nhóm «{label('advance_group', group)}», "
                f"tiến độ {self.progress_pct}%, đã tạm ứng {vnd(self.advanced_vnd)}; {ref})"
                " / advance above the allowed share",
                field="amount_vnd",
            )
        self.trigger_event(
            self.AdvanceRecorded, amount_vnd=amount_vnd, paid_on=paid_on, rule_versions=[ref], **by.fields
        )

    # -- adjustments ------------------------------------------------------------------------------
    def request_adjustment(
        self,
        *,
        change_type: str,
        description: str,
        changes: dict[str, Any],
        requested_on: date,
        rules: Rulebook,
        by: By,
    ) -> str:
        """Đề nghị điều chỉnh; returns the authority that must decide it (TT 36/2013 Art. 11)."""
        self._require("de_nghi_dieu_chinh")
        if self.pending_adjustment is not None:
            raise AppraisalError(
                "Đang có đề nghị điều chỉnh chờ quyết định / an adjustment is already pending", field="change_type"
            )
        if change_type in ("tang_kinh_phi", "giam_kinh_phi"):
            new_amount = money(changes.get("support_vnd"), "changes.support_vnd")
            if (change_type == "tang_kinh_phi") != (new_amount > self.approved_support_vnd):
                raise AppraisalError(
                    f"Kinh phí mới {vnd(new_amount)} đồng không phù hợp loại điều chỉnh "
                    f"«{label('change_type', change_type)}» / the new amount does not match the change type",
                    field="changes.support_vnd",
                )
            ceilings = (self.submission or {}).get("ceilings", [])
            allowed = allowed_total(ceilings, self.details["budget_lines"]) if self.submission else new_amount
            if new_amount > allowed:
                rules_applied = sorted({str(c["rule"]) for c in ceilings})
                raise OverCeilingError(
                    f"Kinh phí mới {vnd(new_amount)} đồng vượt tổng mức hỗ trợ tối đa {vnd(allowed)} đồng của đề án "
                    f"({', '.join(rules_applied)}): điều chỉnh tăng kinh phí không vượt mức trần / an increase "
                    "cannot exceed the ceilings",
                    field="changes.support_vnd",
                )
        authority, ref = required_authority(
            rules,
            on=requested_on,
            level=self.details["level"],
            group=self.details["de_an_type"] == DeAnType.group,
            change_type=change_type,
        )
        self.trigger_event(
            self.AdjustmentRequested,
            change_type=change_type,
            description=text(description, "description"),
            changes=changes,
            authority=authority,
            requested_on=requested_on,
            rule_versions=[ref],
            **by.fields,
        )
        return authority

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
        """Quyết định điều chỉnh, by whoever holds the authority the request needs (TT 36/2013 Art. 11):
        the role that decides it, on the instance where it is recorded (the Minister's and the Cục's on the
        ministry's, the Sở's and UBND tỉnh's on the province's). A typed ``authority`` must be that one."""
        self._require("quyet_dinh_dieu_chinh")
        pending = self.pending_adjustment
        if pending is None:
            raise AppraisalError(
                "Không có đề nghị điều chỉnh nào đang chờ / no pending adjustment", field="decision_number"
            )
        authority = authority or pending["authority"]
        if authority != pending["authority"]:
            raise AuthorityError(
                f"Điều chỉnh «{label('change_type', pending['change_type'])}» thuộc thẩm quyền "
                f"«{label('authority', pending['authority'])}», không phải «{label('authority', authority)}» "
                f"({', '.join(pending['rule_versions'])}) / wrong authority: {pending['authority']}, not {authority}",
                field="authority",
                code="wrong_authority",
                required_authority=pending["authority"],
            )
        check_decider(rules, on=decided_on, authority=authority, role=by.role, instance=by.instance or "")
        self.trigger_event(
            self.AdjustmentDecided,
            approved=approved,
            authority=authority,
            decision_number=text(decision_number, "decision_number"),
            decided_on=decided_on,
            rule_versions=pending["rule_versions"],
            **by.fields,
        )

    # -- completion, acceptance, settlement --------------------------------------------------------
    def complete(self, *, completed_on: date, by: By) -> None:
        self._require("hoan_thanh")
        self.trigger_event(self.Completed, completed_on=completed_on, **by.fields)

    def accept(
        self,
        *,
        accepted_on: date,
        outputs: dict[str, int],
        by: By,
        rules: Rulebook | None = None,
        report: str = "",
        accepted_support_vnd: int | None = None,
    ) -> None:
        """Nghiệm thu: the results typed per the đề án's activity contents (rule data); the establishments
        supported are its beneficiaries, not a typed number. And what the accepted work is worth in support
        (the contract's amount unless said; never above it — a stopped đề án accepts the volume done)."""
        self._require("nghiem_thu")
        if rules is None:
            raise AppraisalError("Thiếu quy định kết quả nghiệm thu / result rules missing", field="outputs")
        worth = self.contracted_support_vnd if accepted_support_vnd is None else accepted_support_vnd
        money(worth, "accepted_support_vnd")
        if worth > self.contracted_support_vnd:
            raise OverCeilingError(
                f"Giá trị nghiệm thu {vnd(worth)} đồng vượt kinh phí hợp đồng {vnd(self.contracted_support_vnd)} đồng"
                " / accepted above the contract",
                field="accepted_support_vnd",
            )
        clean, version = check_results(
            rules, on=accepted_on, contents=list(self.details["activity_contents"]), outputs=dict(outputs)
        )
        self.trigger_event(
            self.Accepted,
            accepted_on=accepted_on,
            outputs=clean,
            report=text(report, "report", required=False),
            rule_versions=[version] if version else [],
            accepted_support_vnd=worth,
            **by.fields,
        )

    def settle(self, *, settled_on: date, dossier_on: date, settled_support_vnd: int, rules: Rulebook, by: By) -> None:
        self._require("quyet_toan")
        self._decided_by_ministry("quyet_toan", by)
        if self.acceptance is None:  # the lifecycle allows settlement only after acceptance
            raise NotAllowedInStateError("quyet_toan", self.status.value, self.allowed_actions())
        money(settled_support_vnd, "settled_support_vnd")
        if settled_support_vnd > self.contracted_support_vnd:
            raise OverCeilingError(
                "Quyết toán vượt kinh phí hợp đồng / settlement above the contract", field="settled_support_vnd"
            )
        ref = check_settlement_dates(
            rules,
            accepted_on=self.acceptance["accepted_on"],
            final_year=self.extended_to_year or int(self.details["plan_year"]),
            dossier_on=dossier_on,
            settled_on=settled_on,
        )
        self.trigger_event(
            self.Settled,
            settled_on=settled_on,
            dossier_on=dossier_on,
            settled_support_vnd=settled_support_vnd,
            rule_versions=[ref],
            **by.fields,
        )

    def close(self, *, closed_on: date, by: By) -> None:
        self._require("dong")
        self.trigger_event(self.Closed, closed_on=closed_on, **by.fields)

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
            "documents": sorted(self.documents.values(), key=lambda d: d["filed_at"]),
            "allowed_actions": self.allowed_actions(),
        }
