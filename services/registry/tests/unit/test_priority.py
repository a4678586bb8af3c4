"""Selection priority from official lists and the record (ND 45/2012 Art. 6, TT 46/2012 Art. 6, TT 26/2014
Art. 3 and 17.3), each rule on both sides of its boundary."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from kc_registry.domain.priority import PriorityVerdict, UnknownAreaError, evaluate
from kc_registry.domain.recognition import Level, Recognition, Scheme
from kc_registry.main import province_now_of
from kc_registry.rulebook import organisations, priority_rules, recognition_rules
from kc_runtime.adminunits import load_catalogue

RULES = priority_rules()
UNITS = load_catalogue()
KY_SON = "16816"  # xã Mỹ Lý, huyện Kỳ Sơn (Nghệ An): poor district (NQ 30a), border district
DIEN_KIM = "17431"  # xã Diễn Kim, huyện Diễn Châu (Nghệ An)
CAM_THUONG = "10507"  # phường Cẩm Thượng, Hải Dương (pre-2025), Hải Phòng now


def establishment(commune: str = DIEN_KIM, **facts: Any) -> dict[str, Any]:
    province = UNITS.legacy_ward(commune).province.code  # type: ignore[union-attr]
    return {"unit_system": "truoc_2025", "commune_code": commune, "province_code": province} | facts


def certificate(level: Level, issued: date, *, revoked_on: date | None = None) -> Recognition:
    return Recognition(
        id=f"r-{level}",
        scheme=Scheme.typical_product,
        product_name="Bình hoa mây tre đan",
        level=level,
        stars=None,
        decision_number="1",
        decision_date=issued,
        issuer="x",
        valid_from=issued,
        valid_to=date(issued.year + 2, 12, 31),
        rule_version="recognition.typical_product@TT26/2014",
        revoked_on=revoked_on,
    )


def judge(details: dict[str, Any], on: date, held: list[Recognition] | None = None) -> PriorityVerdict:
    return evaluate(details, held or [], on, RULES, UNITS, province_now_of=province_now_of)


def test_the_ky_son_ward_is_in_the_official_poor_and_border_lists_in_the_order_of_tt46() -> None:
    assert UNITS.legacy_ward(KY_SON).district_code == "417"  # type: ignore[union-attr]
    verdict = judge(establishment(KY_SON), date(2023, 6, 1))
    assert verdict.areas == ["vung_cao_bien_gioi_dtts", "huyen_ngheo_30a"] and verdict.area_rank == 0
    assert judge(establishment(DIEN_KIM), date(2023, 6, 1)).areas == []


def test_a_province_with_no_list_on_record_is_undetermined_not_no() -> None:
    verdict = judge(establishment(CAM_THUONG), date(2023, 6, 1))
    outcomes = {c.criterion: c.outcome for c in verdict.criteria}
    assert outcomes["dia_ban.huyen_ngheo_30a"] == "chua_xac_dinh"
    assert outcomes["dia_ban.xa_nong_thon_moi"] == "chua_xac_dinh"
    assert all("(to confirm)" in c.rule for c in verdict.criteria if c.criterion.startswith("dia_ban"))


def test_an_area_code_no_official_list_defines_is_an_error() -> None:
    assert RULES.check_areas(["huyen_ngheo_30a"], date(2023, 1, 1)) == ["huyen_ngheo_30a"]
    with pytest.raises(UnknownAreaError, match="vung_dbkk") as refused:
        RULES.check_areas(["vung_dbkk"], date(2023, 1, 1))
    assert refused.value.field == "areas"


def test_only_a_regional_or_national_certificate_gives_priority() -> None:
    on = date(2023, 6, 1)
    for level, expected in ((Level.huyen, False), (Level.tinh, False), (Level.khu_vuc, True), (Level.quoc_gia, True)):
        verdict = judge(establishment(), on, [certificate(level, date(2022, 9, 15))])
        assert verdict.recognition is expected, level
        assert ("b" in verdict.sector_groups) is expected


def test_a_certificate_gives_priority_until_31_12_of_the_third_year_and_not_a_day_after() -> None:
    cert = certificate(Level.khu_vuc, date(2021, 10, 1))
    assert judge(establishment(), date(2023, 12, 31), [cert]).recognition is True
    assert judge(establishment(), date(2024, 1, 1), [cert]).recognition is False
    assert judge(establishment(), date(2021, 9, 30), [cert]).recognition is False


def test_a_revoked_certificate_gives_no_priority_from_its_revocation() -> None:
    cert = certificate(Level.quoc_gia, date(2022, 1, 10), revoked_on=date(2023, 3, 1))
    assert judge(establishment(), date(2023, 2, 28), [cert]).recognition is True
    assert judge(establishment(), date(2023, 3, 1), [cert]).recognition is False


def test_fifty_workers_is_labour_intensive_and_forty_nine_is_not() -> None:
    assert judge(establishment(employees=50), date(2023, 6, 1)).sector_groups == ["b"]
    assert judge(establishment(employees=49), date(2023, 6, 1)).sector_groups == []
    unknown = {c.criterion: c.outcome for c in judge(establishment(), date(2023, 6, 1)).criteria}
    assert unknown["nganh_nghe.b.nhieu_lao_dong"] == "chua_xac_dinh"


def test_local_raw_materials_count_only_above_fifty_percent() -> None:
    assert judge(establishment(local_materials_pct=51), date(2023, 6, 1)).sector_groups == ["b"]
    assert judge(establishment(local_materials_pct=50), date(2023, 6, 1)).sector_groups == []


def test_mechanical_engineering_and_chemicals_for_agriculture_are_priority_sectors_after_point_b() -> None:
    for sector in ("co_khi_nong_nghiep", "hoa_chat_nong_nghiep", "che_bien_nong_lam_thuy_san", "cong_nghiep_ho_tro"):
        assert judge(establishment(sectors=[sector]), date(2023, 6, 1)).sector_groups == ["a"], sector
    assert judge(establishment(sectors=["thu_cong_my_nghe"]), date(2023, 6, 1)).sector_groups == []
    both = judge(establishment(sectors=["co_khi_nong_nghiep"], employees=80), date(2023, 6, 1))
    assert both.sector_groups == ["b", "a"] and both.rank() == [99, 0]


def test_the_tt26_regions_have_28_15_20_provinces_and_nghe_an_thanh_hoa_ha_tinh_are_northern() -> None:
    table = RULES.regions.on(date(2020, 1, 1)).params
    assert (len(table.bac), len(table.trung_tay_nguyen), len(table.nam)) == (28, 15, 20)
    assert set(table.bac) | set(table.trung_tay_nguyen) | set(table.nam) == set(UNITS.provinces_before)
    for province in ("38", "40", "42"):
        assert table.of_legacy(province) == "bac"
    assert judge(establishment(DIEN_KIM), date(2023, 6, 1)).region_now == "bac"


def test_a_merged_province_is_in_its_predecessors_region_and_lam_dong_is_assumed_central() -> None:
    verdict = judge(establishment(CAM_THUONG), date(2025, 8, 1))
    assert (verdict.region_as_recorded, verdict.region_now) == ("bac", "bac")
    table = RULES.regions.on(date(2025, 8, 1)).params
    assert province_now_of("60") == ("68", ["60", "67", "68"])
    assert table.of_legacy("60") == "nam" and table.merged["68"] == "trung_tay_nguyen"


def test_certificates_cite_tt26_article_17_3_and_sectors_nd45_article_5() -> None:
    tp = recognition_rules().typical_product
    assert all("Điều 17 khoản 3" in v.legal_basis and "Điều 13" not in v.legal_basis for v in tp.versions)
    assert "Điều 17 khoản 3" in RULES.recognitions.on(date(2023, 1, 1)).legal_basis
    from kc_registry.rulebook import eligibility_rules

    assert "Điều 5" in eligibility_rules().sector.on(date(2023, 1, 1)).legal_basis
    assert "Điều 6" in RULES.sectors.on(date(2023, 1, 1)).legal_basis


def test_the_cuc_is_named_as_it_was_on_the_day() -> None:
    cuc = organisations()["cuc"]
    assert cuc.on(date(2014, 5, 1)).params.name == "Cục Công nghiệp địa phương"
    assert cuc.on(date(2023, 6, 20)).params.name == "Cục Công Thương địa phương"
    assert cuc.on(date(2025, 2, 28)).params.name == "Cục Công Thương địa phương"
    assert cuc.on(date(2025, 3, 1)).params.name == "Cục Đổi mới sáng tạo, Chuyển đổi xanh và Khuyến công"


def test_the_published_facts_carry_the_official_list_periods_and_the_region_not_a_declared_tag() -> None:
    from kc_contracts.registry_events import EstablishmentRegisteredV1
    from kc_registry.translators import facts

    published = facts(establishment(KY_SON) | {"priority_areas": ["vung_dbkk"]})  # a tag typed in is ignored
    assert {p["area"]: (p["start"], p["end"]) for p in published["priority_areas"]} == {
        "huyen_ngheo_30a": (date(2008, 12, 27), date(2025, 6, 30)),
        "vung_cao_bien_gioi_dtts": (date(2013, 2, 10), date(2025, 6, 30)),
    }
    assert all(p["to_confirm"] for p in published["priority_areas"]) and published["region"] == "bac"
    event = EstablishmentRegisteredV1(
        establishment_id="5d1e5a48-6d8f-4a57-a3c4-9a1fa8c2d001",
        name="x",
        province_code="40",
        commune_code=KY_SON,
        legal_form="ho_kinh_doanh",
        registered_at="2024-01-01T00:00:00+07:00",
        **{k: published[k] for k in ("priority_areas", "region")},
    )
    assert event.priority_areas is not None and event.priority_areas[0].rule.startswith("priority.list.")
    assert facts(establishment(DIEN_KIM))["priority_areas"] == []
