"""The reports the Sở Công Thương sends up, in the forms of the circular in force (issue 15 item 9).

Two reports, each as .xlsx and PDF from one model (:class:`Report`):

- **Báo cáo tình hình thực hiện kế hoạch khuyến công** for a period (6 tháng đầu năm, cả năm): one row
  per đề án of the year's plans, by programme and activity content — who implements it, for which
  establishments, where, and the state support approved, contracted, advanced, accepted and settled by
  the period's last day, and where it stands;
- **Bảng tổng hợp quyết toán kinh phí khuyến công**: the same đề án with their contract, what was
  advanced, accepted and settled (each settled cost item below its đề án) and the difference between
  the contract and the settlement.

Names, never codes: establishments by name, activity contents, statuses, communes and provinces by their
Vietnamese labels, dates dd/mm/yyyy, money as whole đồng with the Vietnamese thousands separator (the
spreadsheet keeps numbers, formatted, so officers can add them up). Which form applies — its number, the
circular it follows, the recipient's name — is dated data (``rules/reports.toml``), decided by the
period's last day; what the reference text does not give is marked there "to confirm".
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib.resources import as_file, files
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


# -- rendering ----------------------------------------------------------------------------------------------


def money_text(value: Any) -> str:
    """``1234567`` → ``1.234.567`` (the table's unit is the đồng); nothing → empty."""
    if value is None or value == "":
        return ""
    return f"{int(value):,}".replace(",", ".")


def _date_line(place_name: str) -> str:
    return f"{place_name}, ngày ..... tháng ..... năm ........"


def to_xlsx(report: Report) -> bytes:
    from kc_runtime.spreadsheets import neutralise_formulas
    from openpyxl import Workbook  # imported when used: it brings numpy (~20 MB of idle RSS)
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Báo cáo" if report.kind == "tinh-hinh-thuc-hien" else "Quyết toán"
    width = len(report.columns)
    half = width // 2
    bold, centre = Font(bold=True), Alignment(horizontal="center", vertical="center", wrap_text=True)

    def merged(row: int, first: int, last: int, text: str, *, font: Font | None = None) -> None:
        sheet.cell(row, first, text)
        sheet.cell(row, first).alignment = centre
        if font is not None:
            sheet.cell(row, first).font = font
        if last > first:
            sheet.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)

    merged(1, 1, half, report.issuer[0])
    merged(1, half + 1, width, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", font=bold)
    merged(2, 1, half, report.issuer[1], font=bold)
    merged(2, half + 1, width, "Độc lập - Tự do - Hạnh phúc", font=bold)
    merged(3, 1, half, "Số: ......./BC-SCT" if report.signatures[1] == "GIÁM ĐỐC" else "Số: ......./BC")
    merged(3, half + 1, width, _date_line(report.place), font=Font(italic=True))
    merged(5, 1, width, report.title, font=Font(bold=True, size=13))
    merged(6, 1, width, report.subtitle, font=Font(italic=True))
    merged(7, 1, width, report.form_number, font=Font(italic=True, size=9))
    sheet.cell(8, width, "Đơn vị tính: đồng").font = Font(italic=True)
    head = 9
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    for i, column in enumerate(report.columns, start=1):
        cell = sheet.cell(head, i, column.title)
        cell.font, cell.alignment, cell.border = bold, centre, box
        sheet.column_dimensions[get_column_letter(i)].width = max(6.0, column.width * 0.55)
    for i in range(1, width + 1):  # (1), (2), … under the headers, as the forms number their columns
        cell = sheet.cell(head + 1, i, f"({i})")
        cell.alignment, cell.border, cell.font = centre, box, Font(italic=True, size=9)
    r = head + 2
    first, other = (Alignment(wrap_text=True, vertical="top", horizontal=h) for h in ("center", None))
    italic = Font(italic=True)
    for line in report.lines:
        for i, value in enumerate(line.cells, start=1):
            cell = sheet.cell(r, i, value if value != "" else None)
            cell.border = box
            if report.columns[i - 1].kind == "money":
                cell.number_format = "#,##0"
            else:
                cell.alignment = first if i == 1 else other
            if line.kind in ("section", "group", "subtotal", "total"):
                cell.font = bold
            elif line.kind == "detail":
                cell.font = italic
        r += 1
    r += 1
    for note in report.notes:
        sheet.cell(r, 1, f"Ghi chú: {note}").font = Font(italic=True, size=9)
        r += 1
    r += 1
    sheet.cell(r, 1, "Nơi nhận:").font = Font(bold=True, italic=True)
    merged(r, 2, half, report.signatures[0], font=bold)
    merged(r, half + 1, width, report.signatures[1], font=bold)
    for i, recipient in enumerate(report.recipients, start=1):
        sheet.cell(r + i, 1, f"- {recipient}").font = Font(size=9)
    merged(r + 1, 2, half, "(Ký, ghi rõ họ tên)", font=Font(italic=True))
    merged(r + 1, half + 1, width, "(Ký, ghi rõ họ tên, đóng dấu)", font=Font(italic=True))
    sheet.print_title_rows = f"{head}:{head + 1}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    neutralise_formulas(book)  # titles and names are typed by someone: shown, never evaluated
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FONT = "LiberationSans"


def to_pdf(report: Report) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_title(f"{report.title} — {report.issuer[1]}")
    pdf.set_creator("khuyencong")
    fonts = files("kc_planning").joinpath("fonts")
    with (
        as_file(fonts.joinpath("LiberationSans-Regular.ttf")) as regular,
        as_file(fonts.joinpath("LiberationSans-Bold.ttf")) as bold_file,
    ):
        pdf.add_font(FONT, "", str(regular))
        pdf.add_font(FONT, "B", str(bold_file))
        pdf.add_font(FONT, "I", str(regular))  # no italic face vendored: the regular one stands in
        pdf.add_font(FONT, "BI", str(bold_file))
    pdf.add_page()
    full = pdf.w - pdf.l_margin - pdf.r_margin
    half = full * 0.42
    top = pdf.get_y()

    def pair(left: str, right: str, left_style: str, right_style: str, size: float = 10) -> None:
        y = pdf.get_y()
        pdf.set_font(FONT, left_style, size)
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(half, 5.5, left, align="C")
        pdf.set_font(FONT, right_style, size)
        pdf.set_xy(pdf.l_margin + half, y)
        pdf.cell(full - half, 5.5, right, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_y(top)
    pair(report.issuer[0], "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "", "B")
    pair(report.issuer[1], "Độc lập - Tự do - Hạnh phúc", "B", "B")
    number = "Số: ......./BC-SCT" if report.signatures[1] == "GIÁM ĐỐC" else "Số: ......./BC"
    pair(number, _date_line(report.place), "", "I")
    pdf.ln(4)
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(full, 6, report.title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "I", 9.5)
    pdf.multi_cell(full, 5, report.subtitle, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "I", 8)
    pdf.multi_cell(full, 4.5, report.form_number, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "I", 8.5)
    pdf.cell(full, 5, "Đơn vị tính: đồng", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    scale = full / sum(c.width for c in report.columns)
    _Table(pdf, [c.width * scale for c in report.columns]).draw(report)
    pdf.ln(2)
    pdf.set_font(FONT, "I", 8)
    for note in report.notes:
        pdf.multi_cell(full, 4, f"Ghi chú: {note}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if pdf.get_y() > pdf.h - 55:
        pdf.add_page()
    pdf.ln(3)
    y = pdf.get_y()
    pdf.set_font(FONT, "BI", 9)
    pdf.cell(70, 5, "Nơi nhận:", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 8.5)
    for recipient in report.recipients:
        pdf.cell(70, 4.5, f"- {recipient}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for x, title in ((pdf.l_margin + 75, report.signatures[0]), (pdf.l_margin + 175, report.signatures[1])):
        pdf.set_xy(x, y)
        pdf.set_font(FONT, "B", 10)
        pdf.cell(90, 5, title, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(FONT, "I", 9)
        pdf.cell(90, 5, "(Ký, ghi rõ họ tên" + (")" if title == report.signatures[0] else ", đóng dấu)"), align="C")
    return bytes(pdf.output())


class _Table:
    """The report's table drawn cell by cell: words wrapped with their widths measured once (fpdf2's own
    table measures every cell with its general line breaker: a thousand đề án took over a minute), the
    column headers repeated on every page, a row never split across pages."""

    SIZE, LINE, PAD = 7.5, 3.5, 0.9

    def __init__(self, pdf: Any, widths: list[float]) -> None:
        self.pdf, self.widths = pdf, widths
        self.measured: dict[tuple[str, str], float] = {}

    def width(self, style: str, text: str) -> float:
        key = (style, text)
        if key not in self.measured:
            self.pdf.set_font(FONT, style, self.SIZE)
            self.measured[key] = self.pdf.get_string_width(text)
        return self.measured[key]

    def wrap(self, style: str, text: str, room: float) -> list[str]:
        lines: list[str] = []
        for paragraph in str(text).split("\n"):
            line, used = "", 0.0
            space = self.width(style, " ")
            for word in paragraph.split():
                w = self.width(style, word)
                while w > room:  # a word longer than the column: cut it
                    cut = len(word)
                    while cut > 1 and self.width(style, word[:cut]) > room:
                        cut -= 1
                    if line:
                        lines.append(line)
                        line, used = "", 0.0
                    lines.append(word[:cut])
                    word = word[cut:]
                    w = self.width(style, word)
                if line and used + space + w > room:
                    lines.append(line)
                    line, used = word, w
                else:
                    line, used = (f"{line} {word}", used + space + w) if line else (word, w)
            lines.append(line)
        return lines or [""]

    def row(self, cells: list[tuple[str, str, str, int]], fill: bool = False) -> None:
        """``cells``: (text, style, align L/C/R, columns spanned)."""
        pdf = self.pdf
        spans, x = [], pdf.l_margin
        column = 0
        for text, style, align, span in cells:
            w = sum(self.widths[column : column + span])
            spans.append((x, w, self.wrap(style, text, w - 2 * self.PAD), style, align))
            x += w
            column += span
        height = max(len(lines) for *_, lines, _, _ in spans) * self.LINE + 2 * self.PAD
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
            self.headers()
        y = pdf.get_y()
        for x, w, lines, style, align in spans:
            pdf.rect(x, y, w, height, style="DF" if fill else "D")
            pdf.set_font(FONT, style, self.SIZE)
            for n, text in enumerate(lines):
                if not text:
                    continue
                tw = self.width(style, text)
                left = x + self.PAD if align == "L" else x + w - self.PAD - tw if align == "R" else x + (w - tw) / 2
                pdf.text(left, y + self.PAD + (n + 0.78) * self.LINE, text)
        pdf.set_y(y + height)

    def headers(self) -> None:
        self.pdf.set_fill_color(235, 235, 235)
        self.row([(c.title, "B", "C", 1) for c in self.columns], fill=True)
        self.row([(f"({i + 1})", "I", "C", 1) for i in range(len(self.columns))])

    def draw(self, report: Report) -> None:
        self.columns = report.columns
        self.pdf.set_draw_color(0, 0, 0)
        self.pdf.set_line_width(0.2)
        self.headers()
        for line in report.lines:
            style = (
                "B" if line.kind in ("section", "group", "subtotal", "total") else "I" if line.kind == "detail" else ""
            )
            if line.kind in ("section", "group"):
                self.row([(str(line.cells[0]), style, "C", 1), (str(line.cells[1]), style, "L", len(self.columns) - 1)])
                continue
            cells = []
            for i, value in enumerate(line.cells):
                if report.columns[i].kind == "money":
                    cells.append((money_text(value), style, "R", 1))
                else:
                    cells.append(("" if value is None else str(value), style, "C" if i == 0 else "L", 1))
            self.row(cells)


def content_disposition(stem: str, extension: str) -> str:
    """An attachment named in Vietnamese (RFC 6266: ``filename*``), with an unaccented fallback."""
    ascii_stem = "-".join("".join(ch if ch.isalnum() else " " for ch in fold(stem)).split())
    name = f"{stem.replace('/', '-')}.{extension}"
    return f"attachment; filename=\"{ascii_stem}.{extension}\"; filename*=UTF-8''{quote(name)}"
