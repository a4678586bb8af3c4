"""Báo cáo theo mẫu in the console (issue 15 item 9), in Chromium against the whole `make run` system and
its demo: Hải Phòng's Sở picks the report, the period and the year and downloads the periodic report
and the settlement table of 2023, as .xlsx (opened with openpyxl) and as PDF (its text read with
pypdf): the demo's casting model for Công ty TNHH Cơ khí Đúc Thành Phương, by name, with the
Vietnamese labels of the form and no code. A year before the first form in force is refused beside the
year, in Vietnamese."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

pytestmark = pytest.mark.timeout(900)

SHOTS = os.environ.get("KC_CONSOLE_SCREENSHOTS")  # as test_console.py: docs/console when refreshing the README
CODES = re.compile(
    r"\b(dia_phuong|quoc_gia|da_quyet_toan|da_dong|mo_hinh_trinh_dien|kcdp|tinh-31)\b|[0-9a-f]{8}-[0-9a-f]{4}-"
)


def download(page: Any, report: str, period: str, year: str, kind: str, folder: Path) -> tuple[str, bytes]:
    page.get_by_label("Báo cáo", exact=True).select_option(label=report)
    page.get_by_label("Kỳ báo cáo").select_option(label=period)
    page.get_by_label("Năm kế hoạch").fill(year)
    page.get_by_label("Định dạng tệp").select_option(label=kind)
    # generous: the first PDF imports fpdf2 in the planning process (14 s at a load average of 18 on two cores)
    with page.expect_download(timeout=180_000) as info:
        page.get_by_role("button", name="Tải về").click(timeout=180_000)
    file = info.value
    target = folder / file.suggested_filename
    file.save_as(target)
    return file.suggested_filename, target.read_bytes()


def sheet_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data))
    return "\n".join(
        " | ".join("" if v is None else str(v) for v in row)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
    )


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages).split())


def test_the_so_downloads_the_reports_in_the_official_forms(officer, system, axe, tmp_path: Path) -> None:
    so = officer("so.haiphong", "tinh-31")
    page = so.page
    so.go("/")
    page.get_by_role("link", name="Báo cáo theo mẫu").click()
    page.wait_for_load_state()
    axe(page, "official reports")
    assert "Thông tư số 36/2013/TT-BCT" in so.main_text()
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "13-bao-cao-theo-mau.png"), full_page=False)

    name, data = download(
        page, "Báo cáo tình hình thực hiện kế hoạch khuyến công", "cả năm", "2023", "Excel (.xlsx)", tmp_path
    )
    assert name == "Báo cáo tình hình thực hiện kế hoạch khuyến công cả năm 2023 - Hải Phòng.xlsx"
    text = sheet_text(data)
    for expected in (
        "SỞ CÔNG THƯƠNG",
        "BÁO CÁO TÌNH HÌNH THỰC HIỆN KẾ HOẠCH KHUYẾN CÔNG CẢ NĂM 2023",
        "KHUYẾN CÔNG ĐỊA PHƯƠNG",
        "Mô hình trình diễn kỹ thuật, chuyển giao công nghệ",
        "Xây dựng mô hình trình diễn kỹ thuật sản xuất đúc kim loại",
        "Công ty TNHH Cơ khí Đúc Thành Phương",
        "Trung tâm Khuyến công",
        "Đã nghiệm thu",  # settled on 10/01/2024: after the year's last day
    ):
        assert expected in text, expected
    assert not CODES.search(text), CODES.search(text)

    name, data = download(page, "Bảng tổng hợp quyết toán kinh phí khuyến công", "cả năm", "2023", "PDF", tmp_path)
    assert name == "Bảng tổng hợp quyết toán kinh phí khuyến công cả năm 2023 - Hải Phòng.pdf"
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    for expected in (
        "BẢNG TỔNG HỢP QUYẾT TOÁN KINH PHÍ KHUYẾN CÔNG CẢ NĂM 2023",
        "SỞ CÔNG THƯƠNG",
        "Công ty TNHH Cơ khí Đúc Thành Phương",
        "Xây dựng mô hình trình diễn kỹ thuật sản xuất đúc kim loại",
        "795.000.000",  # settled by 22/01/2024: in the year's table
        "10/01/2024",
        "12/2023/HĐ-KCĐP",
        "Cục Công Thương địa phương",
        "GIÁM ĐỐC",
    ):
        assert expected in text, (expected, text)
    assert not CODES.search(text), CODES.search(text)

    # the other two: the report as PDF, the table as .xlsx
    _, data = download(
        page, "Báo cáo tình hình thực hiện kế hoạch khuyến công", "6 tháng đầu năm", "2023", "PDF", tmp_path
    )
    text = pdf_text(data)
    assert "6 THÁNG ĐẦU NĂM 2023" in text and "Công ty TNHH Cơ khí Đúc Thành Phương" in text
    assert not CODES.search(text)
    _, data = download(
        page, "Bảng tổng hợp quyết toán kinh phí khuyến công", "cả năm", "2023", "Excel (.xlsx)", tmp_path
    )
    text = sheet_text(data)
    assert "Công ty TNHH Cơ khí Đúc Thành Phương" in text and "Biểu số 02/QT-KC" in text
    assert not CODES.search(text)

    # a year before the first form in force: refused beside the year, nothing downloaded
    page.get_by_label("Năm kế hoạch").fill("2012")
    page.get_by_role("button", name="Tải về").click()
    page.wait_for_load_state()
    year = page.get_by_label("Năm kế hoạch")
    assert year.get_attribute("aria-invalid") == "true"
    assert "Chưa có mẫu báo cáo cho kỳ kết thúc ngày 31/12/2012" in page.locator("#e-nam").inner_text()
    axe(page, "official reports refused")


def test_the_cuc_downloads_the_national_report_with_the_ministrys_header(officer, tmp_path: Path) -> None:
    cuc = officer("cuc.bo", "bo")
    page = cuc.page
    cuc.go("/bao-cao-theo-mau")
    name, data = download(page, "Báo cáo tình hình thực hiện kế hoạch khuyến công", "cả năm", "2024", "PDF", tmp_path)
    assert name == "Báo cáo tình hình thực hiện kế hoạch khuyến công cả năm 2024 - Cục Công Thương địa phương.pdf"
    text = pdf_text(data)
    for expected in (
        "BỘ CÔNG THƯƠNG",
        "CỤC CÔNG THƯƠNG ĐỊA PHƯƠNG",  # its name on 31/12/2024
        "KHUYẾN CÔNG QUỐC GIA",
        "Hỗ trợ ứng dụng máy móc chế biến chè cho nhóm cơ sở Nghệ An",
        "CỤC TRƯỞNG",
    ):
        assert expected in text, (expected, text)
    assert not CODES.search(text), CODES.search(text)
    # the Cục's council page offers the provinces' national đề án sent up (none waits in the demo): it loads
    cuc.go("/hoi-dong")
    assert "Thành lập hội đồng" in cuc.main_text()
