"""Recognitions: typical rural industrial product certificates and OCOP stars.

*Sản phẩm CNNT tiêu biểu* (TT 26/2014/TT-BCT): levels huyện (until the district level ended on
1/7/2025) or xã (after) → tỉnh → khu vực → quốc gia; each level needs a valid certificate of the level
below; valid until 31/12 of the third year counting the issue year. *OCOP* (QĐ 148/QĐ-TTg): 3–5
stars, valid 36 months. Both are one :class:`Recognition`; rules with dates come from the rulebook.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from kc_kernel.dated import DatedRules
from kc_kernel.vocabulary import label
from pydantic import BaseModel, ConfigDict

from kc_registry.domain.errors import RecognitionError


class Scheme(StrEnum):
    typical_product = "san_pham_cnnt_tieu_bieu"
    ocop = "ocop"


class Level(StrEnum):
    xa = "xa"
    huyen = "huyen"
    tinh = "tinh"
    khu_vuc = "khu_vuc"
    quoc_gia = "quoc_gia"


# "cấp tỉnh"… as they read inside a sentence, from the one vocabulary
LEVEL_NAMES = {level: label("recognition_level", level).lower() for level in Level}


class TypicalProductRule(BaseModel):
    """Levels in use (lowest first) and how long a certificate lasts."""

    model_config = ConfigDict(frozen=True)
    levels: list[Level]
    valid_years_counting_issue_year: int


class OcopRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    stars: list[int]
    valid_months: int


@dataclass(frozen=True)
class RecognitionRules:
    typical_product: DatedRules[TypicalProductRule]
    ocop: DatedRules[OcopRule]


@dataclass(frozen=True)
class Recognition:
    id: str
    scheme: Scheme
    product_name: str
    level: Level | None
    stars: int | None
    decision_number: str
    decision_date: date
    issuer: str
    valid_from: date
    valid_to: date
    rule_version: str
    revoked_on: date | None = None
    revoke_reason: str | None = None

    def valid_on(self, day: date) -> bool:
        revoked = self.revoked_on is not None and self.revoked_on <= day
        return self.valid_from <= day <= self.valid_to and not revoked


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def validity(
    rules: RecognitionRules,
    *,
    scheme: Scheme,
    level: Level | None,
    stars: int | None,
    decision_date: date,
    held: list[Recognition],
    product_name: str,
) -> tuple[date, str]:
    """(valid_to, rule reference) for a new certificate, or a :class:`RecognitionError` why not."""
    if scheme is Scheme.ocop:
        rule = rules.ocop.on(decision_date)
        if stars is None or stars not in rule.params.stars:
            raise RecognitionError(
                f"Hạng sao OCOP phải là {rule.params.stars} / OCOP stars must be one of {rule.params.stars}",
                field="stars",
            )
        valid_to = add_months(decision_date, rule.params.valid_months) - timedelta(days=1)
        return valid_to, rules.ocop.reference(decision_date)

    rule_tp = rules.typical_product.on(decision_date)
    levels = rule_tp.params.levels
    if level is None or level not in levels:
        raise RecognitionError(
            f"{LEVEL_NAMES[level] if level else 'Cấp công nhận'} không áp dụng ngày {decision_date:%d/%m/%Y}; "
            f"các cấp: {', '.join(LEVEL_NAMES[lv] for lv in levels)} / level not in use on that date",
            field="level",
        )
    position = levels.index(level)
    if position > 0:
        below = levels[position - 1]
        # huyện certificates issued before 7/2025 still count below tỉnh after the district level ended
        lower_levels = {Level.huyen, Level.xa} if below in (Level.huyen, Level.xa) else {below}
        if not any(
            r.scheme is Scheme.typical_product
            and r.level in lower_levels
            and r.product_name.casefold() == product_name.casefold()
            and r.valid_on(decision_date)
            for r in held
        ):
            raise RecognitionError(
                f"Cần giấy chứng nhận {LEVEL_NAMES[below]} còn hiệu lực cho sản phẩm '{product_name}' "
                f"vào ngày {decision_date:%d/%m/%Y} / a valid {below}-level certificate is required",
                field="level",
            )
    last_year = decision_date.year + rule_tp.params.valid_years_counting_issue_year - 1
    return date(last_year, 12, 31), rules.typical_product.reference(decision_date)
