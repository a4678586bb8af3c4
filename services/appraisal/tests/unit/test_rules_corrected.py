"""The rules issue 15 item 8 corrected, each on both sides of its boundary: ceilings per establishment /
per unit (not per budget line), every support item capped, the 1.5× raises not stacking, an advance
only after progress strictly above 70 % (50 % for cluster works), selection priority only from a
regional or national certificate valid on the day and from the registry's official area lists, the
rule version in force on the decision's date, and legal references citing the right article."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from kc_appraisal.domain.beneficiary import AreaPeriod, BeneficiaryFacts, Recognition
from kc_appraisal.domain.de_an import By
from kc_appraisal.domain.errors import AppraisalError, OverCeilingError
from kc_appraisal.domain.rules import advance_limit, check_ceilings, evaluate_priority
from kc_appraisal.rulebook import rulebook

from .test_de_an import BENEFICIARY, drafted, facts, lookup, model_line

RULES = rulebook()
BEFORE_TT64 = date(2022, 9, 20)  # TT 28/2018 in force
AFTER_TT64 = date(2025, 3, 1)  # TT 64/2024 (assumed from 01/11/2024) in force
OTHER = str(uuid4())


def line(item: str, support: int, total: int, unit_ref: str | None = None) -> dict[str, Any]:
    out = {
        "cost_item": item,
        "support_item": item,
        "total_cost_vnd": total,
        "support_requested_vnd": support,
        "counterpart_vnd": total - support,
        "other_vnd": 0,
    }
    return out | ({"unit_ref": unit_ref} if unit_ref else {})


def ceilings(lines: list[dict[str, Any]], on: date = BEFORE_TT64, beneficiaries: list[str] | None = None,
             priority: int = 100) -> list[Any]:  # fmt: skip
    return check_ceilings(
        RULES,
        level="quoc_gia",
        province="40",
        on=on,
        lines=lines,
        beneficiaries=[str(BENEFICIARY)] if beneficiaries is None else beneficiaries,
        priority_multiplier_pct=priority,
    )


# -- ceilings per establishment / per unit, not per budget line ---------------------------------------------------


def test_machinery_lines_for_one_establishment_are_added_up_against_its_cap() -> None:
    # TT 28/2018 (assumed): machinery 50 % but at most 300 million per establishment
    two = [line("may_moc_thiet_bi", 150_000_000, 400_000_000), line("may_moc_thiet_bi", 150_000_000, 400_000_000)]
    [check] = ceilings(two)
    assert (check.unit, check.lines, check.allowed_vnd, check.requested_vnd) == (
        str(BENEFICIARY),
        (0, 1),
        300_000_000,
        300_000_000,
    )
    over = [line("may_moc_thiet_bi", 150_000_000, 400_000_000), line("may_moc_thiet_bi", 150_000_001, 400_000_000)]
    with pytest.raises(OverCeilingError, match=r"tính theo từng cơ sở") as refused:
        ceilings(over)  # each line alone is under 300 million: per line it would have passed
    assert refused.value.field == "budget_lines.1.support_requested_vnd"


def test_two_establishments_each_get_their_own_cap() -> None:
    both = [str(BENEFICIARY), OTHER]
    lines = [
        line("may_moc_thiet_bi", 300_000_000, 600_000_000, unit_ref=str(BENEFICIARY)),
        line("may_moc_thiet_bi", 300_000_000, 600_000_000, unit_ref=OTHER),
    ]
    assert [c.allowed_vnd for c in ceilings(lines, beneficiaries=both)] == [300_000_000, 300_000_000]
    lines[1] |= {"unit_ref": str(BENEFICIARY)}  # both for the same establishment: 600 million > 300
    with pytest.raises(OverCeilingError):
        ceilings(lines, beneficiaries=both)


def test_a_per_establishment_line_must_name_which_beneficiary_when_there_are_several() -> None:
    with pytest.raises(OverCeilingError, match="ghi cơ sở thụ hưởng") as refused:
        ceilings([line("may_moc_thiet_bi", 100_000_000, 400_000_000)], beneficiaries=[str(BENEFICIARY), OTHER])
    assert refused.value.field == "budget_lines.0.unit_ref"
    with pytest.raises(OverCeilingError, match="ghi cơ sở thụ hưởng"):  # not one of the đề án's beneficiaries
        ceilings([line("may_moc_thiet_bi", 100_000_000, 400_000_000, unit_ref=str(uuid4()))])


def test_a_group_de_an_without_beneficiaries_yet_names_its_units() -> None:
    lines = [
        line("may_moc_thiet_bi", 300_000_000, 600_000_000, unit_ref="Cơ sở 1"),
        line("may_moc_thiet_bi", 300_000_000, 600_000_000, unit_ref="Cơ sở 2"),
    ]
    assert len(ceilings(lines, beneficiaries=[])) == 2
    with pytest.raises(OverCeilingError):
        ceilings([line("may_moc_thiet_bi", 300_000_001, 600_000_002)], beneficiaries=[])


def test_a_models_lines_are_one_model_unless_they_name_another() -> None:
    # model: 30 % of the model's cost, at most 1,000 million per model
    parts = [
        line("mo_hinh_trinh_dien", 600_000_000, 2_000_000_000),
        line("mo_hinh_trinh_dien", 500_000_000, 2_000_000_000),
    ]
    with pytest.raises(OverCeilingError):
        ceilings(parts)  # one model: 1.1 bn > 1 bn
    parts[1] |= {"unit_ref": "Mô hình 2"}
    assert [c.allowed_vnd for c in ceilings(parts)] == [600_000_000, 600_000_000]


# -- every support item has a cap: no uncapped "khác" ------------------------------------------------------------


def test_a_line_without_a_capped_item_is_refused_naming_the_line() -> None:
    with pytest.raises(OverCeilingError, match="không có trong bảng mức hỗ trợ") as refused:
        ceilings([line("may_moc_thiet_bi", 1, 10), line("khac", 1_000_000, 1_000_000)])
    assert refused.value.field == "budget_lines.1.support_item"


def test_every_item_of_every_table_has_a_cap_in_vnd_and_its_unit() -> None:
    for version in RULES.national_ceilings.versions:
        assert "khac" not in version.params.items, version.version
        for code, item in version.params.items.items():
            assert item.cap_vnd > 0 and item.per, (version.version, code)


def test_training_is_capped_per_class() -> None:
    [check] = ceilings([line("dao_tao_nghe", 100_000_000, 100_000_000)])
    assert check.allowed_vnd == 100_000_000
    with pytest.raises(OverCeilingError):
        ceilings([line("dao_tao_nghe", 100_000_001, 100_000_001)])


# -- the 1.5× raises do not stack -----------------------------------------------------------------------------------


def test_a_technology_line_gets_one_and_a_half_times_the_machinery_cap() -> None:
    [check] = ceilings([line("day_chuyen_cong_nghe", 450_000_000, 1_000_000_000)], on=AFTER_TT64)
    assert (check.allowed_vnd, check.multiplier_pct) == (450_000_000, 150)
    with pytest.raises(OverCeilingError):
        ceilings([line("day_chuyen_cong_nghe", 450_000_001, 1_000_000_000)], on=AFTER_TT64)


def test_priority_and_a_technology_line_together_stay_at_one_and_a_half_times() -> None:
    [check] = ceilings([line("day_chuyen_cong_nghe", 450_000_000, 2_000_000_000)], on=AFTER_TT64, priority=150)
    assert (check.allowed_vnd, check.multiplier_pct) == (450_000_000, 150)  # not 675 million (2.25×)
    with pytest.raises(OverCeilingError, match="hệ số 150%"):
        ceilings([line("day_chuyen_cong_nghe", 450_000_001, 2_000_000_000)], on=AFTER_TT64, priority=150)


def test_priority_alone_raises_machinery_to_one_and_a_half_times() -> None:
    lines = [line("may_moc_thiet_bi", 450_000_000, 1_000_000_000)]
    with pytest.raises(OverCeilingError):
        ceilings(lines, on=AFTER_TT64)
    assert ceilings(lines, on=AFTER_TT64, priority=150)[0].allowed_vnd == 450_000_000


def test_no_technology_line_raise_before_tt64_2024() -> None:
    with pytest.raises(OverCeilingError, match=r"không có trong bảng mức hỗ trợ ceiling\.quoc_gia@TT28/2018"):
        ceilings([line("day_chuyen_cong_nghe", 300_000_000, 1_000_000_000)], on=date(2024, 10, 31))
    assert ceilings([line("day_chuyen_cong_nghe", 300_000_000, 1_000_000_000)], on=date(2024, 11, 1))


# -- an advance needs progress strictly above 70 % (cluster works: above 50 %) --------------------------------------


@pytest.mark.parametrize(
    ("items", "progress", "allowed"),
    [
        (["may_moc_thiet_bi"], 70, 0),
        (["may_moc_thiet_bi"], 71, 700_000_000),
        (["mo_hinh_trinh_dien"], 70, 0),
        (["mo_hinh_trinh_dien"], 71, 700_000_000),
        (["ha_tang_ccn"], 50, 0),
        (["ha_tang_ccn"], 51, 300_000_000),
        (["dao_tao_nghe"], 0, 700_000_000),  # no progress condition: on the contract
    ],
)
def test_advance_allowed_only_above_the_progress_threshold(items: list[str], progress: int, allowed: int) -> None:
    limit, _, ref = advance_limit(
        RULES, on=date(2023, 6, 1), support_items=items, contracted_vnd=1_000_000_000, progress_pct=progress
    )
    assert (limit, ref) == (allowed, "advance@TT36/2013")


def test_an_advance_at_exactly_70_percent_is_refused_on_the_de_an() -> None:
    from .test_de_an import contracted

    at_70 = contracted(progress=70)
    with pytest.raises(OverCeilingError, match="tiến độ 70%"):
        at_70.record_advance(amount_vnd=1, paid_on=date(2023, 6, 1), rules=RULES, by=By("x"))
    above = contracted(progress=71)
    above.record_advance(amount_vnd=560_000_000, paid_on=date(2023, 6, 1), rules=RULES, by=By("x"))
    assert above.advanced_vnd == 560_000_000


# -- selection priority: only a regional or national certificate valid on the day -----------------------------------


def holder(
    *recognitions: Recognition, areas: tuple[AreaPeriod, ...] = (), sectors: tuple[str, ...] = ()
) -> BeneficiaryFacts:
    return BeneficiaryFacts(name="Cơ sở", recognitions=recognitions, priority_areas=areas, sectors=sectors)


def certificate(scheme: str, level: str | None, valid_to: date = date(2025, 12, 31)) -> Recognition:
    return Recognition(valid_from=date(2023, 1, 1), valid_to=valid_to, scheme=scheme, level=level)


@pytest.mark.parametrize(
    ("scheme", "level", "gives_priority"),
    [
        ("san_pham_cnnt_tieu_bieu", "khu_vuc", True),
        ("san_pham_cnnt_tieu_bieu", "quoc_gia", True),
        ("san_pham_cnnt_tieu_bieu", "tinh", False),
        ("san_pham_cnnt_tieu_bieu", "huyen", False),
        ("ocop", None, False),
    ],
)
def test_only_regional_or_national_typical_products_give_priority(scheme: str, level: str | None,
                                                                   gives_priority: bool) -> None:  # fmt: skip
    p = evaluate_priority(RULES, on=date(2024, 6, 1), beneficiaries=[holder(certificate(scheme, level))])
    assert next(i.met for i in p.items if i.criterion == "cong_nhan") is gives_priority
    assert p.sector is gives_priority
    assert p.multiplier_pct == (150 if gives_priority else 100)


def test_a_certificate_gives_priority_through_its_last_valid_day_and_not_after() -> None:
    last = date(2024, 12, 31)
    regional = holder(certificate("san_pham_cnnt_tieu_bieu", "khu_vuc", valid_to=last))
    assert evaluate_priority(RULES, on=last, beneficiaries=[regional]).sector is True
    assert evaluate_priority(RULES, on=last + timedelta(days=1), beneficiaries=[regional]).sector is False


# -- area priority from the registry's official lists, never a typed tag ---------------------------------------------


def test_area_priority_comes_from_the_lists_period_covering_the_day() -> None:
    period = AreaPeriod(
        "huyen_ngheo_30a", date(2008, 12, 27), date(2025, 6, 30), "priority.list.huyen_ngheo_30a@NQ30a/2008", True
    )
    on_list = holder(areas=(period,))
    p = evaluate_priority(RULES, on=date(2025, 6, 30), beneficiaries=[on_list])
    assert (p.area, p.area_rank, p.multiplier_pct) == (True, 1, 150)
    assert "cần xác nhận" in p.items[0].explanation  # the list is still to confirm
    after = evaluate_priority(RULES, on=date(2025, 7, 1), beneficiaries=[on_list])
    assert (after.area, after.multiplier_pct) == (False, 100)


def test_a_typed_priority_area_is_not_judged() -> None:
    d = drafted(priority_areas=["vung_dbkk"], budget_lines=[model_line(support=1_100_000_000, total=4_000_000_000)])
    with pytest.raises(OverCeilingError):  # no raise: the tag is not an official list
        d.submit(submitted_on=BEFORE_TT64, rules=RULES, beneficiaries=lookup(), by=By("x"))
    border = {"area": "vung_cao_bien_gioi_dtts", "start": "2013-02-10", "end": "2025-06-30", "rule": "r"}
    listed = lookup({BENEFICIARY: facts(priority_areas=[border])})
    d.submit(submitted_on=BEFORE_TT64, rules=RULES, beneficiaries=listed, by=By("x"))
    assert d.submission is not None and d.submission["priority"]["area"] is True


def test_priority_sectors_are_those_of_nd45_article_6_2_a() -> None:
    mechanical = holder(sectors=("co_khi_nong_nghiep",))
    assert evaluate_priority(RULES, on=date(2024, 6, 1), beneficiaries=[mechanical]).sector is True
    crafts = holder(sectors=("thu_cong_my_nghe",))
    assert evaluate_priority(RULES, on=date(2024, 6, 1), beneficiaries=[crafts]).sector is False


# -- the rule versions recorded are the ones in force on the decision's date ------------------------------------------


@pytest.mark.parametrize(
    ("on", "version"),
    [
        (date(2018, 5, 11), "ceiling.quoc_gia@TTLT26/2014"),
        (date(2018, 5, 12), "ceiling.quoc_gia@TT28/2018"),
        (date(2022, 9, 20), "ceiling.quoc_gia@TT28/2018"),
        (date(2024, 10, 31), "ceiling.quoc_gia@TT28/2018"),
        (date(2024, 11, 1), "ceiling.quoc_gia@TT64/2024"),
    ],
)
def test_the_ceiling_version_in_force_on_the_day(on: date, version: str) -> None:
    assert RULES.national_ceilings.reference(on) == version


def test_a_2022_submission_records_no_2024_circular() -> None:
    from .test_de_an import submitted

    d = submitted()
    assert d.submission is not None
    assert not [v for v in d.submission["rule_versions"] if "2024" in v]
    assert (
        "ceiling.quoc_gia@TT28/2018 (chưa có bảng mức hỗ trợ của tỉnh: áp dụng mức hướng dẫn quốc gia)"
        in (d.submission["rule_versions"])
    )


# -- legal references cite the right article; what the reference lacks says "to confirm" ------------------------------


def test_legal_references_cite_the_right_articles() -> None:
    on = date(2023, 6, 1)
    assert "Điều 13" in RULES.advances.on(on).legal_basis and "trên 70%" in RULES.advances.on(on).legal_basis
    assert "Điều 18 khoản 1" in RULES.settlement.on(on).legal_basis
    priority = RULES.priority.on(on).legal_basis
    assert "Thông tư 26/2014/TT-BCT Điều 17 khoản 3" in priority
    assert "Điều 6 khoản 2 điểm t" in priority  # the 1.5× priority raise
    assert "Điều 6 khoản 2" in RULES.national_ceilings.on(date(2015, 1, 1)).legal_basis


def test_rules_not_in_the_reference_say_to_confirm_and_what_is_assumed() -> None:
    for on in (date(2022, 1, 1), date(2025, 1, 1)):
        assert "To confirm" in RULES.national_ceilings.on(on).legal_basis
    assert "To confirm" in RULES.priority.on(date(2025, 11, 1)).legal_basis
    for version in RULES.national_ceilings.versions:
        uncapped_in_text = {"hoi_cho_to_chuc", "hoi_cho_tham_gia", "dao_tao_nghe", "truyen_thong"}
        for code in uncapped_in_text:
            assert "assumed" in version.params.items[code].to_confirm, (version.version, code)


# -- results at acceptance typed per activity content (issue 15 item 6) -------------------------------------------


def accepted_with(contents: list[str], outputs: dict[str, Any]) -> Any:
    from .test_de_an import contracted

    d = contracted(progress=100)
    d.details = d.details | {"activity_contents": contents}
    d.complete(completed_on=date(2023, 11, 1), by=By("x"))
    d.accept(accepted_on=date(2023, 11, 15), outputs=outputs, rules=RULES, by=By("so"))
    return d


def test_results_are_typed_by_the_activity_contents_of_the_de_an() -> None:
    d = accepted_with(["1", "3"], {"hoc_vien": 35, "hoc_vien_co_viec_lam": 33, "mo_hinh": 1, "may_moc": 2})
    assert d.acceptance is not None and d.acceptance["outputs"]["hoc_vien_co_viec_lam"] == 33
    accepted = d.collect_events()[-1]
    assert accepted.rule_versions == ["results@ND45/2012-Dieu4+TT36/2013-Dieu14"]


@pytest.mark.parametrize(
    ("contents", "key"),
    [
        (["3"], "hoc_vien"),  # a training result on a machinery-only đề án
        (["1"], "luot_hoi_cho"),
        (["1"], "hoc_vein"),  # a typo is an error, not ignored
        (["3"], "co_so_duoc_ho_tro"),  # counted from the beneficiaries
        (["4"], "san_pham_ton_vinh"),  # counted from the registry's recognitions
    ],
)
def test_an_unknown_result_is_refused_naming_the_field(contents: list[str], key: str) -> None:
    with pytest.raises(AppraisalError, match="không thuộc nội dung hoạt động") as refused:
        accepted_with(contents, {key: 1})
    assert refused.value.field == f"outputs.{key}"


def test_workers_employed_after_training_cannot_exceed_those_trained() -> None:
    assert accepted_with(["1"], {"hoc_vien": 35, "hoc_vien_co_viec_lam": 35}).acceptance is not None
    with pytest.raises(AppraisalError, match="không thể lớn hơn") as refused:
        accepted_with(["1"], {"hoc_vien": 35, "hoc_vien_co_viec_lam": 36})
    assert refused.value.field == "outputs.hoc_vien_co_viec_lam"


# -- an increase stays within the ceilings the submission recorded ------------------------------------------------


def approved_model() -> Any:
    from .test_de_an import base_passed

    d = base_passed()  # a model of 3,000 million: 30 % → at most 900 million (TT 28/2018, assumed)
    d.propose(proposed_on=date(2022, 11, 20), rules=RULES, beneficiaries=lookup(), by=By("so-31"))
    d.approve_in_plan(plan_id="p", plan_decision="1", batch=1, decided_on=date(2022, 12, 20),
                      approved_support_vnd=800_000_000, by=By("ubnd-31"))  # fmt: skip
    return d


@pytest.mark.parametrize(("raised_to", "allowed"), [(900_000_000, True), (900_000_001, False)])
def test_an_increase_up_to_the_ceiling_is_asked_for_and_one_dong_above_is_refused(
    raised_to: int, allowed: bool
) -> None:
    d = approved_model()

    def ask() -> str:
        return str(
            d.request_adjustment(
                change_type="tang_kinh_phi",
                description="Giá thiết bị tăng",
                changes={"support_vnd": raised_to},
                requested_on=date(2023, 3, 1),
                rules=RULES,
                by=By("trung-tam"),
            )
        )

    if allowed:
        assert ask() == "ubnd_tinh" and d.pending_adjustment is not None
        return
    with pytest.raises(OverCeilingError, match=r"vượt tổng mức hỗ trợ tối đa 900\.000\.000 đồng") as refused:
        ask()
    assert refused.value.field == "changes.support_vnd"
    assert "ceiling.quoc_gia@TT28/2018" in str(refused.value)
    assert d.pending_adjustment is None


@pytest.mark.parametrize(
    ("on", "version"),
    [
        (date(2025, 10, 14), "priority@ND45/2012-Dieu6"),
        (date(2025, 10, 15), "priority@ND235/2025-Dieu6"),
    ],
)
def test_the_priority_rule_in_force_on_the_day(on: date, version: str) -> None:
    assert RULES.priority.reference(on) == version
