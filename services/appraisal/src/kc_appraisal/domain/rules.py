"""The dated rules a đề án is judged by, and the policies that apply them.

Each policy returns what it decided *and* the rule version it applied (``<set>@<version>``), so
every decision event can record it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from kc_kernel.dated import DatedRules
from kc_kernel.money import vnd
from kc_kernel.vocabulary import label
from pydantic import BaseModel, ConfigDict, model_validator

from kc_appraisal.domain.beneficiary import BeneficiaryFacts
from kc_appraisal.domain.errors import (
    AppraisalError,
    AuthorityError,
    DeadlineMissedError,
    NotTheAuthorityError,
    OverCeilingError,
)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CeilingItem(Frozen):
    """One row of a ceiling table: every item has a cap in VND, per unit of ``per`` (an establishment,
    a model, a class …), and may have a share of the cost; ``multiplier_pct`` is a raise the law gives
    the item itself (a whole technology line)."""

    share_pct: int | None = None
    cap_vnd: int
    per: str  # the unit the cap counts (vocabulary kind ceiling_unit)
    multiplier_pct: int = 100
    to_confirm: str = ""  # the cap is not in the reference text: what is assumed
    label: str = ""  # from the vocabulary, not the rules file

    @property
    def per_establishment(self) -> bool:
        return self.per in PER_ESTABLISHMENT


PER_ESTABLISHMENT = frozenset({"co_so", "doanh_nghiep"})


class CeilingTable(Frozen):
    items: dict[str, CeilingItem]
    max_multiplier_pct: int = 150  # raises together never beyond this (TTLT 26/2014 Art. 6.2.t: 1,5 lần)

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
    progress_above_pct: int | None = None  # progress strictly above this share ("trên 70%"); None: none needed
    items: list[str]


class AdvanceRule(Frozen):
    total_cap_pct: int
    groups: dict[str, AdvanceGroup]


class PriorityRule(Frozen):
    areas: list[str]  # the official list kinds (registry), in the order TT 46/2012 Art. 6.1 considers them
    sectors: list[str]
    recognition_scheme: str
    recognition_levels: list[str]  # only these levels give priority, and only while valid
    owner_priority: bool
    multiplier_pct: int
    raised_by: list[str]  # the criteria whose priority raises the ceilings


class SettlementRule(Frozen):
    dossier_days_after_acceptance: int
    final_day_next_year: str  # "MM-DD"


class Decider(Frozen):
    """Who holds an authority in the system: a role, on the ministry's instance (``bo``) or a province's
    (``tinh``)."""

    role: str
    instance: str


class AuthorityMatrix(Frozen):
    quoc_gia: dict[str, str]
    quoc_gia_theo_nhom: dict[str, str] = {}
    dia_phuong: dict[str, str]
    deciders: dict[str, Decider] = {}


class ContentCatalogue(Frozen):
    """The contents in force (codes in the rules file) with their names from the vocabulary."""

    items: dict[str, str]

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            data = {**data, "items": {str(c): label("activity_content", c) for c in data["items"]}}
        return data


class ResultCatalogue(Frozen):
    """What a đề án may report at acceptance, per activity content (codes: vocabulary kind indicator)."""

    contents: dict[str, list[str]]
    at_most: dict[str, str] = {}

    def allowed(self, contents: list[str]) -> list[str]:
        return list(dict.fromkeys(k for c in contents for k in self.contents.get(str(c), [])))


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
    results: DatedRules[ResultCatalogue] | None = None


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
    """One unit's lines of one support item, judged together (the law's caps are per unit)."""

    item: str
    unit: str  # the unit the cap counts: an establishment's id, a model's name …; "" the đề án's one
    lines: tuple[int, ...]
    total_cost_vnd: int
    requested_vnd: int
    allowed_vnd: int
    multiplier_pct: int
    rule: str

    def records(self) -> list[dict[str, Any]]:
        """One record per budget line (the console shows each line's), each naming its unit's group."""
        return [
            {
                "line": i,
                "item": self.item,
                "unit": self.unit,
                "allowed_vnd": self.allowed_vnd,
                "unit_requested_vnd": self.requested_vnd,
                "multiplier_pct": self.multiplier_pct,
                "rule": self.rule,
            }
            for i in self.lines
        ]


def ceiling_table(rules: Rulebook, level: str, province: str, on: date) -> tuple[CeilingTable, str]:
    if level == "dia_phuong" and province in rules.local_ceilings:
        local = rules.local_ceilings[province]
        return local.on(on).params, local.reference(on)
    ref = rules.national_ceilings.reference(on)
    if level == "dia_phuong":
        ref += " (chưa có bảng mức hỗ trợ của tỉnh: áp dụng mức hướng dẫn quốc gia)"
    return rules.national_ceilings.on(on).params, ref


def _unit_of(item: str, spec: CeilingItem, line: dict[str, Any], index: int, beneficiaries: list[str]) -> str:
    """The unit a line's support counts against: for a per-establishment item the beneficiary it names
    (or the đề án's only one), else the unit it names ("" : the đề án's one model, class, fair …). A
    đề án whose beneficiaries are fixed later (theo nhóm) names its units as it can ("Cơ sở 1")."""
    named = str(line.get("unit_ref") or "").strip()
    if not spec.per_establishment or not beneficiaries:
        return named  # a group đề án names its establishments after approval: the line's own name counts
    if not named and len(beneficiaries) == 1:
        return beneficiaries[0]
    if named not in beneficiaries:
        raise OverCeilingError(
            f"Dòng {index + 1}: mức hỗ trợ «{label('support_item', item)}» tính theo từng "
            f"{label('ceiling_unit', spec.per).lower()}: ghi cơ sở thụ hưởng của đề án mà dòng này hỗ trợ"
            " / name the beneficiary establishment this line supports (the cap is per establishment)",
            field=f"budget_lines.{index}.unit_ref",
        )
    return named


def check_ceilings(
    rules: Rulebook,
    *,
    level: str,
    province: str,
    on: date,
    lines: Sequence[dict[str, Any]],
    beneficiaries: list[str],
    priority_multiplier_pct: int = 100,
) -> list[CeilingCheck]:
    """Each support item's lines for each unit judged together against the cap per unit in force on
    ``on``: the share of their cost and the cap, raised by the item's own multiplier and the priority
    one but never beyond the table's maximum (raises do not stack). Refuses the first unit above it."""
    table, ref = ceiling_table(rules, level, province, on)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, line in enumerate(lines):
        item = str(line.get("support_item") or "")
        spec = table.items.get(item)
        if spec is None:
            raise OverCeilingError(
                f"Hạng mục hỗ trợ «{label('support_item', item)}» không có trong bảng mức hỗ trợ {ref}; "
                "mỗi dòng phải thuộc một hạng mục có mức tối đa"
                f" / unknown support item {item!r}: every line names a capped item of the table in force",
                field=f"budget_lines.{i}.support_item",
            )
        groups.setdefault((item, _unit_of(item, spec, line, i, beneficiaries)), []).append(i)
    checks = []
    for (item, unit), indexes in groups.items():
        spec = table.items[item]
        multiplier = min(spec.multiplier_pct * priority_multiplier_pct // 100, table.max_multiplier_pct)
        cost = sum(int(lines[i]["total_cost_vnd"]) for i in indexes)
        requested = sum(int(lines[i]["support_requested_vnd"]) for i in indexes)
        allowed = spec.cap_vnd * multiplier // 100
        if spec.share_pct is not None:
            allowed = min(allowed, cost * spec.share_pct // 100)
        if requested > allowed:
            per = label("ceiling_unit", spec.per).lower()
            where = f" ({per} {unit})" if unit else ""
            raise OverCeilingError(
                f"Kinh phí hỗ trợ {vnd(requested)} đồng vượt mức tối đa {vnd(allowed)} đồng cho "
                f"«{label('support_item', item)}»{where}: mức tính theo từng {per}, cộng các dòng "
                f"{', '.join(str(i + 1) for i in indexes)}; hệ số {multiplier}% ({ref})"
                " / support above the ceiling per unit",
                field=f"budget_lines.{indexes[-1]}.support_requested_vnd",
            )
        checks.append(CeilingCheck(item, unit, tuple(indexes), cost, requested, allowed, multiplier, ref))
    return checks


def allowed_total(ceilings: list[dict[str, Any]], lines: list[dict[str, Any]]) -> int:
    """What the ceilings a submission recorded allow in all, each unit's once (submissions recorded
    before caps were per unit have one entry per line, ``None`` where the line had no cap)."""
    seen: dict[tuple[Any, ...], int] = {}
    for c in ceilings:
        key = (c["item"], c["unit"]) if "unit" in c else ("line", c["line"])
        allowed = c["allowed_vnd"]
        seen[key] = int(allowed) if allowed is not None else int(lines[c["line"]]["support_requested_vnd"])
    return sum(seen.values())


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
    area_rank: int | None = None  # position of the first listed area kind in TT 46/2012's order

    def rank(self, flagship: bool) -> list[int]:
        """Selection order (DOMAIN §7): flagship first, then area, then sector priority."""
        return [0 if flagship else 1, 0 if self.area else 1, 0 if self.sector else 1]


def evaluate_priority(rules: Rulebook, *, on: date, beneficiaries: Sequence[BeneficiaryFacts]) -> Priority:
    """The đề án's priority on ``on`` from what the registry published of its beneficiaries: the
    official lists their production sites are on that day (never a tag typed into the đề án), their
    priority sectors, a regional or national typical-product certificate valid that day."""
    rule = rules.priority.on(on).params
    ref = rules.priority.reference(on)
    items: list[PriorityItem] = []
    periods = [p for b in beneficiaries for p in b.priority_areas if p.covers(on)]
    area_hits = [a for a in rule.areas if a in {p.area for p in periods}]
    unconfirmed = any(p.to_confirm for p in periods if p.area in area_hits)
    items.append(
        PriorityItem(
            "dia_ban",
            bool(area_hits),
            f"Địa bàn ưu tiên theo danh sách chính thức: {', '.join(label('priority_area', a) for a in area_hits)}"
            + (" (danh sách cần xác nhận)" if unconfirmed else "")
            if area_hits
            else f"Không có trong danh sách địa bàn ưu tiên ngày {on:%d/%m/%Y}",
        )
    )
    sector_hits = sorted({s for b in beneficiaries for s in b.sectors if s in rule.sectors})
    items.append(
        PriorityItem(
            "nganh_nghe",
            bool(sector_hits),
            f"Ngành nghề ưu tiên: {', '.join(label('sector', s) for s in sector_hits)}"
            if sector_hits
            else "Không có ngành ưu tiên",
        )
    )
    valid = [
        r
        for b in beneficiaries
        for r in b.recognitions
        if r.scheme == rule.recognition_scheme and r.level in rule.recognition_levels and r.valid_on(on)
    ]
    levels = " hoặc ".join(label("recognition_level", level).lower() for level in rule.recognition_levels)
    items.append(
        PriorityItem(
            "cong_nhan",
            bool(valid),
            f"Có {len(valid)} giấy chứng nhận sản phẩm CNNT tiêu biểu {levels} còn hiệu lực ngày {on:%d/%m/%Y}"
            if valid
            else f"Không có giấy chứng nhận sản phẩm CNNT tiêu biểu {levels} còn hiệu lực ngày {on:%d/%m/%Y}",
        )
    )
    if rule.owner_priority:
        owner = any(b.women_owned or b.ethnic_minority_owned for b in beneficiaries)
        items.append(
            PriorityItem(
                "chu_so_huu", bool(owner), "Cơ sở do phụ nữ/người dân tộc thiểu số làm chủ" if owner else "Không"
            )
        )
    sector = any(i.met for i in items if i.criterion != "dia_ban")
    raised = any(i.met for i in items if i.criterion in rule.raised_by)
    return Priority(
        tuple(items),
        bool(area_hits),
        sector,
        rule.multiplier_pct if raised else 100,
        ref,
        rule.areas.index(area_hits[0]) if area_hits else None,
    )


# -- advances --------------------------------------------------------------------------------------
def advance_limit(
    rules: Rulebook, *, on: date, support_items: list[str], contracted_vnd: int, progress_pct: int
) -> tuple[int, str, str]:
    """(cumulative amount allowed now, group, rule reference)."""
    rule = rules.advances.on(on).params
    ref = rules.advances.reference(on)
    group_name = next((name for name, g in rule.groups.items() if set(support_items) & set(g.items)), "khac")
    group = rule.groups[group_name]
    if group.progress_above_pct is not None and not progress_pct > group.progress_above_pct:
        return 0, group_name, ref  # "trên 70%": strictly above
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


def check_decider(rules: Rulebook, *, on: date, authority: str, role: str | None, instance: str) -> str:
    """The authority ``role`` on ``instance`` holds, if it is ``authority``; otherwise a refusal naming
    who decides (and where). Returns the rule reference applied."""
    matrix = rules.authority.on(on).params
    ref = rules.authority.reference(on)
    decider = matrix.deciders.get(authority)
    if decider is None:
        return ref  # no decider on record for it: the typed authority is checked against the request only
    where = "bo" if instance == "bo" else "tinh"
    if decider.instance != where:
        place, place_en = ("Bộ Công Thương", "ministry") if decider.instance == "bo" else ("tỉnh", "province")
        raise NotTheAuthorityError(
            f"Quyết định này thuộc thẩm quyền «{label('authority', authority)}», được ghi trên hệ thống của {place} "
            f"({ref}) / decided by {authority}, recorded on the {place_en}'s instance",
            field="authority",
            code="wrong_instance",
            required_authority=authority,
        )
    if role != decider.role:
        held = next((a for a, d in matrix.deciders.items() if d.role == role and d.instance == where), None)
        yours = f"«{label('authority', held)}»" if held else f"vai trò «{label('role', role or '')}»"
        raise NotTheAuthorityError(
            f"Quyết định này thuộc thẩm quyền «{label('authority', authority)}», không phải {yours} ({ref})"
            f" / decided by {authority}, not by role {role}",
            field="authority",
            code="wrong_authority",
            required_authority=authority,
        )
    return ref


# -- settlement ------------------------------------------------------------------------------------
def settlement_deadlines(rules: Rulebook, *, accepted_on: date, final_year: int) -> tuple[date, date, str]:
    rule = rules.settlement.on(accepted_on).params
    month, day = (int(x) for x in rule.final_day_next_year.split("-"))
    return (
        accepted_on + timedelta(days=rule.dossier_days_after_acceptance),
        date(final_year + 1, month, day),
        rules.settlement.reference(accepted_on),
    )


def check_settlement_dates(
    rules: Rulebook, *, accepted_on: date, final_year: int, dossier_on: date, settled_on: date
) -> str:
    """The settlement dossier within its days after acceptance and the settlement by the final day of
    the next year (one check for the province's đề án and the ministry's record); the rule version."""
    dossier_by, final_by, ref = settlement_deadlines(rules, accepted_on=accepted_on, final_year=final_year)
    if dossier_on > dossier_by:
        raise AppraisalError(
            f"Hồ sơ quyết toán phải nộp trước {dossier_by:%d/%m/%Y} (15 ngày sau nghiệm thu; {ref})"
            " / settlement dossier too late",
            field="dossier_on",
        )
    if settled_on > final_by:
        raise AppraisalError(
            f"Quyết toán phải xong trước {final_by:%d/%m/%Y} ({ref}) / settlement too late", field="settled_on"
        )
    return ref


# -- results at acceptance -------------------------------------------------------------------------
def check_results(
    rules: Rulebook, *, on: date, contents: list[str], outputs: dict[str, Any]
) -> tuple[dict[str, int], str | None]:
    """The outputs typed at acceptance, checked against what the đề án's activity contents allow on
    ``on`` (an unknown key is refused, naming it), each a count, a result never above the one it is
    part of. Returns them and the rule version applied."""
    catalogue = rules.results.on(on).params if rules.results else None
    allowed = catalogue.allowed(contents) if catalogue else None
    clean: dict[str, int] = {}
    for key, value in outputs.items():
        key = str(key)
        if allowed is not None and key not in allowed:
            names = ", ".join(f"«{label('indicator', k)}» ({k})" for k in allowed) or "không có"
            counted = (
                " — số cơ sở được hỗ trợ tính từ cơ sở thụ hưởng của đề án, sản phẩm được công nhận tính từ giấy "
                "chứng nhận trong sổ đăng ký"
                if key in ("co_so", "co_so_duoc_ho_tro", "san_pham_ton_vinh", "san_pham_khu_vuc", "san_pham_quoc_gia")
                else ""
            )
            raise AppraisalError(
                f"Kết quả «{key}» không thuộc nội dung hoạt động của đề án ("
                + ", ".join(label("activity_content", c) for c in contents)
                + f"); được ghi: {names}{counted} / unknown result {key!r} for this đề án's activity contents",
                field=f"outputs.{key}",
            )
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise AppraisalError(
                f"Kết quả «{label('indicator', key)}» phải là số nguyên không âm / outputs are counts",
                field=f"outputs.{key}",
            )
        clean[key] = value
    for part, whole in catalogue.at_most.items() if catalogue else ():
        if part in clean and clean[part] > clean.get(whole, 0):
            raise AppraisalError(
                f"«{label('indicator', part)}» ({clean[part]}) không thể lớn hơn «{label('indicator', whole)}» "
                f"({clean.get(whole, 0)}) / {part} cannot exceed {whole}",
                field=f"outputs.{part}",
            )
    return clean, (rules.results.reference(on) if rules.results else None)
