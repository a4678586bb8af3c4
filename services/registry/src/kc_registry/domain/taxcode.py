"""Mã số thuế (MST) and other registration numbers.

- 10 digits: enterprises, cooperatives, household businesses registered before 7/2025. The tenth
  digit checks the first nine: N10 = 10 - (31·N1 + 29·N2 + 23·N3 + 19·N4 + 17·N5 + 13·N6 + 7·N7 +
  5·N8 + 3·N9) mod 11; a result of 10 is never issued.
- 13 digits written ``NNNNNNNNNN-NNN``: a branch or dependent unit (the first ten are checked).
- 12 digits: the personal identification number used as tax code for individuals and household
  businesses from 1/7/2025 (Thông tư 86/2024/TT-BTC); no check digit is published.
"""

from __future__ import annotations

import re

from kc_registry.domain.errors import InvalidTaxCodeError

_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
_TEN = re.compile(r"^\d{10}$")
_BRANCH = re.compile(r"^(\d{10})-(\d{3})$")
_PERSONAL = re.compile(r"^\d{12}$")


def check_digit(first_nine: str) -> int | None:
    """The tenth digit for these nine, or None when no valid MST starts with them."""
    value = 10 - sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True)) % 11
    return None if value == 10 else value


def normalize_tax_code(raw: str) -> str:
    """Validate and return the canonical form; raise :class:`InvalidTaxCodeError` with the reason."""
    code = re.sub(r"[\s.]", "", raw)
    if branch := _BRANCH.match(code):
        _check_ten(branch.group(1), raw)
        return code
    if _PERSONAL.match(code):
        return code
    if not _TEN.match(code):
        raise InvalidTaxCodeError(
            f"Mã số thuế {raw!r} phải gồm 10 chữ số, 13 chữ số (NNNNNNNNNN-NNN) hoặc 12 chữ số (số định danh) / "
            "tax code must have 10 digits, 10+3 digits or 12 digits",
            field="tax_code",
        )
    _check_ten(code, raw)
    return code


def _check_ten(code: str, raw: str) -> None:
    expected = check_digit(code[:9])
    if expected is None or int(code[9]) != expected:
        raise InvalidTaxCodeError(
            f"Mã số thuế {raw!r} sai số kiểm tra (chữ số thứ 10) / tax code check digit is wrong",
            field="tax_code",
        )
