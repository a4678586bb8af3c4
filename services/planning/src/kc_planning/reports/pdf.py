"""A :class:`~kc_planning.reports.model.Report` as a PDF (A4 landscape, the table drawn cell by cell)."""

from __future__ import annotations

from importlib.resources import as_file, files
from typing import Any

from kc_planning.reports.model import Report, date_line, money_text

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
    pair(number, date_line(report.place), "", "I")
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
