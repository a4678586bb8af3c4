"""The đề án aggregate: every transition allowed and refused; deadline, ceiling, advance, authority,
settlement rules with the rule versions they record."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest
from kc_appraisal.domain.de_an import LIFECYCLE, By, Conclusion, DeAn, Member, Status
from kc_appraisal.domain.errors import (
    AuthorityError,
    BeneficiaryError,
    BudgetError,
    DeadlineMissedError,
    NotAllowedInStateError,
    NotTheAuthorityError,
    OverCeilingError,
)
from kc_appraisal.projections.beneficiaries import to_facts
from kc_appraisal.rulebook import rulebook
from kc_kernel.vocabulary import label

RULES = rulebook()
CUC = By("Cán bộ Cục (cuc@bo)", role="cuc", instance="bo")  # the ministry decides on its own instance
# who holds each authority of TT 36/2013 Art. 11 (rules/adjustments.toml): a role on an instance
DECIDERS = {
    "bo_truong": By("Bộ trưởng (lanh_dao_bo@bo)", role="lanh_dao_bo", instance="bo"),
    "cuc": CUC,
    "so_cong_thuong": By("Sở (so_ct@tinh-31)", role="so_ct", instance="tinh-31"),
    "ubnd_tinh": By("UBND (ubnd_tinh@tinh-31)", role="ubnd_tinh", instance="tinh-31"),
}
BENEFICIARY = uuid4()
ELIGIBLE = [{"start": "2012-07-05", "end": None, "outcome": "dat", "rules": ["eligibility.location@ND45/2012"]}]


def facts(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Công ty TNHH Cơ khí Đúc Thành Phương",
        "eligibility": ELIGIBLE,
        "sectors": ["co_khi_che_tao"],
        "recognitions": [],
        "support": [],
    } | extra


def lookup(known: dict[UUID, dict[str, Any]] | None = None) -> Any:
    table = {BENEFICIARY: facts()} if known is None else known
    return lambda bid: to_facts(table[bid]) if bid in table else None


def council(members: list[dict[str, Any]]) -> list[Member]:
    return [Member(**m) for m in members]


def model_line(support: int = 800_000_000, total: int = 3_000_000_000) -> dict[str, Any]:
    return {
        "cost_item": "Dây chuyền đúc áp lực",
        "support_item": "mo_hinh_trinh_dien",
        "content": "3",
        "total_cost_vnd": total,
        "support_requested_vnd": support,
        "counterpart_vnd": total - support,
        "other_vnd": 0,
    }


def details(**overrides: Any) -> dict[str, Any]:
    return {
        "code": "KCĐP-31-2023-01",
        "title": "Mô hình trình diễn kỹ thuật sản xuất đúc kim loại",
        "level": "dia_phuong",
        "de_an_type": "kcdp",
        "plan_year": 2023,
        "province_code": "31",
        "implementing_unit": "Trung tâm Khuyến công Hải Phòng",
        "activity_contents": ["3"],
        "beneficiary_ids": [str(BENEFICIARY)],
        "budget_lines": [model_line()],
    } | overrides


def drafted(**overrides: Any) -> DeAn:
    return DeAn.draft(details(**overrides), rules=RULES, on=date(2022, 9, 1), by=By("trung-tam"))


def submitted(**overrides: Any) -> DeAn:
    d = drafted(**overrides)
    d.submit(submitted_on=date(2022, 9, 20), rules=RULES, beneficiaries=lookup(), by=By("trung-tam"))
    return d


COUNCIL = [
    {"name": n, "role": "ủy viên", "opinion": "dong_y", "declaration_signed": True} for n in ("Ông A", "Bà B", "Ông C")
]


def base_passed(**overrides: Any) -> DeAn:
    d = submitted(**overrides)
    d.record_base_appraisal(
        mode="hoi_dong",
        members=council(COUNCIL),
        conclusion=Conclusion.agree,
        recommended_support_vnd=800_000_000,
        appraised_on=date(2022, 11, 10),
        by=By("so-31"),
    )
    return d


def contracted(progress: int = 0) -> DeAn:
    d = base_passed()
    d.propose(proposed_on=date(2022, 11, 20), rules=RULES, beneficiaries=lookup(), by=By("so-31"))
    d.approve_in_plan(
        plan_id="p",
        plan_decision="123/QĐ-UBND",
        batch=1,
        decided_on=date(2022, 12, 20),
        approved_support_vnd=800_000_000,
        by=By("ubnd-31"),
    )
    d.sign_contract(
        contract_number="05/2023/HĐ-KC",
        signed_on=date(2023, 2, 1),
        contracted_support_vnd=800_000_000,
        by=By("trung-tam"),
    )
    if progress:
        d.report_progress(month="2023-05", percent=progress, by=By("trung-tam"))
    return d


# -- the lifecycle table ---------------------------------------------------------------------------


def test_a_draft_allows_only_editing_extension_and_submission() -> None:
    assert drafted().allowed_actions() == ["sua_du_thao", "gia_han_nop", "nop"]


@pytest.mark.parametrize("action", ["tham_dinh_co_so", "phe_duyet", "ky_hop_dong", "tam_ung", "quyet_toan", "dong"])
def test_actions_outside_their_states_are_refused_with_the_allowed_list(action: str) -> None:
    d = drafted()
    calls = {
        "tham_dinh_co_so": lambda: d.record_base_appraisal(
            mode="can_bo",
            members=[],
            conclusion=Conclusion.agree,
            recommended_support_vnd=1,
            appraised_on=date(2022, 11, 1),
            by=By("x"),
        ),
        "phe_duyet": lambda: d.approve_in_plan(
            plan_id="p", plan_decision="1", batch=1, decided_on=date(2023, 1, 1), approved_support_vnd=1, by=By("x")
        ),
        "ky_hop_dong": lambda: d.sign_contract(
            contract_number="1", signed_on=date(2023, 1, 1), contracted_support_vnd=1, by=By("x")
        ),
        "tam_ung": lambda: d.record_advance(amount_vnd=1, paid_on=date(2023, 1, 1), rules=RULES, by=By("x")),
        "quyet_toan": lambda: d.settle(
            settled_on=date(2023, 1, 1), dossier_on=date(2023, 1, 1), settled_support_vnd=1, rules=RULES, by=By("x")
        ),
        "dong": lambda: d.close(closed_on=date(2023, 1, 1), by=By("x")),
    }
    with pytest.raises(NotAllowedInStateError) as refused:
        calls[action]()
    assert refused.value.action == action
    assert refused.value.allowed == ["sua_du_thao", "gia_han_nop", "nop"]
    vietnamese = str(refused.value).split(" / ")[0]
    assert f"Không thể «{label('de_an_action', action)}» khi đề án ở trạng thái «Dự thảo»" in vietnamese
    assert "được phép: «Sửa dự thảo», «Ghi quyết định gia hạn nộp hồ sơ», «Nộp hồ sơ»" in vietnamese
    assert action not in vietnamese.replace("«", " ").replace("»", " ").split()


def test_every_action_of_the_table_is_reachable_in_some_state() -> None:
    assert all(states for states, _ in LIFECYCLE.values())


def test_local_de_an_goes_from_base_appraisal_straight_to_the_plan() -> None:
    d = base_passed()
    assert "gui_bo" not in d.allowed_actions()
    with pytest.raises(NotAllowedInStateError):
        d.forward(forwarded_on=date(2022, 11, 12), by=By("so-31"))
    d.propose(proposed_on=date(2022, 11, 20), rules=RULES, beneficiaries=lookup(), by=By("so-31"))
    assert d.status is Status.proposed


def test_national_de_an_passes_both_appraisals() -> None:
    d = base_passed(level="quoc_gia", de_an_type="kcqg_thu_huong", code="KCQG-2023-31-01")
    with pytest.raises(NotAllowedInStateError):
        d.propose(proposed_on=date(2022, 11, 20), rules=RULES, beneficiaries=lookup(), by=By("so-31"))
    d.forward(forwarded_on=date(2022, 11, 12), by=By("so-31"))
    d.record_ministry_appraisal(
        mode="can_bo",
        members=[],
        conclusion=Conclusion.agree_with_changes,
        recommended_support_vnd=700_000_000,
        appraised_on=date(2022, 12, 1),
        by=CUC,
    )
    d.propose(proposed_on=date(2022, 12, 5), rules=RULES, beneficiaries=lookup(), by=By("cuc"))
    assert (d.status, d.recommended_support_vnd) == (Status.proposed, 700_000_000)


def test_return_for_supplement_goes_back_to_draft_and_rejection_is_terminal() -> None:
    d = submitted()
    d.return_for_supplement(reason="Thiếu báo giá thiết bị", by=By("so-31"))
    assert d.status is Status.draft and d.returns == ["Thiếu báo giá thiết bị"]
    d.submit(submitted_on=date(2022, 10, 25), rules=RULES, beneficiaries=lookup(), by=By("trung-tam"))
    d.record_base_appraisal(
        mode="can_bo",
        members=[],
        conclusion=Conclusion.reject,
        recommended_support_vnd=0,
        appraised_on=date(2022, 11, 10),
        by=By("so-31"),
    )
    assert d.status is Status.base_rejected and d.allowed_actions() == []


def test_not_funded_is_terminal() -> None:
    d = base_passed()
    d.propose(proposed_on=date(2022, 11, 20), rules=RULES, beneficiaries=lookup(), by=By("so-31"))
    d.mark_not_funded(reason="Hết nguồn kinh phí", by=By("ubnd-31"))
    assert d.status is Status.not_funded and d.allowed_actions() == []


# -- deadline --------------------------------------------------------------------------------------


def test_submission_after_the_deadline_is_refused_unless_extended() -> None:
    d = drafted()
    with pytest.raises(DeadlineMissedError, match="30/10/2022"):
        d.submit(submitted_on=date(2022, 11, 2), rules=RULES, beneficiaries=lookup(), by=By("x"))
    d.extend_submission(
        decision_number="88/QĐ-SCT", decided_on=date(2022, 10, 28), new_deadline=date(2022, 11, 15), by=By("so-31")
    )
    d.submit(submitted_on=date(2022, 11, 2), rules=RULES, beneficiaries=lookup(), by=By("x"))
    assert d.submission is not None
    assert d.submission["deadline"] == date(2022, 11, 15)
    assert "calendar@KCĐP-31-2023" in d.submission["rule_versions"]


def test_submission_without_a_calendar_for_the_year_is_refused() -> None:
    with pytest.raises(DeadlineMissedError, match="Chưa có lịch kế hoạch"):
        drafted(plan_year=2031).submit(submitted_on=date(2030, 1, 1), rules=RULES, beneficiaries=lookup(), by=By("x"))


# -- ceilings --------------------------------------------------------------------------------------


def test_requested_support_is_capped_by_share_and_cap_with_the_rule_version() -> None:
    d = submitted()
    assert d.submission is not None
    assert d.submission["ceilings"] == [
        {
            "line": 0,
            "item": "mo_hinh_trinh_dien",
            "unit": "",
            "allowed_vnd": 900_000_000,
            "unit_requested_vnd": 800_000_000,
            "multiplier_pct": 100,
            "rule": "ceiling.quoc_gia@TT28/2018 (chưa có bảng mức hỗ trợ của tỉnh: áp dụng mức hướng dẫn quốc gia)",
        }
    ]
    with pytest.raises(OverCeilingError, match=r"vượt mức tối đa 900\.000\.000"):
        submitted(budget_lines=[model_line(support=950_000_000)])


def test_the_2014_table_applies_to_2014_era_submissions() -> None:
    d = drafted(plan_year=2017, budget_lines=[model_line(support=600_000_000)])
    rules2017 = rulebook()
    with pytest.raises(OverCeilingError, match=r"ceiling\.quoc_gia@TTLT26/2014"):
        cal = type(rules2017.calendars[0])("T", "dia_phuong", "31", 2017, date(2016, 7, 1), date(2016, 10, 30), "t")
        rules_with = type(rules2017)(**(rules2017.__dict__ | {"calendars": (*rules2017.calendars, cal)}))
        d.submit(submitted_on=date(2016, 10, 1), rules=rules_with, beneficiaries=lookup(), by=By("x"))


POOR_DISTRICT = {
    "area": "huyen_ngheo_30a",
    "start": "2008-12-27",
    "end": "2025-06-30",
    "rule": "priority.list.huyen_ngheo_30a@NQ30a/2008",
    "to_confirm": True,
}


def test_an_area_on_the_registrys_official_list_raises_the_cap_by_the_multiplier() -> None:
    line = model_line(support=1_100_000_000, total=4_000_000_000)  # 30 % = 1.2 bn; cap 1 bn × 1.5 = 1.5 bn
    with pytest.raises(OverCeilingError):
        submitted(budget_lines=[line])
    d = drafted(budget_lines=[line])
    listed = lookup({BENEFICIARY: facts(priority_areas=[POOR_DISTRICT])})
    d.submit(submitted_on=date(2022, 9, 20), rules=RULES, beneficiaries=listed, by=By("trung-tam"))
    assert d.submission is not None
    assert d.submission["priority"]["multiplier_pct"] == 150
    assert d.submission["ceilings"][0]["allowed_vnd"] == 1_200_000_000


def test_budget_lines_must_add_up_and_must_exist() -> None:
    bad = model_line() | {"counterpart_vnd": 1}
    with pytest.raises(BudgetError, match="phải bằng tổng chi phí"):
        drafted(budget_lines=[bad])
    with pytest.raises(BudgetError, match="số nguyên VND không âm"):
        drafted(budget_lines=[model_line() | {"support_requested_vnd": -5}])
    with pytest.raises(BudgetError, match="chưa có dòng dự toán"):
        drafted(budget_lines=[]).submit(submitted_on=date(2022, 10, 1), rules=RULES, beneficiaries=lookup(), by=By("x"))


# -- beneficiaries -----------------------------------------------------------------------------------


def test_unknown_ineligible_and_double_funded_beneficiaries_are_refused() -> None:
    with pytest.raises(BeneficiaryError, match="chưa có trong sổ đăng ký"):
        drafted().submit(submitted_on=date(2022, 10, 1), rules=RULES, beneficiaries=lookup({}), by=By("x"))
    late = [
        {"start": "2025-10-15", "end": None, "outcome": "dat", "rules": []},
        {"start": "2012-07-05", "end": "2025-10-14", "outcome": "khong_dat", "rules": ["r@ND45"]},
    ]
    with pytest.raises(BeneficiaryError, match="không đủ điều kiện thụ hưởng ngày 01/10/2022"):
        drafted().submit(
            submitted_on=date(2022, 10, 1),
            rules=RULES,
            beneficiaries=lookup({BENEFICIARY: facts(eligibility=late)}),
            by=By("x"),
        )
    funded = facts(support=[{"cost_item": "dây chuyền đúc áp lực", "amount_vnd": 1, "year": 2020}])
    with pytest.raises(BeneficiaryError, match="đã được hỗ trợ hạng mục"):
        drafted().submit(
            submitted_on=date(2022, 10, 1), rules=RULES, beneficiaries=lookup({BENEFICIARY: funded}), by=By("x")
        )

    # funded between the submission and the proposal (another đề án's settlement): not proposed for more
    d = base_passed()
    with pytest.raises(BeneficiaryError, match="đã được hỗ trợ hạng mục"):
        d.propose(proposed_on=date(2022, 11, 20), rules=RULES, beneficiaries=lookup({BENEFICIARY: funded}), by=By("x"))
    assert d.status is Status.base_passed


# -- council ---------------------------------------------------------------------------------------


def test_council_members_sign_declarations_and_conflicted_members_do_not_vote() -> None:
    d = submitted()
    unsigned = [*COUNCIL[:2], COUNCIL[2] | {"declaration_signed": False}]
    with pytest.raises(Exception, match="chưa ký cam kết"):
        d.record_base_appraisal(
            mode="hoi_dong",
            members=council(unsigned),
            conclusion=Conclusion.agree,
            recommended_support_vnd=1,
            appraised_on=date(2022, 11, 1),
            by=By("x"),
        )
    voting_conflict = [*COUNCIL[:2], COUNCIL[2] | {"conflict_declared": True}]
    with pytest.raises(Exception, match="xung đột lợi ích nên không cho ý kiến"):
        d.record_base_appraisal(
            mode="hoi_dong",
            members=council(voting_conflict),
            conclusion=Conclusion.agree,
            recommended_support_vnd=1,
            appraised_on=date(2022, 11, 1),
            by=By("x"),
        )
    abstaining = [*COUNCIL[:2], {"name": "Ông C", "conflict_declared": True, "declaration_signed": True}]
    d.record_base_appraisal(
        mode="hoi_dong",
        members=council(abstaining),
        conclusion=Conclusion.agree,
        recommended_support_vnd=800_000_000,
        appraised_on=date(2022, 11, 1),
        by=By("x"),
    )
    assert d.appraisals[0]["members"][2] == {
        "name": "Ông C",
        "role": "",
        "opinion": None,
        "conflict_declared": True,
        "declaration_signed": True,
    }


def test_recommended_and_approved_amounts_cannot_exceed_what_came_before() -> None:
    d = submitted()
    with pytest.raises(OverCeilingError):
        d.record_base_appraisal(
            mode="can_bo",
            members=[],
            conclusion=Conclusion.agree,
            recommended_support_vnd=900_000_000,
            appraised_on=date(2022, 11, 1),
            by=By("x"),
        )
    d = base_passed()
    d.propose(proposed_on=date(2022, 11, 20), rules=RULES, beneficiaries=lookup(), by=By("x"))
    with pytest.raises(OverCeilingError, match="vượt kinh phí thẩm định"):
        d.approve_in_plan(
            plan_id="p",
            plan_decision="1",
            batch=1,
            decided_on=date(2022, 12, 1),
            approved_support_vnd=800_000_001,
            by=By("x"),
        )


# -- advances --------------------------------------------------------------------------------------


def test_machinery_and_models_advance_70_percent_only_after_70_percent_progress() -> None:
    d = contracted(progress=60)
    with pytest.raises(OverCeilingError, match="tiến độ 60%"):
        d.record_advance(amount_vnd=100_000_000, paid_on=date(2023, 6, 1), rules=RULES, by=By("cuc"))
    d.report_progress(month="2023-07", percent=75, by=By("trung-tam"))
    d.record_advance(amount_vnd=500_000_000, paid_on=date(2023, 7, 10), rules=RULES, by=By("cuc"))
    with pytest.raises(OverCeilingError, match=r"tối đa 560\.000\.000"):
        d.record_advance(amount_vnd=60_000_001, paid_on=date(2023, 7, 20), rules=RULES, by=By("cuc"))
    d.record_advance(amount_vnd=60_000_000, paid_on=date(2023, 7, 20), rules=RULES, by=By("cuc"))
    assert d.advanced_vnd == 560_000_000
    assert d.advances[-1]["rule_versions"] == ["advance@TT36/2013"]


def test_progress_cannot_go_back() -> None:
    d = contracted(progress=50)
    with pytest.raises(Exception, match="từ 50 đến 100"):
        d.report_progress(month="2023-06", percent=40, by=By("x"))


# -- adjustments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "kind", "change", "authority"),
    [
        ("quoc_gia", "kcqg_thu_huong", "tang_kinh_phi", "bo_truong"),
        ("quoc_gia", "kcqg_thu_huong", "gia_han_sang_nam_sau", "bo_truong"),
        ("quoc_gia", "kcqg_thu_huong", "thay_doi_dia_diem", "cuc"),
        ("quoc_gia", "kcqg_nhom", "thay_doi_don_vi_thu_huong", "so_cong_thuong"),
        ("dia_phuong", "kcdp", "ngung_thuc_hien", "ubnd_tinh"),
    ],
)
def test_the_authority_matrix_decides_who_may_approve_a_change(
    level: str, kind: str, change: str, authority: str
) -> None:
    d = base_passed(level=level, de_an_type=kind)
    if level == "quoc_gia":
        d.forward(forwarded_on=date(2022, 11, 12), by=By("so"))
        d.record_ministry_appraisal(
            mode="can_bo",
            members=[],
            conclusion=Conclusion.agree,
            recommended_support_vnd=800_000_000,
            appraised_on=date(2022, 12, 1),
            by=CUC,
        )
    d.propose(proposed_on=date(2022, 12, 5), rules=RULES, beneficiaries=lookup(), by=By("x"))
    d.approve_in_plan(
        plan_id="p",
        plan_decision="1",
        batch=1,
        decided_on=date(2022, 12, 20),
        approved_support_vnd=800_000_000,
        by=By("x"),
    )
    changes = {"support_vnd": 900_000_000} if change == "tang_kinh_phi" else {}
    assert (
        d.request_adjustment(
            change_type=change,
            description="Lý do",
            changes=changes,
            requested_on=date(2023, 3, 1),
            rules=RULES,
            by=By("x"),
        )
        == authority
    )
    wrong = "cuc" if authority != "cuc" else "bo_truong"
    holder = DECIDERS[authority]
    with pytest.raises(AuthorityError, match=f"thuộc thẩm quyền «{label('authority', authority)}»") as refused:
        d.decide_adjustment(
            approved=True, authority=wrong, decision_number="9", decided_on=date(2023, 3, 10), rules=RULES, by=holder
        )
    assert refused.value.codes["required_authority"] == authority
    # another role, or the right role on the wrong instance, does not hold the authority
    other = next(b for a, b in DECIDERS.items() if a != authority and b.instance == holder.instance)
    for intruder in (other, By("x", role=holder.role, instance="bo" if holder.instance != "bo" else "tinh-31")):
        with pytest.raises(NotTheAuthorityError, match=f"thẩm quyền «{label('authority', authority)}»"):
            d.decide_adjustment(
                approved=True, decision_number="9", decided_on=date(2023, 3, 10), rules=RULES, by=intruder
            )
    d.decide_adjustment(approved=True, decision_number="9", decided_on=date(2023, 3, 10), rules=RULES, by=holder)
    assert d.adjustments[0]["rule_versions"] == ["adjustment.authority@TT36/2013-Dieu11"]
    if change == "tang_kinh_phi":
        assert d.approved_support_vnd == 900_000_000
    if change == "ngung_thuc_hien":
        assert d.status is Status.stopped and d.allowed_actions() == ["nghiem_thu"]


# -- settlement ------------------------------------------------------------------------------------


def test_settlement_dossier_within_15_days_of_acceptance_and_by_22_january() -> None:
    d = contracted(progress=100)
    d.complete(completed_on=date(2023, 11, 20), by=By("x"))
    d.accept(accepted_on=date(2023, 12, 1), outputs={"mo_hinh": 1}, rules=RULES, by=By("so-31"))
    with pytest.raises(Exception, match="trước 16/12/2023"):
        d.settle(
            settled_on=date(2024, 1, 10),
            dossier_on=date(2023, 12, 17),
            settled_support_vnd=800_000_000,
            rules=RULES,
            by=By("x"),
        )
    with pytest.raises(Exception, match="trước 22/01/2024"):
        d.settle(
            settled_on=date(2024, 1, 23),
            dossier_on=date(2023, 12, 10),
            settled_support_vnd=800_000_000,
            rules=RULES,
            by=By("x"),
        )
    d.settle(
        settled_on=date(2024, 1, 15),
        dossier_on=date(2023, 12, 10),
        settled_support_vnd=790_000_000,
        rules=RULES,
        by=By("x"),
    )
    d.close(closed_on=date(2024, 1, 20), by=By("x"))
    assert d.status is Status.closed


def test_priority_is_judged_again_on_the_proposal_date_with_certificates_valid_then() -> None:
    regional = {
        "recognition_id": "r",
        "scheme": "san_pham_cnnt_tieu_bieu",
        "level": "khu_vuc",
        "valid_from": "2021-01-01",
        "valid_to": "2022-11-30",
    }
    known = {BENEFICIARY: facts(recognitions=[regional])}
    d = base_passed()
    d.propose(proposed_on=date(2022, 12, 5), rules=RULES, beneficiaries=lookup(known), by=By("so"))
    assert d.proposal_priority is not None
    recognition = next(i for i in d.proposal_priority["items"] if i["criterion"] == "cong_nhan")
    assert recognition["met"] is False  # expired on 30/11/2022
    assert d.proposal_priority["rule"] == "priority@ND45/2012-Dieu6"
    valid = base_passed()
    valid.propose(proposed_on=date(2022, 11, 20), rules=RULES, beneficiaries=lookup(known), by=By("so"))
    assert valid.rank == [1, 1, 0]  # not flagship, no area priority, sector-level priority (valid regional product)


# -- the ministry decides on its own instance ---------------------------------------------------------


def national_approved() -> DeAn:
    d = base_passed(level="quoc_gia", de_an_type="kcqg_thu_huong", code="KCQG-2023-31-01")
    d.forward(forwarded_on=date(2022, 11, 12), by=By("so-31"))
    d.record_ministry_appraisal(
        mode="can_bo",
        members=[],
        conclusion=Conclusion.agree,
        recommended_support_vnd=800_000_000,
        appraised_on=date(2022, 12, 1),
        by=CUC,
    )
    d.propose(proposed_on=date(2022, 12, 5), rules=RULES, beneficiaries=lookup(), by=By("so-31"))
    d.approve_in_plan(
        plan_id="p",
        plan_decision="3208/QĐ-BCT",
        batch=1,
        decided_on=date(2022, 12, 28),
        approved_support_vnd=800_000_000,
        by=By("ke-hoach:bo"),
    )
    return d


def test_the_so_is_refused_the_ministrys_decisions_on_a_national_de_an_naming_the_cuc() -> None:
    so = DECIDERS["so_cong_thuong"]
    d = base_passed(level="quoc_gia", de_an_type="kcqg_thu_huong", code="KCQG-2023-31-01")
    d.forward(forwarded_on=date(2022, 11, 12), by=so)
    with pytest.raises(NotTheAuthorityError, match="«Thẩm định cấp Bộ» do «Cục Công Thương địa phương»") as refused:
        d.record_ministry_appraisal(
            mode="can_bo",
            members=[],
            conclusion=Conclusion.agree,
            recommended_support_vnd=800_000_000,
            appraised_on=date(2022, 12, 1),
            by=so,
        )
    assert refused.value.codes == {
        "code": "ministry_decides",
        "action": "tham_dinh_cap_bo",
        "required_authority": "cuc",
    }
    d = national_approved()
    assert d.ministry_actions() == ["ky_hop_dong"]
    with pytest.raises(NotTheAuthorityError, match="ghi trên hệ thống của Bộ Công Thương"):
        d.sign_contract(contract_number="1", signed_on=date(2023, 2, 1), contracted_support_vnd=1, by=so)
    assert d.status is Status.approved and d.contract is None
    # the Cục's decision, applied from the bus with the ministry as the instance it was recorded on
    d.sign_contract(
        contract_number="01/HĐ-KCQG", signed_on=date(2023, 2, 1), contracted_support_vnd=800_000_000, by=CUC
    )
    assert d.status is Status.contracted
    # a local đề án: the Sở signs and settles on its own instance, as before
    local = contracted()
    assert local.ministry_actions() == []


def test_an_accepted_de_an_says_what_the_accepted_work_is_worth_never_above_the_contract() -> None:
    d = contracted(progress=100)
    d.complete(completed_on=date(2023, 11, 20), by=By("x"))
    with pytest.raises(OverCeilingError, match="vượt kinh phí hợp đồng"):
        d.accept(
            accepted_on=date(2023, 12, 1), outputs={}, accepted_support_vnd=800_000_001, rules=RULES, by=By("so-31")
        )
    d.accept(
        accepted_on=date(2023, 12, 1),
        outputs={"mo_hinh": 1},
        accepted_support_vnd=780_000_000,
        rules=RULES,
        by=By("so-31"),
    )
    assert d.acceptance is not None and d.acceptance["accepted_support_vnd"] == 780_000_000
