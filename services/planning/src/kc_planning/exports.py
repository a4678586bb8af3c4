"""Spreadsheets in the layout officers use: one row per đề án, grouped by activity content, totals
by funding source, Vietnamese headers, VND as whole numbers with thousands separators. And the
import of plan registrations from .xlsx, row by row."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from kc_contracts.limits import MAX_REGISTRATION_ITEMS, MAX_VND
from kc_kernel.vocabulary import has_label, label
from kc_runtime.spreadsheets import SpreadsheetError, neutralise_formulas, xlsx_rows
from kc_runtime.text import fold

from kc_planning.domain.plan import PlanError
from kc_planning.projections.programme import funding

VND = "#,##0"
HEADERS = [
    "STT",
    "Mã đề án",
    "Tên đề án",
    "Địa điểm (tỉnh, xã)",
    "Trạng thái",
    "KP khuyến công quốc gia",
    "KP khuyến công địa phương",
    "Vốn đối ứng",
    "Nguồn khác",
    "Tổng cộng",
]
MONEY = ("quoc_gia", "dia_phuong", "doi_ung", "khac")


def summary_sheet(title: str, rows: Iterable[dict[str, Any]]) -> bytes:
    """``rows``: programme rows (or plan lines shaped like them)."""
    from openpyxl import Workbook  # imported when used: it brings numpy (~20 MB of idle RSS)
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Tổng hợp"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(["Đơn vị tính: đồng"])
    sheet.append(HEADERS)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, horizontal="center")
    by_activity: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_activity.setdefault(str(row.get("activity") or ""), []).append(row)
    grand = dict.fromkeys(MONEY, 0)
    for group, (activity, items) in enumerate(sorted(by_activity.items()), start=1):
        subtotal = dict.fromkeys(MONEY, 0)
        sheet.append([_roman(group), None, f"Nội dung {activity}: {label('activity_content', activity)}"])
        sheet.cell(sheet.max_row, 3).font = Font(bold=True)
        for n, row in enumerate(items, start=1):
            money = funding(row)
            for k in MONEY:
                subtotal[k] += money[k]
            place = _place(row)
            sheet.append(
                [
                    n,
                    row["code"],
                    row["title"],
                    place,
                    _status(row),
                    *(money[k] for k in MONEY),
                    sum(money.values()),
                ]
            )
        sheet.append([None, None, "Cộng nội dung", None, None, *(subtotal[k] for k in MONEY), sum(subtotal.values())])
        sheet.cell(sheet.max_row, 3).font = Font(bold=True)
        for k in MONEY:
            grand[k] += subtotal[k]
    sheet.append([None, None, "TỔNG CỘNG", None, None, *(grand[k] for k in MONEY), sum(grand.values())])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in sheet.iter_rows(min_row=4, min_col=6, max_col=10):
        for cell in row:
            cell.number_format = VND
    for column, width in zip("ABCDEFGHIJ", (6, 18, 50, 14, 16, 18, 18, 16, 14, 18), strict=True):
        sheet.column_dimensions[column].width = width
    neutralise_formulas(book)  # a title is typed by someone: shown, never evaluated
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def plan_rows(state: dict[str, Any]) -> list[dict[str, Any]]:
    """An annual plan's lines shaped like programme rows (state share = approved, else recommended)."""
    out = []
    for key, line in state["lines"].items():
        p = line["proposal"]
        approved = line["approved_support_vnd"]
        out.append(
            {
                "code": p["code"],
                "title": p["title"],
                "province_code": p["province_code"],
                "commune_code": p.get("commune_code"),
                "activity": (p["activity_contents"] or [""])[0],
                "status": "da_phe_duyet" if approved is not None else "de_xuat",
                "batch": line["batch"],
                "level": state["level"],
                "approved_vnd": approved or 0,
                "support_requested_vnd": p["recommended_support_vnd"],
                "counterpart_vnd": p["budget"]["counterpart_vnd"],
                "other_vnd": p["budget"]["other_vnd"],
                "de_an_id": key,
            }
        )
    return out


def _place(row: dict[str, Any]) -> str:
    """The commune and province by name (the commune's name carries its province)."""
    commune = row.get("commune_code")
    for kind in ("commune", "commune_truoc_2025"):
        if commune and has_label(kind, commune):
            return label(kind, commune)
    return label("province", row.get("province_code"))


def _status(row: dict[str, Any]) -> str:
    """The đề án's status by its label, with the plan batch that approved it."""
    text = label("de_an_status", row.get("status"))
    return f"{text} (đợt {row['batch']})" if row.get("batch") else text


def _roman(n: int) -> str:
    return ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"][n - 1] if n <= 10 else str(n)


MAX_ROWS = 20_000  # rows of registrations per imported file
REGISTRATION_HEADERS = {
    "don vi dang ky": "registrant",
    "ten de an": "title",
    "noi dung": "content",
    "kinh phi de nghi": "support_vnd",
    "ma xa": "commune_code",
}


def read_registrations(data: bytes) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Group the rows of an .xlsx by registrant; return (items by registrant, row problems)."""
    try:
        rows = [(i, r) for i, r in xlsx_rows(data, max_rows=MAX_ROWS) if any(c not in (None, "") for c in r)]
    except SpreadsheetError as exc:
        raise PlanError(str(exc), field="file") from None
    if not rows:
        raise PlanError("Tệp không có dữ liệu / the file is empty", field="file")
    header = {i: REGISTRATION_HEADERS.get(fold(str(h or "")).split(" (")[0]) for i, h in enumerate(rows[0][1])}
    if not {"registrant", "title"} <= set(header.values()):
        raise PlanError("Thiếu cột 'Đơn vị đăng ký' hoặc 'Tên đề án' / required columns missing", field="file")
    grouped: dict[str, list[dict[str, Any]]] = {}
    problems: list[dict[str, Any]] = []
    for number, cells in rows[1:]:
        item: dict[str, Any] = {}
        for i, cell in enumerate(cells):
            key = header.get(i)
            if key and cell not in (None, ""):
                item[key] = cell
        registrant = " ".join(str(item.pop("registrant", "")).split())
        if not registrant:
            problems.append({"row": number, "field": "registrant", "message": "Thiếu đơn vị đăng ký"})
            continue
        if not str(item.get("title", "")).strip():
            problems.append({"row": number, "field": "title", "message": "Thiếu tên đề án"})
            continue
        amount = item.get("support_vnd", 0)
        if isinstance(amount, str):
            amount = amount.replace(".", "").replace(",", "").strip() or "0"
        try:
            value = int(amount) if not isinstance(amount, float) or amount.is_integer() else -1
        except (ValueError, TypeError, OverflowError):
            value = -1
        if not 0 <= value <= MAX_VND:
            problems.append({"row": number, "field": "support_vnd", "message": f"Kinh phí không hợp lệ: {amount!r}"})
            continue
        if len(grouped.get(registrant, ())) >= MAX_REGISTRATION_ITEMS:
            problems.append(
                {"row": number, "field": "registrant", "message": f"Tối đa {MAX_REGISTRATION_ITEMS} đề án mỗi đơn vị"}
            )
            continue
        item["support_vnd"] = value
        item["title"] = " ".join(str(item["title"]).split())
        grouped.setdefault(registrant, []).append(item | {"row": number})
    return grouped, problems
