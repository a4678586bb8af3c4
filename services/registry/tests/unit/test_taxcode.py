"""Mã số thuế: formats and the check digit."""

from __future__ import annotations

import pytest
from kc_registry.domain.errors import InvalidTaxCodeError
from kc_registry.domain.taxcode import check_digit, normalize_tax_code


@pytest.mark.parametrize("code", ["0100112437", "0100109106", "0100112437-001", "040201001234"])
def test_valid_tax_codes_are_accepted(code: str) -> None:
    assert normalize_tax_code(code) == code


def test_spaces_and_dots_are_ignored() -> None:
    assert normalize_tax_code(" 0100.112.437 ") == "0100112437"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("0100112438", "sai số kiểm tra"),
        ("0100112438-001", "sai số kiểm tra"),
        ("01001124", "phải gồm 10 chữ số"),
        ("01001124AB", "phải gồm 10 chữ số"),
        ("0100112437-1", "phải gồm 10 chữ số"),
    ],
)
def test_malformed_tax_codes_are_refused_with_the_reason(code: str, reason: str) -> None:
    with pytest.raises(InvalidTaxCodeError, match=reason):
        normalize_tax_code(code)


def test_check_digit_matches_published_codes() -> None:
    assert check_digit("010011243") == 7
    assert check_digit("010010910") == 6
