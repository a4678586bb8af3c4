"""Recognitions: validity from the dated rules, the chain of levels, revocation."""

from __future__ import annotations

from datetime import date

import pytest
from kc_registry.domain.errors import RecognitionError
from kc_registry.domain.recognition import Level, Recognition, Scheme, add_months, validity
from kc_registry.rulebook import recognition_rules

RULES = recognition_rules()


def held(level: Level, decided: date, valid_to: date, product: str = "Chuông đồng") -> Recognition:
    return Recognition(
        id="r",
        scheme=Scheme.typical_product,
        product_name=product,
        level=level,
        stars=None,
        decision_number="1",
        decision_date=decided,
        issuer="UBND",
        valid_from=decided,
        valid_to=valid_to,
        rule_version="x",
    )


def test_typical_product_certificate_lasts_until_31_12_of_the_third_year_counting_the_issue_year() -> None:
    valid_to, rule = validity(
        RULES,
        scheme=Scheme.typical_product,
        level=Level.huyen,
        stars=None,
        decision_date=date(2024, 3, 1),
        held=[],
        product_name="Chuông đồng",
    )
    assert valid_to == date(2026, 12, 31)
    assert rule == "recognition.typical_product@TT26/2014"


def test_ocop_certificate_lasts_36_months() -> None:
    valid_to, rule = validity(
        RULES,
        scheme=Scheme.ocop,
        level=None,
        stars=4,
        decision_date=date(2024, 5, 10),
        held=[],
        product_name="Nước mắm",
    )
    assert valid_to == date(2027, 5, 9)
    assert rule == "recognition.ocop@QD148/2023"
    assert add_months(date(2024, 2, 29), 36) == date(2027, 2, 28)


def test_ocop_stars_must_be_three_to_five() -> None:
    with pytest.raises(RecognitionError, match="Hạng sao OCOP"):
        validity(
            RULES,
            scheme=Scheme.ocop,
            level=None,
            stars=2,
            decision_date=date(2024, 5, 10),
            held=[],
            product_name="Nước mắm",
        )


def test_district_level_ends_and_commune_level_begins_on_1_7_2025() -> None:
    with pytest.raises(RecognitionError, match="cấp huyện không áp dụng"):
        validity(
            RULES,
            scheme=Scheme.typical_product,
            level=Level.huyen,
            stars=None,
            decision_date=date(2025, 7, 1),
            held=[],
            product_name="Chuông đồng",
        )
    with pytest.raises(RecognitionError, match="cấp xã không áp dụng"):
        validity(
            RULES,
            scheme=Scheme.typical_product,
            level=Level.xa,
            stars=None,
            decision_date=date(2025, 6, 30),
            held=[],
            product_name="Chuông đồng",
        )


def test_a_higher_level_needs_a_valid_lower_level_certificate_for_the_same_product() -> None:
    def provincial(on: date, certificates: list[Recognition]) -> date:
        return validity(
            RULES,
            scheme=Scheme.typical_product,
            level=Level.tinh,
            stars=None,
            decision_date=on,
            held=certificates,
            product_name="chuông đồng",
        )[0]

    with pytest.raises(RecognitionError, match="Cần giấy chứng nhận cấp huyện còn hiệu lực"):
        provincial(date(2024, 6, 1), [])
    with pytest.raises(RecognitionError):
        provincial(date(2024, 6, 1), [held(Level.huyen, date(2024, 3, 1), date(2026, 12, 31), "Nồi đồng")])
    with pytest.raises(RecognitionError):  # expired
        provincial(date(2024, 6, 1), [held(Level.huyen, date(2020, 3, 1), date(2022, 12, 31))])
    district = held(Level.huyen, date(2024, 3, 1), date(2026, 12, 31))
    assert provincial(date(2024, 6, 1), [district]) == date(2026, 12, 31)
    # after 1/7/2025 a still-valid district certificate counts as the level below the province
    assert provincial(date(2025, 9, 1), [district]) == date(2027, 12, 31)


def test_a_revoked_certificate_is_not_valid_from_its_revocation() -> None:
    r = held(Level.tinh, date(2024, 3, 1), date(2026, 12, 31))
    revoked = Recognition(**(r.__dict__ | {"revoked_on": date(2025, 1, 10), "revoke_reason": "vi phạm"}))
    assert revoked.valid_on(date(2025, 1, 9))
    assert not revoked.valid_on(date(2025, 1, 10))
