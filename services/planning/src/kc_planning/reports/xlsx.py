"""A :class:`~kc_planning.reports.model.Report` as an .xlsx workbook (numbers kept, formatted as whole đồng)."""

from __future__ import annotations

import io

from kc_planning.reports.model import Report, date_line


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
    merged(3, half + 1, width, date_line(report.place), font=Font(italic=True))
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
