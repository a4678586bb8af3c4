"""Who may benefit from khuyến công on a given date, explained reason by reason.

Pure: the rules (dated data), the unit lookups and the date come in as arguments. Each check
answers *đạt* (passes), *không đạt* (fails) or *chưa xác định* (cannot be decided from what is
recorded — the Sở must complete the record), names the rule version and its legal basis.
The location checked is the production site (địa điểm sản xuất), as ND 45/2012 Art. 2 reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from kc_kernel.dated import DatedRules
from kc_kernel.units import REORGANISED_ON, AdminUnits, CurrentCommune, LegacyWard, UnitSystem, WardType
from kc_kernel.vocabulary import label
from pydantic import BaseModel, ConfigDict

REORGANISED = date.fromisoformat(REORGANISED_ON)


class Outcome(StrEnum):
    passes = "dat"
    fails = "khong_dat"
    undetermined = "chua_xac_dinh"


class LocationRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    scheme: Literal["nd45", "nd235"]
    eligible_ward_types: list[str] = []
    eligible_district_types: list[str] = []
    eligible_city_classes: list[int] = []
    converted_phuong_max_years: int = 0
    current_unit_types: list[str] = []
    in_province: list[str] = []
    in_central_city: list[str] = []
    craft_village_anywhere: bool = False
    cleaner_production_anywhere: bool = False
    no_location_limit_forms: list[str] = []


class LegalFormRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    forms: list[str]


class SectorRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    eligible: list[str]


class SmeRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    combine: Literal["capital_or_employees", "employees_and_revenue_or_capital"]
    max_employees: int
    max_capital_vnd: int
    max_revenue_vnd: int | None = None


@dataclass(frozen=True)
class CityClass:
    district_code: str
    name: str
    city_class: int
    since: date


@dataclass(frozen=True)
class EligibilityRules:
    location: DatedRules[LocationRule]
    legal_form: DatedRules[LegalFormRule]
    sector: DatedRules[SectorRule]
    sme: DatedRules[SmeRule]
    city_classes: tuple[CityClass, ...] = ()
    sector_labels: dict[str, str] = field(default_factory=dict)

    def city_class(self, district_code: str, on: date) -> int | None:
        known = [c for c in self.city_classes if c.district_code == district_code and c.since <= on]
        return max(known, key=lambda c: c.since).city_class if known else None


@dataclass(frozen=True)
class Reason:
    check: str
    outcome: Outcome
    message: str
    message_en: str
    rule: str
    legal_basis: str


@dataclass(frozen=True)
class Verdict:
    on: date
    outcome: Outcome
    reasons: tuple[Reason, ...]


def evaluate(details: dict[str, Any], on: date, rules: EligibilityRules, units: AdminUnits) -> Verdict:
    reasons = (
        _legal_form(details, on, rules),
        _location(details, on, rules, units),
        _sector(details, on, rules),
        *_size(details, on, rules),
    )
    outcomes = {r.outcome for r in reasons}
    overall = (
        Outcome.fails
        if Outcome.fails in outcomes
        else Outcome.undetermined
        if Outcome.undetermined in outcomes
        else Outcome.passes
    )
    return Verdict(on=on, outcome=overall, reasons=reasons)


def _reason(check: str, rules: DatedRules[Any], on: date, outcome: Outcome, vi: str, en: str) -> Reason:
    version = rules.on(on)
    return Reason(check, outcome, vi, en, rules.reference(on), version.legal_basis)


def _legal_form(details: dict[str, Any], on: date, rules: EligibilityRules) -> Reason:
    form = details.get("legal_form")
    allowed = rules.legal_form.on(on).params.forms
    if form in allowed:
        return _reason(
            "legal_form",
            rules.legal_form,
            on,
            Outcome.passes,
            f"Loại hình «{label('legal_form', form)}» thuộc đối tượng",
            f"legal form {form} is eligible",
        )
    return _reason(
        "legal_form",
        rules.legal_form,
        on,
        Outcome.fails,
        f"Loại hình «{label('legal_form', form)}» không thuộc đối tượng vào ngày {on:%d/%m/%Y}",
        f"legal form {form} is not eligible on {on.isoformat()}",
    )


def _sector(details: dict[str, Any], on: date, rules: EligibilityRules) -> Reason:
    sectors = details.get("sectors") or []
    eligible = set(rules.sector.on(on).params.eligible)
    if not sectors:
        return _reason(
            "sector",
            rules.sector,
            on,
            Outcome.undetermined,
            "Chưa ghi ngành nghề sản xuất",
            "no production sector recorded",
        )
    matching = [s for s in sectors if s in eligible]
    if matching:
        labels = ", ".join(rules.sector_labels.get(s) or label("sector", s) for s in matching)
        return _reason(
            "sector",
            rules.sector,
            on,
            Outcome.passes,
            f"Sản xuất công nghiệp - tiểu thủ công nghiệp: {labels}",
            "industrial production sector",
        )
    return _reason(
        "sector",
        rules.sector,
        on,
        Outcome.fails,
        "Không có ngành nghề sản xuất công nghiệp - tiểu thủ công nghiệp",
        "no industrial production sector",
    )


def _size(details: dict[str, Any], on: date, rules: EligibilityRules) -> tuple[Reason, ...]:
    if details.get("legal_form") != "doanh_nghiep_nho_va_vua":
        return ()
    rule = rules.sme.on(on).params
    employees, capital, revenue = (details.get(k) for k in ("employees", "capital_vnd", "revenue_vnd"))
    if rule.combine == "capital_or_employees":
        known = [v for v in (employees, capital) if v is not None]
        if not known:
            return (
                _reason(
                    "size",
                    rules.sme,
                    on,
                    Outcome.undetermined,
                    "Chưa ghi số lao động, nguồn vốn",
                    "employees and capital not recorded",
                ),
            )
        small = (capital is not None and capital <= rule.max_capital_vnd) or (
            employees is not None and employees <= rule.max_employees
        )
    else:
        if employees is None or (capital is None and revenue is None):
            return (
                _reason(
                    "size",
                    rules.sme,
                    on,
                    Outcome.undetermined,
                    "Chưa ghi đủ số lao động và doanh thu hoặc nguồn vốn",
                    "employees and revenue or capital not recorded",
                ),
            )
        money_ok = (revenue is not None and rule.max_revenue_vnd is not None and revenue <= rule.max_revenue_vnd) or (
            capital is not None and capital <= rule.max_capital_vnd
        )
        small = employees <= rule.max_employees and money_ok
    if small:
        return (
            _reason(
                "size",
                rules.sme,
                on,
                Outcome.passes,
                "Đạt tiêu chí doanh nghiệp nhỏ và vừa",
                "meets the SME size test",
            ),
        )
    return (
        _reason(
            "size",
            rules.sme,
            on,
            Outcome.fails,
            f"Vượt tiêu chí doanh nghiệp nhỏ và vừa (tối đa {rule.max_employees} lao động)",
            "exceeds the SME size test",
        ),
    )


def _location(details: dict[str, Any], on: date, rules: EligibilityRules, units: AdminUnits) -> Reason:
    rule = rules.location.on(on).params

    def say(outcome: Outcome, vi: str, en: str) -> Reason:
        return _reason("location", rules.location, on, outcome, vi, en)

    if details.get("cleaner_production") and rule.cleaner_production_anywhere:
        return say(
            Outcome.passes,
            "Áp dụng sản xuất sạch hơn: không giới hạn địa bàn",
            "cleaner production: no location limit",
        )
    if details.get("legal_form") in rule.no_location_limit_forms:
        return say(
            Outcome.passes,
            "Đầu tư hạ tầng cụm công nghiệp: không giới hạn địa bàn",
            "cluster-infrastructure investor: no location limit",
        )
    system = UnitSystem(details.get("unit_system", UnitSystem.current))
    code = str(details.get("commune_code", ""))
    legacy = units.legacy_ward(code) if system is UnitSystem.legacy else None
    if rule.scheme == "nd45":
        if legacy is not None:
            return _nd45_legacy(legacy, details, on, rule, rules, say)
        if on < REORGANISED:
            return say(
                Outcome.undetermined,
                "Chưa ghi đơn vị hành chính trước 01/07/2025 của địa điểm sản xuất",
                "the pre-1/7/2025 unit of the production site is not recorded",
            )
        current = _current(details, system, code, units)
        if current is None:
            return say(Outcome.undetermined, "Không xác định được đơn vị hành chính", "unit unknown")
        if current.type.value in rule.current_unit_types:
            return say(
                Outcome.passes,
                f"{current.name} ({label('unit_type', current.type).lower()}) thuộc địa bàn",
                f"{current.type.value} is an eligible location",
            )
        return say(
            Outcome.undetermined,
            f"{current.name}: phường — cần ghi phường/xã trước 01/07/2025 để xét theo NĐ 45/2012",
            "a phường: record the pre-reorganisation ward to apply ND 45/2012",
        )

    current = _current(details, system, code, units)
    if current is None:
        return say(Outcome.undetermined, "Không xác định được đơn vị hành chính hiện nay", "current unit unknown")
    village = details.get("craft_village")
    if village and rule.craft_village_anywhere:
        return say(Outcome.passes, f"Thuộc làng nghề {village}", f"in the craft village {village}")
    allowed = rule.in_central_city if current.province.central_city else rule.in_province
    where = "thành phố trực thuộc trung ương" if current.province.central_city else "tỉnh"
    if current.type.value in allowed:
        return say(
            Outcome.passes,
            f"{current.name} thuộc {current.province.name}: đủ điều kiện địa bàn",
            f"{current.type.value} of a {where} is eligible",
        )
    return say(
        Outcome.fails,
        f"{current.name} là phường của {current.province.name} (thành phố trực thuộc trung ương): "
        "chỉ đủ điều kiện khi thuộc làng nghề",
        "a phường of a centrally-run city is eligible only in a craft village",
    )


def _current(details: dict[str, Any], system: UnitSystem, code: str, units: AdminUnits) -> CurrentCommune | None:
    if system is UnitSystem.current:
        return units.current_commune(code)
    chosen = details.get("current_commune_code")
    if chosen:
        return units.current_commune(str(chosen))
    succession = units.successor(code)
    return succession.default if succession else None


def _nd45_legacy(
    ward: LegacyWard,
    details: dict[str, Any],
    on: date,
    rule: LocationRule,
    rules: EligibilityRules,
    say: Callable[[Outcome, str, str], Reason],
) -> Reason:
    place = f"{ward.name}, {ward.district_name}"
    if ward.type.value in rule.eligible_ward_types:
        return say(
            Outcome.passes,
            f"{place}: {label('unit_type', ward.type).lower()} thuộc địa bàn",
            f"a {ward.type.value} is eligible",
        )
    if ward.district_type.value in rule.eligible_district_types:
        return say(
            Outcome.passes,
            f"{place}: thuộc {label('unit_type', ward.district_type).lower()}",
            f"within a {ward.district_type.value}",
        )
    if ward.type is not WardType.phuong or ward.district_type.value == "quan":
        return say(
            Outcome.fails,
            f"{place}: phường thuộc quận không thuộc địa bàn khuyến công",
            "a phường of an urban district (quận) is not eligible",
        )
    city_class = rules.city_class(ward.district_code, on)
    if city_class in rule.eligible_city_classes:
        return say(
            Outcome.passes,
            f"{place}: phường thuộc thành phố loại {city_class}",
            f"a phường of a class-{city_class} city",
        )
    if city_class == 1:
        converted = details.get("phuong_converted_on")
        if not converted:
            return say(
                Outcome.undetermined,
                f"{place}: phường thuộc thành phố loại 1 — cần ngày chuyển đổi từ xã",
                "a phường of a class-1 city: the date it was converted from a xã is needed",
            )
        plan_year_end = date(on.year - 1, 12, 31)  # NĐ 45 hướng dẫn: tính đến 31/12 năm trước năm lập kế hoạch
        converted_on = date.fromisoformat(str(converted))
        years = (plan_year_end - converted_on).days / 365.25
        if years < 0:
            return say(
                Outcome.passes,
                f"{place}: trước ngày chuyển đổi ({converted_on:%d/%m/%Y}) còn là xã",
                "still a xã before its conversion",
            )
        if years <= rule.converted_phuong_max_years:
            return say(
                Outcome.passes,
                f"{place}: chuyển đổi từ xã ngày {converted_on:%d/%m/%Y}, chưa quá "
                f"{rule.converted_phuong_max_years} năm",
                "converted from a xã recently enough",
            )
        return say(
            Outcome.fails,
            f"{place}: chuyển đổi từ xã đã quá {rule.converted_phuong_max_years} năm",
            "converted from a xã too long ago",
        )
    return say(
        Outcome.undetermined,
        f"{place}: chưa có dữ liệu loại đô thị của {ward.district_name} — Sở cần xác nhận",
        "the city's class is not on record; the Sở must confirm it",
    )


@dataclass(frozen=True)
class Period:
    """The verdict is the same on every day from ``start`` to ``end`` (inclusive; None: open)."""

    start: date
    end: date | None
    outcome: Outcome
    rules: tuple[str, ...]


def breakpoints(details: dict[str, Any], rules: EligibilityRules, since: date) -> list[date]:
    """Every day on which a verdict may change: rule versions, the reorganisation, city classes,
    and the yearly horizon of a phường's conversion from xã."""
    days = {since, REORGANISED}
    for rule_set in (rules.location, rules.legal_form, rules.sector, rules.sme):
        for version in rule_set.versions:
            days.add(version.effective_from)
            if version.effective_to is not None:
                days.add(date.fromordinal(version.effective_to.toordinal() + 1))
    days |= {c.since for c in rules.city_classes}
    converted = details.get("phuong_converted_on")
    if converted:
        year = date.fromisoformat(str(converted)).year
        days |= {date(y, 1, 1) for y in range(year, year + 8)}
    return sorted(d for d in days if d >= since)


def timeline(details: dict[str, Any], rules: EligibilityRules, units: AdminUnits, since: date) -> list[Period]:
    """The verdict as periods from ``since`` on: what other services need to judge any date."""
    periods: list[Period] = []
    points = breakpoints(details, rules, since)
    for i, day in enumerate(points):
        verdict = evaluate(details, day, rules, units)
        refs = tuple(sorted({r.rule for r in verdict.reasons}))
        end = date.fromordinal(points[i + 1].toordinal() - 1) if i + 1 < len(points) else None
        if periods and periods[-1].outcome is verdict.outcome and periods[-1].rules == refs:
            periods[-1] = Period(periods[-1].start, end, verdict.outcome, refs)
        else:
            periods.append(Period(day, end, verdict.outcome, refs))
    return periods
