"""The reports' data: the dated form rules (``rules/reports.toml``), the periods, each đề án as of the
period's last day, and the two reports' rows and columns (:class:`Report`), drawn by
:mod:`kc_planning.reports.xlsx` and :mod:`kc_planning.reports.pdf`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any
from urllib.parse import quote

from kc_kernel.dated import DatedRules, NoRuleInForceError, read_rules, rules_from_records
from kc_kernel.periods import FIRST_PLAN_YEAR, LAST_PLAN_YEAR
from kc_kernel.vocabulary import format_date, has_label, label
from kc_runtime.text import fold
from pydantic import BaseModel, ConfigDict

from kc_planning.domain.plan import PlanError

KINDS = {
    "tinh-hinh-thuc-hien": "Báo cáo tình hình thực hiện kế hoạch khuyến công",
    "quyet-toan": "Bảng tổng hợp quyết toán kinh phí khuyến công",
}
FORMATS = {"xlsx", "pdf"}
PROGRAMMES = ("quoc_gia", "dia_phuong")


class FormRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    circular: str
    report_number: str
    settlement_number: str


class NameRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str


@cache
def _rules() -> dict[str, Any]:
    return read_rules("kc_planning", "reports.toml")


@cache
def forms() -> DatedRules[FormRule]:
    return rules_from_records("report.form", FormRule, _rules()["form"])


@cache
def agency() -> DatedRules[NameRule]:
    return rules_from_records("report.cuc", NameRule, _rules()["cuc"])


def periods() -> dict[str, dict[str, str]]:
    return dict(_rules()["periods"])


@dataclass(frozen=True)
class Period:
    code: str
    label: str
    year: int
    first: date
    last: date
    settled_until: date  # the settlement table counts settlements dated until this day


def period(code: str, year: int) -> Period:
    """The reporting period, or a PlanError naming what is wrong (Vietnamese first)."""
    known = periods()
    if code not in known:
        offered = ", ".join(f"«{p['label']}» ({c})" for c, p in known.items())
        raise PlanError(f"Không có kỳ báo cáo «{code}»; chọn {offered} / unknown reporting period", field="ky")
    if not FIRST_PLAN_YEAR <= year <= LAST_PLAN_YEAR:
        raise PlanError(f"Năm báo cáo phải từ {FIRST_PLAN_YEAR} đến {LAST_PLAN_YEAR} / year out of range", field="year")
    month, day = (int(x) for x in known[code]["ends"].split("-"))
    last = date(year, month, day)
    try:
        forms().on(last)
    except NoRuleInForceError:
        first_form = forms().versions[0].effective_from
        raise PlanError(
            f"Chưa có mẫu báo cáo cho kỳ kết thúc ngày {last:%d/%m/%Y} (mẫu đầu tiên áp dụng từ "
            f"{first_form:%d/%m/%Y}) / no report form in force for that period",
            field="year",
        ) from None
    until = known[code].get("settled_until")
    if until:
        month, day = (int(x) for x in until.split("-"))
        settled_until = date(year + 1, month, day)
    else:
        settled_until = last
    return Period(code, known[code]["label"], year, date(year, 1, 1), last, settled_until)


@dataclass(frozen=True)
class Column:
    title: str
    width: float  # mm on the PDF (landscape A4: 277 mm between the margins); the sheet scales it
    kind: str = "text"  # text | money


@dataclass
class Line:
    kind: str  # section | group | item | detail | subtotal | total
    cells: list[Any]


@dataclass
class Report:
    kind: str
    title: str
    subtitle: str
    form_number: str
    issuer: tuple[str, str]
    place: str
    columns: list[Column]
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    signatures: tuple[str, str] = ("NGƯỜI LẬP BIỂU", "GIÁM ĐỐC")
    rule_versions: list[str] = field(default_factory=list)
    filename: str = ""


# -- the model --------------------------------------------------------------------------------------------


def _on_or_before(value: str | None, last: date) -> bool:
    return bool(value) and date.fromisoformat(str(value)[:10]) <= last


def as_of(row: Mapping[str, Any], last: date) -> dict[str, Any]:
    """A đề án's money and standing on the period's last day, from the dated milestones of its row (a row
    made before they were kept has no dates: its amounts count as they are)."""
    contracted = int(row.get("contracted_vnd") or 0)
    if row.get("contract_signed_on") and not _on_or_before(row["contract_signed_on"], last):
        contracted = 0
    paid = json.loads(row.get("advances") or "[]")
    advanced = (
        sum(int(a["amount_vnd"]) for a in paid if _on_or_before(a["paid_on"], last))
        if paid
        else int(row.get("advanced_vnd") or 0)
    )
    accepted = int(row.get("accepted_vnd") or 0)
    if row.get("accepted_on") and not _on_or_before(row["accepted_on"], last):
        accepted = 0
    settled = int(row.get("settled_vnd") or 0)
    if row.get("settled_on") and not _on_or_before(row["settled_on"], last):
        settled = 0
    if row.get("status") == "dung_thuc_hien":
        standing = label("de_an_status", "dung_thuc_hien")
    elif settled:
        standing = label("de_an_status", "da_quyet_toan")
    elif accepted:
        standing = label("de_an_status", "da_nghiem_thu")
    elif contracted:
        standing = "Đang thực hiện (đã ký hợp đồng)"
    else:
        standing = "Đã phê duyệt, chưa ký hợp đồng"
    return {
        "approved": int(row.get("approved_vnd") or 0),
        "contracted": contracted,
        "advanced": advanced,
        "accepted": accepted,
        "settled": settled,
        "standing": standing,
    }


IN_PLAN = frozenset(
    {"da_phe_duyet", "da_ky_hop_dong", "dung_thuc_hien", "hoan_thanh", "da_nghiem_thu", "da_quyet_toan", "da_dong"}
)


def in_plan(row: Mapping[str, Any]) -> bool:
    """A đề án the year's plans approved (what the reports are about)."""
    return row.get("status") in IN_PLAN or int(row.get("approved_vnd") or 0) > 0


def beneficiaries(row: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """The establishments by name; those whose name this instance does not keep (a province's, at the
    ministry) are counted."""
    ids = json.loads(row.get("beneficiaries") or "[]")
    known = [names[i] for i in ids if i in names]
    unknown = len(ids) - len(known)
    if unknown:
        known.append(f"{unknown} cơ sở (tên lưu tại tỉnh)" if not known else f"và {unknown} cơ sở khác")
    return "; ".join(known) if known else "—"


def place(row: Mapping[str, Any]) -> str:
    commune = row.get("commune_code")
    for kind in ("commune", "commune_truoc_2025"):
        if commune and has_label(kind, commune):
            return label(kind, commune)
    return label("province", row.get("province_code"))


def issuer(instance: str, on: date) -> tuple[str, str, str]:
    """(the body above the issuer, the issuer, the place) of a report made at ``instance``."""
    if instance.startswith("tinh-"):
        province = label("province", instance.removeprefix("tinh-"))
        short = province.removeprefix("Tỉnh ").removeprefix("Thành phố ")
        return f"ỦY BAN NHÂN DÂN {province.upper()}", "SỞ CÔNG THƯƠNG", short
    return "BỘ CÔNG THƯƠNG", agency().on(on).params.name.upper(), "Hà Nội"


def _roman(n: int) -> str:
    numerals = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]
    return numerals[n - 1] if n <= len(numerals) else str(n)


def _header(report_kind: str, instance: str, p: Period) -> Report:
    form = forms().on(p.last)
    upper, own, where = issuer(instance, p.last)
    number = form.params.report_number if report_kind == "tinh-hinh-thuc-hien" else form.params.settlement_number
    title = KINDS[report_kind].upper() + f" {p.label.upper()} {p.year}"
    scope = f"Kỳ báo cáo: {p.label} {p.year} (từ {format_date(p.first)} đến {format_date(p.last)})"
    cuc = f"{agency().on(p.last).params.name} - Bộ Công Thương;"
    if instance.startswith("tinh-"):
        province = label("province", instance.removeprefix("tinh-"))
        recipients = [f"Ủy ban nhân dân {province[0].lower()}{province[1:]};", cuc, "Lưu: VT."]
    else:
        recipients = ["Lãnh đạo Bộ Công Thương;", "Lưu: VT."]
    versions = [forms().reference(p.last), agency().reference(p.last)]
    issued_by = agency().on(p.last).params.name if instance == "bo" else where
    filename = f"{KINDS[report_kind]} {p.label} {p.year} - {issued_by}"
    return Report(
        kind=report_kind,
        title=title,
        subtitle=scope,
        form_number=f"{number}, căn cứ {form.params.circular}",
        issuer=(upper, own),
        place=where,
        columns=[],
        recipients=recipients,
        signatures=("NGƯỜI LẬP BIỂU", "GIÁM ĐỐC" if instance.startswith("tinh-") else "CỤC TRƯỞNG"),
        rule_versions=versions,
        filename=filename,
    )


def _grouped(rows: list[Mapping[str, Any]]) -> list[tuple[str, list[tuple[str, list[Mapping[str, Any]]]]]]:
    """(programme, [(activity content, rows)]) in the order of the form."""
    out = []
    for level in PROGRAMMES:
        mine = [r for r in rows if r.get("level") == level]
        if not mine:
            continue
        by_activity: dict[str, list[Mapping[str, Any]]] = {}
        for r in sorted(mine, key=lambda r: (str(r.get("activity") or ""), fold(str(r.get("title") or "")))):
            by_activity.setdefault(str(r.get("activity") or ""), []).append(r)
        out.append((level, sorted(by_activity.items())))
    return out


PROGRESS_COLUMNS = [
    Column("STT", 9),
    Column("Tên đề án", 48),
    Column("Đơn vị thực hiện", 30),
    Column("Cơ sở thụ hưởng", 32),
    Column("Địa điểm", 30),
    Column("Kinh phí được duyệt", 20, "money"),
    Column("Kinh phí theo hợp đồng", 20, "money"),
    Column("Đã tạm ứng", 19, "money"),
    Column("Giá trị nghiệm thu", 19, "money"),
    Column("Đã quyết toán", 19, "money"),
    Column("Tình hình thực hiện", 31),
]
SETTLEMENT_COLUMNS = [
    Column("STT", 9),
    Column("Tên đề án, hạng mục chi", 50),
    Column("Đơn vị thực hiện", 28),
    Column("Cơ sở thụ hưởng", 30),
    Column("Hợp đồng (số, ngày)", 26),
    Column("Kinh phí được duyệt", 19, "money"),
    Column("Kinh phí theo hợp đồng", 19, "money"),
    Column("Đã tạm ứng", 18, "money"),
    Column("Quyết toán được duyệt", 19, "money"),
    Column("Ngày quyết toán", 18),
    Column("Chênh lệch (hợp đồng - quyết toán)", 21, "money"),
]
MONEY_KEYS = ("approved", "contracted", "advanced", "accepted", "settled")


def progress_report(rows: Iterable[Mapping[str, Any]], names: Mapping[str, str], *, instance: str, p: Period) -> Report:
    report = _header("tinh-hinh-thuc-hien", instance, p)
    report.columns = PROGRESS_COLUMNS
    grand = dict.fromkeys(MONEY_KEYS, 0)
    count = 0
    for n_level, (level, groups) in enumerate(_grouped([r for r in rows if in_plan(r)])):
        report.lines.append(Line("section", ["AB"[n_level], label("plan_level", level).upper()]))
        subtotal = dict.fromkeys(MONEY_KEYS, 0)
        for n_group, (activity, items) in enumerate(groups, start=1):
            report.lines.append(Line("group", [_roman(n_group), label("activity_content", activity)]))
            for n, row in enumerate(items, start=1):
                money = as_of(row, p.last)
                for k in MONEY_KEYS:
                    subtotal[k] += money[k]
                count += 1
                report.lines.append(
                    Line(
                        "item",
                        [
                            n,
                            row["title"],
                            row.get("implementing_unit") or "—",
                            beneficiaries(row, names),
                            place(row),
                            *(money[k] for k in MONEY_KEYS),
                            money["standing"],
                        ],
                    )
                )
        report.lines.append(
            Line("subtotal", ["", f"Cộng {label('plan_level', level).lower()}", "", "", "", *subtotal.values(), ""])
        )
        for k in MONEY_KEYS:
            grand[k] += subtotal[k]
    report.lines.append(Line("total", ["", "TỔNG CỘNG", "", "", "", *grand.values(), f"{count} đề án"]))
    report.notes = [
        f"Số liệu tính đến ngày {format_date(p.last)}: hợp đồng, tạm ứng, nghiệm thu và quyết toán theo ngày"
        " của từng quyết định, chứng từ.",
    ]
    return report


def settlement_table(
    rows: Iterable[Mapping[str, Any]], names: Mapping[str, str], *, instance: str, p: Period
) -> Report:
    report = _header("quyet-toan", instance, p)
    report.columns = SETTLEMENT_COLUMNS
    keys = ("approved", "contracted", "advanced", "settled")
    grand = dict.fromkeys([*keys, "difference"], 0)
    count = settled_count = 0
    for n_level, (level, groups) in enumerate(_grouped([r for r in rows if in_plan(r)])):
        report.lines.append(Line("section", ["AB"[n_level], label("plan_level", level).upper()]))
        subtotal = dict.fromkeys([*keys, "difference"], 0)
        for n_group, (activity, items) in enumerate(groups, start=1):
            report.lines.append(Line("group", [_roman(n_group), label("activity_content", activity)]))
            for n, row in enumerate(items, start=1):
                money = as_of(row, p.settled_until)
                settled = money["settled"] > 0
                difference = money["contracted"] - money["settled"] if settled else None
                for k in keys:
                    subtotal[k] += money[k]
                subtotal["difference"] += difference or 0
                count += 1
                settled_count += settled
                contract = (
                    f"{row['contract_number']}, {format_date(row.get('contract_signed_on'))}"
                    if row.get("contract_number") and money["contracted"]
                    else "—"
                )
                report.lines.append(
                    Line(
                        "item",
                        [
                            n,
                            row["title"],
                            row.get("implementing_unit") or "—",
                            beneficiaries(row, names),
                            contract,
                            money["approved"],
                            money["contracted"],
                            money["advanced"],
                            money["settled"] if settled else None,
                            format_date(row.get("settled_on")) if settled else "Chưa quyết toán",
                            difference,
                        ],
                    )
                )
                if settled:
                    for item in json.loads(row.get("cost_items") or "[]"):
                        report.lines.append(
                            Line(
                                "detail",
                                [
                                    "",
                                    f"- {item['cost_item']} ({label('support_item', item['support_item'])})",
                                    *([""] * 6),
                                    int(item["support_vnd"]),
                                    "",
                                    None,
                                ],
                            )
                        )
        report.lines.append(
            Line(
                "subtotal",
                [
                    "",
                    f"Cộng {label('plan_level', level).lower()}",
                    *([""] * 3),
                    *(subtotal[k] for k in keys),
                    "",
                    subtotal["difference"],
                ],
            )
        )
        for k in grand:
            grand[k] += subtotal[k]
    report.lines.append(
        Line(
            "total",
            [
                "",
                "TỔNG CỘNG",
                "",
                "",
                f"{settled_count}/{count} đề án đã quyết toán",
                *(grand[k] for k in keys),
                "",
                grand["difference"],
            ],
        )
    )
    report.notes = [
        f"Quyết toán được duyệt đến ngày {format_date(p.settled_until)}; chênh lệch là kinh phí hợp đồng"
        " chưa quyết toán (thu hồi hoặc chuyển năm sau theo quy định).",
    ]
    return report


# -- text shared by both drawings ------------------------------------------------------------------------


def money_text(value: Any) -> str:
    """``1234567`` → ``1.234.567`` (the table's unit is the đồng); nothing → empty."""
    if value is None or value == "":
        return ""
    return f"{int(value):,}".replace(",", ".")


def date_line(place_name: str) -> str:
    return f"{place_name}, ngày ..... tháng ..... năm ........"


def content_disposition(stem: str, extension: str) -> str:
    """An attachment named in Vietnamese (RFC 6266: ``filename*``), with an unaccented fallback."""
    ascii_stem = "-".join("".join(ch if ch.isalnum() else " " for ch in fold(stem)).split())
    name = f"{stem.replace('/', '-')}.{extension}"
    return f"attachment; filename=\"{ascii_stem}.{extension}\"; filename*=UTF-8''{quote(name)}"
