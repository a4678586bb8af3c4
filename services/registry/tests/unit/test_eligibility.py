"""Eligibility rules on both sides of 1/7/2025 (units reorganised) and 15/10/2025 (ND 235/2025)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from kc_registry.domain.eligibility import Outcome, Verdict, evaluate
from kc_registry.rulebook import eligibility_rules
from kc_runtime.adminunits import load_catalogue

UNITS = load_catalogue()
RULES = eligibility_rules()

# Real units (official codes)
XA_OF_HUYEN = "16741"  # Xã Thông Thụ, Huyện Quế Phong, Nghệ An (legacy)
THI_TRAN = "16738"  # Thị trấn Kim Sơn, Nghệ An (legacy)
PHUONG_OF_THI_XA = "16939"  # Phường Hòa Hiếu, Thị xã Thái Hòa, Nghệ An (legacy)
PHUONG_OF_VINH = "16675"  # Phường Hưng Dũng, Thành phố Vinh (đô thị loại 1), Nghệ An (legacy)
PHUONG_OF_QUAN = "11296"  # Phường Quán Toan, Quận Hồng Bàng, Hải Phòng (legacy)
PHUONG_NGHE_AN_NOW = "16690"  # Phường Trường Vinh, Nghệ An (current; a tỉnh)
PHUONG_HAI_PHONG_NOW = "10507"  # Phường Thành Đông, Hải Phòng (current; centrally-run city)
XA_HAI_PHONG_NOW = "10606"  # Xã Nam Sách, Hải Phòng (current)
DAC_KHU_NOW = "11948"  # Đặc khu Bạch Long Vĩ, Hải Phòng (current)
XA_NGHE_AN_NOW = "17419"  # Xã Hải Châu, Nghệ An (current)

BEFORE_MERGER, AFTER_MERGER = date(2025, 6, 30), date(2025, 7, 1)
LAST_ND45, FIRST_ND235 = date(2025, 10, 14), date(2025, 10, 15)


def verdict(on: date, **details: Any) -> Verdict:
    base = {"legal_form": "ho_kinh_doanh", "sectors": ["co_khi_che_tao"], "unit_system": "tu_2025"}
    return evaluate(base | details, on, RULES, UNITS)


def location(on: date, **details: Any) -> tuple[Outcome, str]:
    reason = next(r for r in verdict(on, **details).reasons if r.check == "location")
    return reason.outcome, reason.rule


def legacy(code: str) -> dict[str, Any]:
    return {"unit_system": "truoc_2025", "commune_code": code}


def current(code: str) -> dict[str, Any]:
    return {"unit_system": "tu_2025", "commune_code": code}


# -- location before 15/10/2025: ND 45/2012 -------------------------------------------------------


@pytest.mark.parametrize("code", [XA_OF_HUYEN, THI_TRAN, PHUONG_OF_THI_XA])
def test_nd45_xa_thi_tran_and_phuong_of_a_thi_xa_are_eligible(code: str) -> None:
    assert location(date(2024, 6, 1), **legacy(code)) == (Outcome.passes, "eligibility.location@ND45/2012")


def test_nd45_phuong_of_a_quan_is_not_eligible() -> None:
    assert location(date(2024, 6, 1), **legacy(PHUONG_OF_QUAN))[0] is Outcome.fails


def test_nd45_phuong_of_a_class_1_city_needs_its_conversion_date() -> None:
    assert location(date(2024, 6, 1), **legacy(PHUONG_OF_VINH))[0] is Outcome.undetermined
    recent = legacy(PHUONG_OF_VINH) | {"phuong_converted_on": "2021-03-01"}
    assert location(date(2024, 6, 1), **recent)[0] is Outcome.passes  # < 5 years to 31/12/2023
    old = legacy(PHUONG_OF_VINH) | {"phuong_converted_on": "2010-03-01"}
    assert location(date(2024, 6, 1), **old)[0] is Outcome.fails


def test_cleaner_production_has_no_location_limit_under_both_rules() -> None:
    assert location(date(2024, 6, 1), **legacy(PHUONG_OF_QUAN), cleaner_production=True)[0] is Outcome.passes
    assert location(FIRST_ND235, **current(PHUONG_HAI_PHONG_NOW), cleaner_production=True)[0] is Outcome.passes


# -- around 1/7/2025: units reorganised, ND 45 still in force --------------------------------------


def test_before_1_7_2025_a_unit_recorded_only_in_the_new_list_cannot_be_judged() -> None:
    assert location(BEFORE_MERGER, **current(XA_NGHE_AN_NOW))[0] is Outcome.undetermined


def test_from_1_7_2025_a_new_xa_or_dac_khu_is_eligible_under_nd45() -> None:
    assert location(AFTER_MERGER, **current(XA_NGHE_AN_NOW)) == (Outcome.passes, "eligibility.location@ND45/2012")
    assert location(AFTER_MERGER, **current(DAC_KHU_NOW))[0] is Outcome.passes


def test_from_1_7_2025_a_new_phuong_needs_its_former_ward_under_nd45() -> None:
    assert location(AFTER_MERGER, **current(PHUONG_NGHE_AN_NOW))[0] is Outcome.undetermined


def test_a_legacy_record_is_judged_on_its_former_ward_on_both_sides_of_1_7_2025() -> None:
    for day in (BEFORE_MERGER, AFTER_MERGER):
        assert location(day, **legacy(PHUONG_OF_THI_XA))[0] is Outcome.passes
        assert location(day, **legacy(PHUONG_OF_QUAN))[0] is Outcome.fails


# -- around 15/10/2025: ND 235/2025 ---------------------------------------------------------------


def test_phuong_of_a_province_becomes_eligible_on_15_10_2025() -> None:
    assert location(LAST_ND45, **current(PHUONG_NGHE_AN_NOW))[0] is Outcome.undetermined
    assert location(FIRST_ND235, **current(PHUONG_NGHE_AN_NOW)) == (
        Outcome.passes,
        "eligibility.location@ND235/2025",
    )


def test_phuong_of_a_centrally_run_city_is_eligible_only_through_a_craft_village() -> None:
    assert location(FIRST_ND235, **current(PHUONG_HAI_PHONG_NOW))[0] is Outcome.fails
    village = current(PHUONG_HAI_PHONG_NOW) | {"craft_village": "Làng nghề đúc đồng Mỹ Đồng"}
    assert location(FIRST_ND235, **village)[0] is Outcome.passes


def test_xa_and_dac_khu_of_a_centrally_run_city_are_eligible_from_15_10_2025() -> None:
    assert location(FIRST_ND235, **current(XA_HAI_PHONG_NOW))[0] is Outcome.passes
    assert location(FIRST_ND235, **current(DAC_KHU_NOW))[0] is Outcome.passes


def test_a_legacy_phuong_of_a_quan_is_judged_by_its_successor_under_nd235() -> None:
    # Phường Quán Toan (Quận Hồng Bàng) became Phường Hồng An of Hải Phòng: still a phường of a central city
    assert location(LAST_ND45, **legacy(PHUONG_OF_QUAN))[0] is Outcome.fails
    assert location(FIRST_ND235, **legacy(PHUONG_OF_QUAN))[0] is Outcome.fails
    village = legacy(PHUONG_OF_QUAN) | {"craft_village": "Làng nghề X"}
    assert location(FIRST_ND235, **village)[0] is Outcome.passes


def test_lien_hiep_hop_tac_xa_becomes_eligible_on_15_10_2025() -> None:
    def form(on: date) -> Outcome:
        v = verdict(on, legal_form="lien_hiep_hop_tac_xa", **current(XA_NGHE_AN_NOW))
        return next(r for r in v.reasons if r.check == "legal_form").outcome

    assert form(LAST_ND45) is Outcome.fails
    assert form(FIRST_ND235) is Outcome.passes


# -- sector and size ----------------------------------------------------------------------------


def test_sector_must_be_industrial_production() -> None:
    def sector(sectors: list[str]) -> Outcome:
        v = verdict(FIRST_ND235, sectors=sectors, **current(XA_NGHE_AN_NOW))
        return next(r for r in v.reasons if r.check == "sector").outcome

    assert sector(["che_bien_nong_lam_thuy_san"]) is Outcome.passes
    assert sector(["thuong_mai_dich_vu"]) is Outcome.fails
    assert sector([]) is Outcome.undetermined


@pytest.mark.parametrize(
    ("on", "figures", "expected", "rule"),
    [
        (date(2020, 5, 1), {"employees": 150, "revenue_vnd": 50_000_000_000}, Outcome.passes, "ND39/2018"),
        (date(2020, 5, 1), {"employees": 250, "revenue_vnd": 50_000_000_000}, Outcome.fails, "ND39/2018"),
        (date(2017, 5, 1), {"employees": 250}, Outcome.passes, "ND56/2009"),
        (date(2024, 5, 1), {"employees": 150}, Outcome.undetermined, "ND80/2021"),
    ],
)
def test_sme_size_test_follows_the_decree_in_force(
    on: date, figures: dict[str, int], expected: Outcome, rule: str
) -> None:
    v = verdict(on, legal_form="doanh_nghiep_nho_va_vua", **legacy(XA_OF_HUYEN), **figures)
    size = next(r for r in v.reasons if r.check == "size")
    assert (size.outcome, size.rule) == (expected, f"eligibility.sme@{rule}")


def test_the_overall_verdict_is_the_worst_reason_and_each_reason_names_its_legal_basis() -> None:
    ok = verdict(FIRST_ND235, **current(XA_NGHE_AN_NOW))
    assert ok.outcome is Outcome.passes
    assert all(r.legal_basis for r in ok.reasons)
    assert verdict(FIRST_ND235, **current(PHUONG_HAI_PHONG_NOW)).outcome is Outcome.fails
    assert verdict(BEFORE_MERGER, **current(XA_NGHE_AN_NOW)).outcome is Outcome.undetermined


def test_artisans_become_beneficiaries_on_15_10_2025() -> None:
    def form(on: date) -> Outcome:
        v = verdict(on, legal_form="nghe_nhan", **current(XA_NGHE_AN_NOW))
        return next(r for r in v.reasons if r.check == "legal_form").outcome

    assert (form(LAST_ND45), form(FIRST_ND235)) == (Outcome.fails, Outcome.passes)


def test_cluster_infrastructure_investors_are_not_bound_to_a_location() -> None:
    investor = {"legal_form": "doanh_nghiep_ha_tang_ccn"} | legacy(PHUONG_OF_QUAN)
    assert location(date(2024, 6, 1), **investor)[0] is Outcome.passes
    assert location(FIRST_ND235, **investor)[0] is Outcome.passes


def test_the_eligibility_timeline_splits_at_every_rule_change_and_conversion_horizon() -> None:
    from kc_registry.domain.eligibility import timeline

    details = {
        "legal_form": "ho_kinh_doanh",
        "sectors": ["co_khi_che_tao"],
        **legacy(PHUONG_OF_VINH),
        "phuong_converted_on": "2019-01-01",
    }
    periods = [(p.start, p.end, p.outcome) for p in timeline(details, RULES, UNITS, date(2012, 7, 5))]
    assert periods == [
        (date(2012, 7, 5), date(2024, 12, 31), Outcome.passes),  # a xã, then a phường converted < 5 years
        (date(2025, 1, 1), LAST_ND45, Outcome.fails),  # 31/12/2023 − 1/1/2019 > 5 years
        (FIRST_ND235, None, Outcome.passes),  # a phường of a tỉnh under ND 235/2025
    ]
    for start, _, outcome in periods:
        assert evaluate(details, start, RULES, UNITS).outcome is outcome
