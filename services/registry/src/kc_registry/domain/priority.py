"""Ưu tiên xét chọn (ND 45/2012 Art. 6; TT 46/2012 Art. 6): an establishment's priority on a date, from
the official lists and its record — never from a tag the applicant declares.

- **Area** (địa bàn): the kinds of TT 46/2012 Art. 6.1 in their order; membership from official lists of
  units (the establishment's pre-2025 district, as recorded or through the 2025 succession). A kind with
  no list on record for the province is *chưa xác định*, not *không*.
- **Sector** (ngành nghề): ND 45/2012 Art. 6.2 point b (typical products, export, local raw materials
  above 50 %, ≥ 50 workers) before point a (mechanical engineering and chemicals for agriculture, agro-
  forestry-aquatic processing, supporting industry) — TT 46/2012 Art. 6.3.a.
- **Recognitions**: only a regional or national typical-product certificate, and only while valid on the
  day judged (TT 26/2014 Art. 17.3: until 31/12 of the third year counting the issue year).
- **Region** (khu vực, TT 26/2014 Art. 3.1.c) of the establishment's province, as recorded and now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kc_kernel.dated import DatedRules
from kc_kernel.units import REORGANISED_ON, AdminUnits, UnitSystem
from kc_kernel.vocabulary import label
from pydantic import BaseModel, ConfigDict

from kc_registry.domain.errors import RegistryError
from kc_registry.domain.recognition import Recognition

REORGANISED = date.fromisoformat(REORGANISED_ON)


class UnknownAreaError(RegistryError):
    """An area code that no official list defines."""


class AreaOrder(BaseModel):
    model_config = ConfigDict(frozen=True)
    order: list[str]


class AreaList(BaseModel):
    """One official list: the units of one area kind, with its dates (via :class:`DatedRules`)."""

    model_config = ConfigDict(frozen=True)
    area: str
    to_confirm: bool = False
    provinces: list[str] = []  # provinces whose units the list covers (others: not on record)
    districts: list[str] = []  # pre-2025 district codes
    communes: list[str] = []  # commune codes (pre-2025 wards)


class SectorPriorityRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    order: list[str]
    sectors_a: list[str]
    criteria_b: list[str]
    min_workers: int
    local_materials_above_pct: int


class RecognitionPriorityRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    scheme: str
    levels: list[str]


class RegionTable(BaseModel):
    model_config = ConfigDict(frozen=True)
    bac: list[str]
    trung_tay_nguyen: list[str]
    nam: list[str]
    merged: dict[str, str] = {}

    def of_legacy(self, province: str) -> str | None:
        for region in ("bac", "trung_tay_nguyen", "nam"):
            if province in getattr(self, region):
                return region
        return None


@dataclass(frozen=True)
class PriorityRules:
    areas: DatedRules[AreaOrder]
    lists: tuple[DatedRules[AreaList], ...]
    sectors: DatedRules[SectorPriorityRule]
    recognitions: DatedRules[RecognitionPriorityRule]
    regions: DatedRules[RegionTable]

    def area_codes(self, on: date) -> list[str]:
        return list(self.areas.on(on).params.order)

    def check_areas(self, codes: list[str], on: date) -> list[str]:
        """The codes, or an :class:`UnknownAreaError` naming those no official list defines."""
        known = self.area_codes(on)
        unknown = [c for c in codes if c not in known]
        if unknown:
            listed = ", ".join(f"«{label('priority_area', c)}» ({c})" for c in known)
            raise UnknownAreaError(
                f"Địa bàn ưu tiên không có trong danh mục: {', '.join(unknown)}; các địa bàn: {listed} "
                "/ unknown priority area",
                field="areas",
            )
        return codes


@dataclass(frozen=True)
class Criterion:
    criterion: str
    outcome: str  # dat | khong_dat | chua_xac_dinh
    explanation: str
    rule: str
    legal_basis: str


@dataclass(frozen=True)
class PriorityVerdict:
    on: date
    areas: list[str]  # area kinds the establishment is in, in the legal order
    area_rank: int | None  # position of the first area kind (0 = point a), None: none
    sector_groups: list[str]  # "b", "a": the ND 45 Art. 6.2 points met, in the order considered
    recognition: bool
    region_as_recorded: str | None
    region_now: str | None
    criteria: list[Criterion] = field(default_factory=list)

    def rank(self) -> list[int]:
        """Smaller first: area (by TT 46 order), then sector point b, then point a."""
        area = self.area_rank if self.area_rank is not None else 99
        sector = min((["b", "a"].index(g) for g in self.sector_groups), default=9)
        return [area, sector]


def _district(details: dict[str, Any], units: AdminUnits) -> tuple[str | None, str | None]:
    """(pre-2025 district code, pre-2025 province code) of the production site, as recorded or through
    the succession (a current commune: the district of the ward whose main part it received)."""
    code = str(details.get("commune_code") or "")
    system = UnitSystem(details.get("unit_system", UnitSystem.current))
    if system is UnitSystem.legacy:
        ward = units.legacy_ward(code)
        return (ward.district_code, ward.province.code) if ward else (None, None)
    return None, None


def region_now(rules: RegionTable, province_now: str, predecessors: list[str]) -> str | None:
    if province_now in rules.merged:
        return rules.merged[province_now]
    found = {r for p in predecessors if (r := rules.of_legacy(p))}
    return found.pop() if len(found) == 1 else None


def evaluate(
    details: dict[str, Any],
    recognitions: list[Recognition],
    on: date,
    rules: PriorityRules,
    units: AdminUnits,
    *,
    province_now_of: Callable[[str], tuple[str, list[str]]],
) -> PriorityVerdict:
    """``province_now_of(legacy or current province code)`` → (current province, its pre-2025 provinces)."""
    criteria: list[Criterion] = []
    order = rules.areas.on(on).params.order
    district, legacy_province = _district(details, units)
    province = str(details.get("province_code") or "")
    areas: list[str] = []
    for area_rules in rules.lists:
        if not any(v.in_force(on) for v in area_rules.versions):
            continue
        version = area_rules.on(on)
        the_list = version.params
        ref = area_rules.reference(on) + (" (to confirm)" if the_list.to_confirm else "")
        name = label("priority_area", the_list.area)
        if district is None:
            outcome, text = "chua_xac_dinh", f"{name}: chưa ghi đơn vị hành chính trước 01/07/2025 của cơ sở"
        elif legacy_province not in the_list.provinces:
            outcome, text = "chua_xac_dinh", f"{name}: chưa có danh sách của tỉnh này"
        elif district in the_list.districts or str(details.get("commune_code")) in the_list.communes:
            outcome, text = "dat", f"{name}: có trong danh sách"
            areas.append(the_list.area)
        else:
            outcome, text = "khong_dat", f"{name}: không có trong danh sách"
        criteria.append(Criterion(f"dia_ban.{the_list.area}", outcome, text, ref, version.legal_basis))
    areas = [a for a in order if a in areas]
    area_rank = order.index(areas[0]) if areas else None

    sector_rule = rules.sectors.on(on)
    s = sector_rule.params
    s_ref = rules.sectors.reference(on)
    recorded = set(details.get("sectors") or [])
    met_a = [x for x in s.sectors_a if x in recorded]
    criteria.append(
        Criterion(
            "nganh_nghe.a",
            "dat" if met_a else "khong_dat",
            "Ngành ưu tiên (NĐ 45 Điều 6.2.a): " + (", ".join(label("sector", x) for x in met_a) or "không"),
            s_ref,
            sector_rule.legal_basis,
        )
    )
    rec_rule = rules.recognitions.on(on)
    valid = [
        r
        for r in recognitions
        if r.scheme.value == rec_rule.params.scheme
        and r.level is not None
        and r.level.value in rec_rule.params.levels
        and r.valid_on(on)
    ]
    criteria.append(
        Criterion(
            "cong_nhan",
            "dat" if valid else "khong_dat",
            f"Sản phẩm CNNT tiêu biểu cấp khu vực/quốc gia còn hiệu lực ngày {on:%d/%m/%Y}: "
            + (", ".join(f"{r.product_name} ({label('recognition_level', r.level)})" for r in valid) or "không có"),
            rules.recognitions.reference(on),
            rec_rule.legal_basis,
        )
    )
    b: list[str] = ["san_pham_tieu_bieu"] if valid else []
    employees = details.get("employees")
    exports = details.get("export_contract")
    materials = details.get("local_materials_pct")
    for criterion, value, met, text in (
        ("xuat_khau", exports, bool(exports), "Có hợp đồng xuất khẩu"),
        (
            "nguyen_lieu_tai_cho",
            materials,
            materials is not None and int(materials) > s.local_materials_above_pct,
            f"Nguyên liệu tại chỗ trên {s.local_materials_above_pct}%",
        ),
        (
            "nhieu_lao_dong",
            employees,
            employees is not None and int(employees) >= s.min_workers,
            f"Từ {s.min_workers} lao động trở lên",
        ),
    ):
        outcome = "chua_xac_dinh" if value is None else "dat" if met else "khong_dat"
        if met:
            b.append(criterion)
        criteria.append(Criterion(f"nganh_nghe.b.{criterion}", outcome, text, s_ref, sector_rule.legal_basis))
    groups = [g for g in s.order if (g == "b" and b) or (g == "a" and met_a)]

    region_rules = rules.regions.on(on).params
    recorded_province = legacy_province or province
    now, predecessors = province_now_of(recorded_province) if recorded_province else ("", [])
    return PriorityVerdict(
        on=on,
        areas=areas,
        area_rank=area_rank,
        sector_groups=groups,
        recognition=bool(valid),
        region_as_recorded=region_rules.of_legacy(recorded_province) or region_now(region_rules, now, predecessors),
        region_now=region_now(region_rules, now, predecessors) if now else None,
        criteria=criteria,
    )


def area_periods(details: dict[str, Any], rules: PriorityRules, units: AdminUnits) -> list[dict[str, Any]]:
    """Every period in which the production site is on an official list, list by list (published with the
    establishment's facts, so other services judge area priority on any date from the lists)."""
    district, _ = _district(details, units)
    commune = str(details.get("commune_code") or "")
    periods = []
    for area_rules in rules.lists:
        for version in area_rules.versions:
            the_list = version.params
            if (district and district in the_list.districts) or (commune and commune in the_list.communes):
                periods.append(
                    {
                        "area": the_list.area,
                        "start": version.effective_from,
                        "end": version.effective_to,
                        "rule": f"{area_rules.name}@{version.version}",
                        "to_confirm": the_list.to_confirm,
                    }
                )
    return periods


def recorded_region(details: dict[str, Any], rules: PriorityRules, units: AdminUnits, on: date) -> str | None:
    """The TT 26/2014 region of the province as recorded (pre-2025 ward: its province then)."""
    _, legacy_province = _district(details, units)
    return rules.regions.on(on).params.of_legacy(legacy_province or str(details.get("province_code") or ""))
