"""The dated rules a đề án is judged by, and the policies that apply them.

Each policy returns what it decided *and* the rule version it applied (``<set>@<version>``), so
every decision event can record it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from kc_kernel.dated import DatedRules
from kc_kernel.money import vnd
from kc_kernel.vocabulary import label
from pydantic import BaseModel, ConfigDict, model_validator

from kc_appraisal.domain.beneficiary import BeneficiaryFacts
from kc_appraisal.domain.errors import AuthorityError, DeadlineMissedError, OverCeilingError


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CeilingItem(Frozen):
    share_pct: int | None = None
    cap_vnd: int | None = None
    per: str = ""
    label: str = ""  # from the vocabulary, not the rules file


class CeilingTable(Frozen):
    items: dict[str, CeilingItem]

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("items"), dict):
            items = {
                code: {**spec, "label": label("support_item", code)} if isinstance(spec, dict) else spec
                for code, spec in data["items"].items()
            }
            data = {**data, "items": items}
        return data


class AdvanceGroup(Frozen):
    share_pct: int
    min_progress_pct: int
    items: list[str]


class AdvanceRule(Frozen):
    total_cap_pct: int
    groups: dict[str, AdvanceGroup]


class PriorityRule(Frozen):
    areas: list[str]
    sectors: list[str]
    recognition_priority: bool
    owner_priority: bool
    area_multiplier_pct: int


class SettlementRule(Frozen):
    dossier_days_after_acceptance: int
    final_day_next_year: str  # "MM-DD"


class AuthorityMatrix(Frozen):
    quoc_gia: dict[str, str]
    quoc_gia_theo_nhom: dict[str, str] = {}
    dia_phuong: dict[str, str]


class ContentCatalogue(Frozen):
    """The contents in force (codes in the rules file) with their names from the vocabulary."""

    items: dict[str, str]

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            data = {**data, "items": {str(c): label("activity_content", c) for c in data["items"]}}
        return data


@dataclass(frozen=True)
class Calendar:
    version: str
    level: str
    province: str
    plan_year: int
    registration_deadline: date
    dossier_deadline: date
    legal_basis: str


@dataclass(frozen=True)
class Rulebook:
    calendars: tuple[Calendar, ...]
    national_ceilings: DatedRules[CeilingTable]
    local_ceilings: dict[str, DatedRules[CeilingTable]]
    advances: DatedRules[AdvanceRule]
    priority: DatedRules[PriorityRule]
    settlement: DatedRules[SettlementRule]
    authority: DatedRules[AuthorityMatrix]
    contents: DatedRules[ContentCatalogue]


# -- deadlines -------------------------------------------------------------------------------------
CalendarLookup = Callable[[str, str, int], "Calendar | None"]
# (level, province, plan year, implementing unit's name) → the dossier deadline as extended by a decision the
# authority that set it recorded in planning (planning.extension.granted.v1), or None
ExtensionLookup = Callable[[str, str, int, str], "date | None"]


def calendar_for(
    rules: Rulebook, level: str, province: str, plan_year: int, published: CalendarLookup | None = None
) -> Calendar:
    """The calendar the owning authority published (planning), else the packaged default."""
    if published is not None:
        found = published(level, province, plan_year)
        if found is not None:
            return found
    for wanted in (province, "*"):
        for c in rules.calendars:
            if c.level == level and c.province == wanted and c.plan_year == plan_year:
                return c
    raise DeadlineMissedError(
        f"Chưa có lịch kế hoạch {label('plan_level', level).lower()} năm {plan_year} cho "
        f"{label('province', province)} / no plan calendar for this "
        "level, province and year",
        field="plan_year",
    )


def check_deadline(calendar: Calendar, submitted_on: date, extended_to: date | None) -> str:
    deadline = max(calendar.dossier_deadline, extended_to or calendar.dossier_deadline)
    if submitted_on > deadline:
        raise DeadlineMissedError(
            f"Quá hạn nộp hồ sơ ({calendar.dossier_deadline:%d/%m/%Y}, lịch {calendar.version}); nộp ngày "
            f"{submitted_on:%d/%m/%Y} cần có quyết định gia hạn / past the dossier deadline: an extension "
            "decision is required",
            field="submitted_on",
        )
    return f"calendar@{calendar.version}"


# -- ceilings --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CeilingCheck:
    item: str
    allowed_vnd: int | None  # None: no ceiling for this item
    rule: str


def ceiling_table(rules: Rulebook, level: str, province: str, on: date) -> tuple[CeilingTable, str]:
    if level == "dia_phuong" and province in rules.local_ceilings:
        local = rules.local_ceilings[province]
        return local.on(on).params, local.reference(on)
    ref = rules.national_ceilings.reference(on)
    if level == "dia_phuong":
        ref += " (chưa có bảng mức hỗ trợ của tỉnh: áp dụng mức hướng dẫn quốc gia)"
    return rules.national_ceilings.on(on).params, ref


def allowed_support(
    rules: Rulebook, *, level: str, province: str, on: date, item: str, total_cost_vnd: int, multiplier_pct: int
) -> CeilingCheck:
    table, ref = ceiling_table(rules, level, province, on)
    spec = table.items.get(item)
    if spec is None:
        raise OverCeilingError(
            f"Hạng mục hỗ trợ «{label('support_item', item)}» không có trong bảng mức hỗ trợ {ref} "
            f"/ unknown support item {item!r}",
            field="support_item",
        )
    limits = []
    if spec.share_pct is not None:
        limits.append(total_cost_vnd * spec.share_pct // 100)
    if spec.cap_vnd is not None:
        limits.append(spec.cap_vnd * multiplier_pct // 100)
    return CeilingCheck(item, min(limits) if limits else None, ref)


def check_ceiling(check: CeilingCheck, requested_vnd: int, field: str) -> None:
    if check.allowed_vnd is not None and requested_vnd > check.allowed_vnd:
        raise OverCeilingError(
            f"Kinh phí hỗ trợ {vnd(requested_vnd)} đồng vượt mức tối đa {vnd(check.allowed_vnd)} đồng "
            f"cho «{label('support_item', check.item)}» ({check.rule}) / support above the ceiling",
            field=field,
        )


# -- priority --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PriorityItem:
    criterion: str
    met: bool
    explanation: str


@dataclass(frozen=True)
class Priority:
    items: tuple[PriorityItem, ...]
    area: bool
    sector: bool
    multiplier_pct: int
    rule: str

    def rank(self, flagship: bool) -> list[int]:
        """Selection order (DOMAIN §7): flagship first, then area, then sector priority."""
        return [0 if flagship else 1, 0 if self.area else 1, 0 if self.sector else 1]


def evaluate_priority(rules: Rulebook, *, on: date, areas: list[str], beneficiary: BeneficiaryFacts | None) -> Priority:
    rule = rules.priority.on(on).params
    ref = rules.priority.reference(on)
    items: list[PriorityItem] = []
    area_hits = [a for a in areas if a in rule.areas]
    items.append(
        PriorityItem(
            "dia_ban",
            bool(area_hits),
            f"Địa bàn ưu tiên: {', '.join(label('priority_area', a) for a in area_hits)}"
            if area_hits
            else "Không thuộc địa bàn ưu tiên",
        )
    )
    sector_hits = [s for s in (beneficiary.sectors if beneficiary else ()) if s in rule.sectors]
    items.append(
        PriorityItem(
            "nganh_nghe",
            bool(sector_hits),
            f"Ngành nghề ưu tiên: {', '.join(label('sector', s) for s in sector_hits)}"
            if sector_hits
            else "Không có ngành ưu tiên",
        )
    )
    if rule.recognition_priority:
        valid = [r for r in (beneficiary.recognitions if beneficiary else ()) if r.valid_on(on)]
        items.append(
            PriorityItem(
                "cong_nhan",
                bool(valid),
                f"Có {len(valid)} giấy chứng nhận (SP CNNT tiêu biểu/OCOP) còn hiệu lực ngày {on:%d/%m/%Y}"
                if valid
                else f"Không có giấy chứng nhận còn hiệu lực ngày {on:%d/%m/%Y}",
            )
        )
    if rule.owner_priority:
        owner = beneficiary is not None and (beneficiary.women_owned or beneficiary.ethnic_minority_owned)
        items.append(
            PriorityItem(
                "chu_so_huu", bool(owner), "Cơ sở do phụ nữ/người dân tộc thiểu số làm chủ" if owner else "Không"
            )
        )
    sector = any(i.met for i in items if i.criterion != "dia_ban")
    return Priority(tuple(items), bool(area_hits), sector, rule.area_multiplier_pct if area_hits else 100, ref)


# -- advances --------------------------------------------------------------------------------------
def advance_limit(
    rules: Rulebook, *, on: date, support_items: list[str], contracted_vnd: int, progress_pct: int
) -> tuple[int, str, str]:
    """(cumulative amount allowed now, group, rule reference)."""
    rule = rules.advances.on(on).params
    ref = rules.advances.reference(on)
    group_name = next((name for name, g in rule.groups.items() if set(support_items) & set(g.items)), "khac")
    group = rule.groups[group_name]
    if progress_pct < group.min_progress_pct:
        return 0, group_name, ref
    return contracted_vnd * min(group.share_pct, rule.total_cap_pct) // 100, group_name, ref


# -- adjustments -----------------------------------------------------------------------------------
def required_authority(rules: Rulebook, *, on: date, level: str, group: bool, change_type: str) -> tuple[str, str]:
    matrix = rules.authority.on(on).params
    ref = rules.authority.reference(on)
    table = matrix.dia_phuong if level == "dia_phuong" else matrix.quoc_gia
    if level == "quoc_gia" and group and change_type in matrix.quoc_gia_theo_nhom:
        return matrix.quoc_gia_theo_nhom[change_type], ref
    if change_type not in table:
        types = ", ".join(f"«{label('change_type', c)}» ({c})" for c in sorted(table))
        raise AuthorityError(
            f"Loại điều chỉnh {change_type!r} không có trong quy định; các loại: {types} / "
            f"unknown change type; types: {', '.join(sorted(table))}",
            field="change_type",
        )
    return table[change_type], ref


# -- settlement ------------------------------------------------------------------------------------
def settlement_deadlines(rules: Rulebook, *, accepted_on: date, final_year: int) -> tuple[date, date, str]:
    rule = rules.settlement.on(accepted_on).params
    month, day = (int(x) for x in rule.final_day_next_year.split("-"))
    return (
        accepted_on + timedelta(days=rule.dossier_days_after_acceptance),
        date(final_year + 1, month, day),
        rules.settlement.reference(accepted_on),
    )
