""".xlsx exports read as officers read: statuses, places and activity contents by name, never by code."""

from __future__ import annotations

import io
from typing import Any

import pytest
from kc_kernel import vocabulary
from kc_planning import exports
from kc_runtime.adminunits import load_catalogue


@pytest.fixture(autouse=True)
def communes_by_name() -> Any:
    previous = vocabulary._units_source
    vocabulary.use_admin_units(load_catalogue)
    yield
    vocabulary._units_source = previous


def _cells(data: bytes) -> list[Any]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [cell for row in sheet.iter_rows(values_only=True) for cell in row if cell is not None]


def _row(**extra: Any) -> dict[str, Any]:
    return {
        "code": "KCĐP-40-2024-07",
        "title": "Hỗ trợ máy chẻ nan tự động",
        "province_code": "40",
        "commune_code": None,
        "activity": "3",
        "status": "da_phe_duyet",
        "level": "dia_phuong",
        "approved_vnd": 120_000_000,
        "support_requested_vnd": 150_000_000,
        "counterpart_vnd": 30_000_000,
        "other_vnd": 0,
    } | extra


def test_a_programme_export_shows_status_place_and_content_labels_not_codes() -> None:
    commune = next(c for c in load_catalogue().current.values() if c.province.code == "40")
    rows = [_row(), _row(code="KCĐP-40-2024-08", status="da_quyet_toan", commune_code=commune.code)]
    cells = _cells(exports.summary_sheet("TỔNG HỢP", rows))
    text = [str(c) for c in cells]
    assert "Đã phê duyệt" in text and "Đã quyết toán" in text
    assert "Tỉnh Nghệ An" in text
    assert f"{commune.name}, Tỉnh Nghệ An" in text
    assert any(t.startswith("Nội dung 3: Mô hình trình diễn kỹ thuật") for t in text)
    codes = {"da_phe_duyet", "da_quyet_toan", "40", commune.code, "dia_phuong"}
    assert not codes & set(text), codes & set(text)


def test_a_plan_export_shows_the_batch_that_approved_a_line() -> None:
    state = {
        "level": "quoc_gia",
        "lines": {
            "a": {
                "proposal": {
                    "code": "KCQG-2024-01",
                    "title": "Mô hình đúc kim loại",
                    "province_code": "31",
                    "activity_contents": ["3"],
                    "recommended_support_vnd": 900_000_000,
                    "budget": {"counterpart_vnd": 100_000_000, "other_vnd": 0},
                },
                "approved_support_vnd": 900_000_000,
                "batch": 1,
            },
            "b": {
                "proposal": {
                    "code": "KCQG-2024-02",
                    "title": "Đào tạo nghề mây tre",
                    "province_code": "40",
                    "activity_contents": ["1"],
                    "recommended_support_vnd": 50_000_000,
                    "budget": {"counterpart_vnd": 0, "other_vnd": 0},
                },
                "approved_support_vnd": None,
                "batch": None,
            },
        },
    }
    text = [str(c) for c in _cells(exports.summary_sheet("KẾ HOẠCH", exports.plan_rows(state)))]
    assert "Đã phê duyệt (đợt 1)" in text and "Đề xuất vào kế hoạch" in text
    assert "Thành phố Hải Phòng" in text and "Tỉnh Nghệ An" in text
    assert not {"da_phe_duyet", "de_xuat", "31", "40"} & set(text)
