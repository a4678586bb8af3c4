"""Reading establishment lists from .xlsx and .csv files, the way Sở staff keep them.

Headers are matched without accents or case ("Mã số thuế" = "ma so thue" = "MST"); legal forms and
sectors may be written as labels or codes; numbers may use Vietnamese thousands separators
("1.200.000.000"). Every problem is reported with its spreadsheet row number, in Vietnamese.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

from kc_contracts.limits import MAX_COUNT, MAX_ESTABLISHMENT_VND
from kc_kernel.money import vnd
from kc_runtime.spreadsheets import (
    MAX_COLUMNS,
    SpreadsheetError,
    check_row,
    check_upload_size,
    neutralise_formulas,
    xlsx_rows,
)
from kc_runtime.text import fold

from kc_registry.application import RowProblem
from kc_registry.domain.errors import RegistryError
from kc_registry.domain.establishment import LegalForm

HEADERS: dict[str, str] = {
    "ten co so": "name",
    "ten": "name",
    "ma so thue": "tax_code",
    "mst": "tax_code",
    "so dang ky": "registration_number",
    "loai hinh": "legal_form",
    "ma xa": "commune_code",
    "ma xa/phuong": "commune_code",
    "ma don vi hanh chinh": "commune_code",
    "he don vi": "unit_system",
    "ma xa hien nay": "current_commune_code",
    "dia chi": "street",
    "nganh nghe": "sectors",
    "so lao dong": "employees",
    "von": "capital_vnd",
    "nguon von": "capital_vnd",
    "doanh thu": "revenue_vnd",
    "chu la nu": "women_owned",
    "chu la nguoi dan toc thieu so": "ethnic_minority_owned",
    "lang nghe": "craft_village",
    "san xuat sach hon": "cleaner_production",
    "nguoi dai dien": "representative",
    "dien thoai": "phone",
    "email": "email",
}
TEMPLATE_HEADERS = [
    "Tên cơ sở",
    "Mã số thuế",
    "Số đăng ký",
    "Loại hình",
    "Mã xã",
    "Hệ đơn vị",
    "Mã xã hiện nay",
    "Địa chỉ",
    "Ngành nghề",
    "Số lao động",
    "Nguồn vốn (VND)",
    "Doanh thu (VND)",
    "Chủ là nữ",
    "Chủ là người dân tộc thiểu số",
    "Làng nghề",
    "Sản xuất sạch hơn",
    "Người đại diện",
    "Điện thoại",
    "Email",
]
LEGAL_FORMS = {
    fold(label): form
    for label, form in [
        ("doanh nghiệp nhỏ và vừa", LegalForm.doanh_nghiep_nho_va_vua),
        ("doanh nghiệp", LegalForm.doanh_nghiep_nho_va_vua),
        ("DNNVV", LegalForm.doanh_nghiep_nho_va_vua),
        ("hợp tác xã", LegalForm.hop_tac_xa),
        ("HTX", LegalForm.hop_tac_xa),
        ("liên hiệp hợp tác xã", LegalForm.lien_hiep_hop_tac_xa),
        ("tổ hợp tác", LegalForm.to_hop_tac),
        ("hộ kinh doanh", LegalForm.ho_kinh_doanh),
        ("nghệ nhân", LegalForm.nghe_nhan),
        ("doanh nghiệp hạ tầng cụm công nghiệp", LegalForm.doanh_nghiep_ha_tang_ccn),
        *((f.value, f) for f in LegalForm),
    ]
}
UNIT_SYSTEMS = {
    "truoc 2025": "truoc_2025",
    "truoc_2025": "truoc_2025",
    "cu": "truoc_2025",
    "tu 2025": "tu_2025",
    "tu_2025": "tu_2025",
    "moi": "tu_2025",
    "": "tu_2025",
}
TRUE = {"co", "x", "yes", "true", "1", "dung"}
FALSE = {"khong", "", "no", "false", "0", "sai"}
INTEGER_FIELDS = ("employees", "capital_vnd", "revenue_vnd")
BOOL_FIELDS = ("women_owned", "ethnic_minority_owned", "cleaner_production")
MAX_ROWS = 20_000


class ImportFileError(RegistryError):
    """The file as a whole cannot be read (format, headers, size)."""


def _header_key(raw: Any) -> str | None:
    text = re.sub(r"\(.*?\)", "", fold(str(raw or ""))).strip()
    return HEADERS.get(text)


def read_table(filename: str, data: bytes) -> Iterator[tuple[int, list[Any]]]:
    """(spreadsheet row number, cells) for each row, header first, read as the rows come: a file past
    ``MAX_ROWS`` is refused at the first row beyond, not after reading it all."""
    name = filename.lower()
    try:
        if name.endswith(".xlsx"):
            yield from xlsx_rows(data, max_rows=MAX_ROWS)
            return
        if name.endswith(".csv"):
            check_upload_size(len(data))
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ImportFileError(
                    "Tệp .csv phải mã hóa UTF-8 / the .csv file must be UTF-8", field="file"
                ) from None
            try:
                dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else csv.excel
            except csv.Error:
                dialect = csv.excel
            try:
                for i, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
                    check_row(i, MAX_ROWS)
                    yield i, row[:MAX_COLUMNS]
            except csv.Error as exc:
                raise ImportFileError(f"Tệp .csv hỏng / a malformed .csv file: {exc}", field="file") from None
            return
    except SpreadsheetError as exc:
        raise ImportFileError(str(exc), field="file") from None
    raise ImportFileError("Chỉ nhận tệp .xlsx hoặc .csv / only .xlsx or .csv files", field="file")


def parse_rows(
    filename: str, data: bytes, sector_labels: dict[str, str]
) -> list[tuple[int, dict[str, Any], list[RowProblem]]]:
    table = [(n, cells) for n, cells in read_table(filename, data) if any(str(c or "").strip() for c in cells)]
    if not table:
        raise ImportFileError("Tệp không có dữ liệu / the file is empty", field="file")
    _, header = table[0]
    columns = {i: _header_key(h) for i, h in enumerate(header)}
    if "name" not in columns.values() or "commune_code" not in columns.values():
        raise ImportFileError(
            "Thiếu cột bắt buộc 'Tên cơ sở' hoặc 'Mã xã' ở dòng tiêu đề / the header row needs 'Tên cơ sở' and 'Mã xã'",
            field="file",
        )
    if len(table) - 1 > MAX_ROWS:
        raise ImportFileError(f"Tối đa {MAX_ROWS} dòng mỗi tệp / at most {MAX_ROWS} rows", field="file")
    sectors_by_label = {fold(label): code for code, label in sector_labels.items()} | {c: c for c in sector_labels}
    rows = []
    for number, cells in table[1:]:
        details: dict[str, Any] = {}
        problems: list[RowProblem] = []
        for i, cell in enumerate(cells):
            key = columns.get(i)
            if key is None or cell is None or str(cell).strip() == "":
                continue
            try:
                details[key] = _value(key, cell, sectors_by_label)
            except ValueError as exc:
                vi, _, en = str(exc).partition(" / ")
                problems.append(RowProblem(number, key, vi, en or vi))
        if "legal_form" not in details and not any(p.field == "legal_form" for p in problems):
            problems.append(RowProblem(number, "legal_form", "Thiếu loại hình", "legal form missing"))
        rows.append((number, details, problems))
    return rows


def _value(key: str, cell: Any, sectors_by_label: dict[str, str]) -> Any:
    text = str(cell).strip()
    if key in ("commune_code", "current_commune_code"):
        digits = text.split(".")[0] if isinstance(cell, float) else text
        if not digits.isdigit():
            raise ValueError(f"Mã xã phải là số, nhận {text!r} / commune code must be digits")
        return digits.zfill(5)
    if key == "tax_code":
        return text.split(".")[0] if isinstance(cell, float) else text
    if key == "legal_form":
        form = LEGAL_FORMS.get(fold(text))
        if form is None:
            raise ValueError(f"Loại hình không rõ: {text!r} / unknown legal form")
        return form.value
    if key == "unit_system":
        system = UNIT_SYSTEMS.get(fold(text))
        if system is None:
            raise ValueError(f"Hệ đơn vị phải là 'trước 2025' hoặc 'từ 2025', nhận {text!r} / unknown unit system")
        return system
    if key in INTEGER_FIELDS:
        if isinstance(cell, int) and not isinstance(cell, bool):
            number = cell
        elif isinstance(cell, float) and cell.is_integer():
            number = int(cell)
        else:
            compact = re.sub(r"[\s.,]", "", text)
            if not compact.isdigit() or len(compact) > 18:
                raise ValueError(f"Phải là số nguyên, nhận {text!r} / must be a whole number")
            number = int(compact)
        bound = MAX_COUNT if key == "employees" else MAX_ESTABLISHMENT_VND
        if not 0 <= number <= bound:
            raise ValueError(f"Phải từ 0 đến {vnd(bound)}, nhận {text!r} / must be between 0 and {bound}")
        return number
    if key in BOOL_FIELDS:
        folded = fold(text)
        if folded in TRUE:
            return True
        if folded in FALSE:
            return False
        raise ValueError(f"Ghi 'có' hoặc 'không', nhận {text!r} / write 'có' or 'không'")
    if key == "sectors":
        codes = []
        for part in re.split(r"[;\n|]", text):  # not commas: labels contain them
            if part.strip():
                code = sectors_by_label.get(fold(part)) or sectors_by_label.get(part.strip())
                if code is None:
                    raise ValueError(f"Ngành nghề không rõ: {part.strip()!r} / unknown sector")
                codes.append(code)
        return codes
    return text


def template() -> bytes:
    """An empty .xlsx with the headers, for officers to fill in."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Cơ sở CNNT"
    sheet.append(TEMPLATE_HEADERS)
    sheet.append(
        [
            "Cơ sở đúc đồng Đông Hà",
            "0100112437",
            "",
            "Hộ kinh doanh",
            "17419",
            "từ 2025",
            "",
            "Xóm 3",
            "Cơ khí chế tạo, sửa chữa máy móc",
            12,
            "",
            "",
            "không",
            "không",
            "",
            "không",
            "Nguyễn Văn A",
            "0912345678",
            "",
        ]
    )
    neutralise_formulas(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
