"""The official report forms (kc_planning.reports): which form applies on either side of each date, the
figures as they stood on the period's last day, the ministry's header, and the files themselves."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest
from kc_planning import reports
from kc_planning.domain.plan import PlanError
from openpyxl import load_workbook
from pypdf import PdfReader


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "de_an_id": "a",
        "instance": "tinh-40",
        "code": "KCĐP-40-2024-01",
        "title": "Hỗ trợ ứng dụng máy sấy chè tiên tiến",
        "level": "dia_phuong",
        "plan_year": 2024,
        "province_code": "40",
        "commune_code": None,
        "activity": "3",
        "status": "da_quyet_toan",
        "approved_vnd": 200_000_000,
        "contracted_vnd": 200_000_000,
        "advanced_vnd": 140_000_000,
        "accepted_vnd": 200_000_000,
        "settled_vnd": 195_000_000,
        "implementing_unit": "Trung tâm Khuyến công Nghệ An",
        "beneficiaries": json.dumps(["e1"]),
        "contract_number": "12/2024/HĐ-KCĐP",
        "contract_signed_on": "2024-02-10",
        "advances": json.dumps([{"paid_on": "2024-06-28", "amount_vnd": 140_000_000}]),
        "accepted_on": "2024-11-15",
        "settled_on": "2025-01-10",
        "cost_items": json.dumps([{"cost_item": "Máy sấy chè", "support_item": "may_moc_thiet_bi", "support_vnd": 1}]),
    }
    return base | changes


@pytest.mark.parametrize(
    ("day", "version"),
    [
        (date(2014, 2, 10), "TT36/2013-bao-cao"),
        (date(2018, 5, 14), "TT36/2013-bao-cao"),
        (date(2018, 5, 15), "TT28/2018-bao-cao"),
        (date(2024, 12, 31), "TT28/2018-bao-cao"),
        (date(2025, 1, 1), "TT28/2018+TT64/2024-bao-cao"),
    ],
)
def test_the_form_in_force_on_either_side_of_each_date(day: date, version: str) -> None:
    assert reports.forms().on(day).version == version


def test_the_cuc_is_named_as_it_was_on_the_periods_last_day() -> None:
    assert reports.agency().on(date(2025, 2, 28)).params.name == "Cục Công Thương địa phương"
    assert reports.agency().on(date(2025, 3, 1)).params.name.startswith("Cục Đổi mới sáng tạo")
    made = reports.progress_report([row()], {}, instance="tinh-40", p=reports.period("6-thang", 2025))
    assert "Cục Đổi mới sáng tạo, Chuyển đổi xanh và Khuyến công - Bộ Công Thương;" in made.recipients


def test_periods_and_years_refused_with_the_field_named() -> None:
    for code, year, field in (("quy-5", 2024, "ky"), ("ca-nam", 2009, "year"), ("ca-nam", 2101, "year")):
        with pytest.raises(PlanError) as refused:
            reports.period(code, year)
        assert refused.value.field == field
    with pytest.raises(PlanError, match="Chưa có mẫu báo cáo cho kỳ kết thúc ngày 31/12/2013"):
        reports.period("ca-nam", 2013)  # the first form is in force from 10/02/2014
    assert reports.period("6-thang", 2014).last == date(2014, 6, 30)


def test_the_figures_as_they_stood_on_the_last_day() -> None:
    june = reports.as_of(row(), date(2024, 6, 30))
    assert (june["contracted"], june["advanced"], june["accepted"], june["settled"]) == (200_000_000, 140_000_000, 0, 0)
    assert june["standing"] == "Đang thực hiện (đã ký hợp đồng)"
    assert reports.as_of(row(), date(2024, 6, 27))["advanced"] == 0  # paid on the 28th
    assert reports.as_of(row(), date(2024, 2, 9))["standing"] == "Đã phê duyệt, chưa ký hợp đồng"
    year_end = reports.as_of(row(), date(2024, 12, 31))
    assert (year_end["accepted"], year_end["settled"], year_end["standing"]) == (200_000_000, 0, "Đã nghiệm thu")
    # the year's settlement table counts settlements until 22/01 of the next year
    p = reports.period("ca-nam", 2024)
    assert p.settled_until == date(2025, 1, 22)
    assert reports.as_of(row(settled_on="2025-01-22"), p.settled_until)["settled"] == 195_000_000
    assert reports.as_of(row(settled_on="2025-01-23"), p.settled_until)["settled"] == 0
    assert reports.period("6-thang", 2024).settled_until == date(2024, 6, 30)
    # a row made before the dates were kept: its amounts count as they are
    old = row(contract_signed_on=None, advances=None, accepted_on=None, settled_on=None)
    assert reports.as_of(old, date(2024, 6, 30))["advanced"] == 140_000_000


def test_the_ministrys_report_names_the_ministry_and_counts_the_provinces_establishments() -> None:
    made = reports.settlement_table([row(instance="tinh-40")], {}, instance="bo", p=reports.period("ca-nam", 2024))
    assert made.issuer == ("BỘ CÔNG THƯƠNG", "CỤC CÔNG THƯƠNG ĐỊA PHƯƠNG")
    assert made.place == "Hà Nội" and made.signatures[1] == "CỤC TRƯỞNG"
    assert made.filename == "Bảng tổng hợp quyết toán kinh phí khuyến công cả năm 2024 - Cục Công Thương địa phương"
    item = next(line for line in made.lines if line.kind == "item")
    assert item.cells[3] == "1 cơ sở (tên lưu tại tỉnh)"
    assert item.cells[8] == 195_000_000 and item.cells[10] == 5_000_000  # settled by 22/01/2025


def test_the_files_carry_the_names_and_never_evaluate_a_typed_formula() -> None:
    rows = [
        row(title='=HYPERLINK("http://x","bấm")'),
        row(de_an_id="b", title="Đào tạo nghề dệt thổ cẩm", activity="1"),
    ]
    p = reports.period("ca-nam", 2024)
    made = reports.progress_report(rows, {"e1": "Cơ sở chế biến chè Thông Thụ"}, instance="tinh-40", p=p)
    book = load_workbook(io.BytesIO(reports.to_xlsx(made)))
    sheet = book.active
    assert sheet is not None
    cells = [c for r in sheet.iter_rows() for c in r if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" and c.quotePrefix for c in cells)
    text = " ".join(" ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(reports.to_pdf(made))).pages).split())
    assert "Cơ sở chế biến chè Thông Thụ" in text and "Đào tạo nghề dệt thổ cẩm" in text
    assert "ỦY BAN NHÂN DÂN TỈNH NGHỆ AN" in text and "Đào tạo nghề, truyền nghề, nâng cao tay nghề" in text
    disposition = reports.content_disposition(made.filename, "pdf")
    assert disposition.startswith('attachment; filename="bao-cao-tinh-hinh-thuc-hien-ke-hoach-khuyen-cong-ca-nam-2024')
