"""Spreadsheets in and out: an uploaded .xlsx read without letting it stall the service, and an
exported .xlsx whose cells a spreadsheet program shows but never evaluates.

Reading. An .xlsx is a zip of XML. Before openpyxl opens it, the upload is checked for its size,
for what it inflates to (a zip bomb of a few hundred KB can inflate to gigabytes; zipfile never
inflates past a member's declared size, so the declared sizes are what bounds the work) and for the
rows its sheet declares (``<dimension ref="A1:S2000000"/>``) or numbers (a scan of the XML for
``<row r="…">``, no parsing): openpyxl yields every missing row before a row numbered 2,000,000, so a
limit checked on what it yields comes after two million rows. Then the sheet is read in openpyxl's
streaming mode, at most ``MAX_COLUMNS`` wide, the row limit checked again as rows arrive. The caller
runs this off the event loop (it is CPU work).

Writing. openpyxl writes any text beginning with ``=`` as a live formula; :func:`neutralise_formulas`
(run on a workbook before it is saved) stores such text, and text beginning with ``+ - @`` or a tab
or line break, as a text cell with Excel's quote prefix, so the title ``=HYPERLINK(…)`` of a đề án
is shown as typed and never run.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

MiB = 1024 * 1024
MAX_UPLOAD_BYTES = 10 * MiB  # a 20,000-row list is 1-2 MB as .xlsx, 4-6 MB as .csv
MAX_UNCOMPRESSED_BYTES = 64 * MiB  # what all the zip's members may inflate to together
MAX_ZIP_MEMBERS = 500
MAX_COLUMNS = 64
HEADER_ROWS = 1
# a sheet's dimension as Excel, LibreOffice and openpyxl write it, within the first KB of the sheet
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="\$?[A-Z]{0,3}\$?(\d*)(?::\$?[A-Z]{0,3}\$?(\d+))?"')
_SHEET = re.compile(r"^xl/worksheets/[^/]+\.xml$")
_ROW = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
_ROW_NUMBER = re.compile(rb"\sr=[\"'](\d+)[\"']")


class SpreadsheetError(ValueError):
    """The file as a whole cannot be read: ``"<tiếng Việt> / <English>"``, about the ``file`` field."""

    field = "file"


def _shown(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def check_upload_size(size: int | None, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
    if size is not None and size > max_bytes:
        raise SpreadsheetError(
            f"Tệp quá lớn ({_shown(size)} byte; tối đa {_shown(max_bytes)} byte) / "
            f"the file is too large ({size} bytes; at most {max_bytes})"
        )


def check_xlsx(data: bytes, *, max_rows: int, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
    """Refuse, before any parsing, an .xlsx too large, inflating too much or declaring too many rows."""
    check_upload_size(len(data), max_bytes)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise SpreadsheetError("Không đọc được tệp .xlsx / not a readable .xlsx file") from None
    with archive:
        if len(members) > MAX_ZIP_MEMBERS:
            raise SpreadsheetError(
                f"Tệp .xlsx có quá nhiều phần ({len(members)}) / the .xlsx has too many parts ({len(members)})"
            )
        inflated = sum(m.file_size for m in members)
        if inflated > MAX_UNCOMPRESSED_BYTES:
            raise SpreadsheetError(
                f"Dữ liệu giải nén quá lớn ({_shown(inflated)} byte; tối đa {_shown(MAX_UNCOMPRESSED_BYTES)}) / "
                f"the file inflates to {inflated} bytes (at most {MAX_UNCOMPRESSED_BYTES}): a zip bomb?"
            )
        for member in members:
            if _SHEET.match(member.filename):
                try:
                    _scan_rows(archive, member, max_rows)
                except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
                    if isinstance(exc, SpreadsheetError):
                        raise
                    raise SpreadsheetError("Không đọc được tệp .xlsx / not a readable .xlsx file") from None


def _scan_rows(archive: zipfile.ZipFile, member: zipfile.ZipInfo, max_rows: int) -> None:
    """Refuse a sheet whose declared dimension, or any of whose rows, lies past the limit.

    A scan of the inflated XML for ``<row r="…">`` (no parsing: a few milliseconds per MB), numbering
    a row without ``r`` as the one after the previous, as openpyxl does. So a 100,000-row file is
    refused at row 20,002 before openpyxl has parsed a single cell, and a file whose only row is
    numbered 2,000,000 at that row, whatever its dimension says."""
    last_allowed = max_rows + HEADER_ROWS
    number = 0
    pending = b""
    first = True
    with archive.open(member) as sheet:
        while chunk := sheet.read(1024 * 1024):
            pending += chunk
            if first:
                found = _DIMENSION.search(pending[: 64 * 1024])
                declared = int((found.group(2) or found.group(1) or 0) if found else 0)
                if declared > last_allowed:
                    raise _too_many_rows(max_rows, declared)
                first = False
            cut = pending.rfind(b"<")  # a tag may be cut in two at the chunk's end: keep it for the next
            complete, pending = (pending[:cut], pending[cut:]) if cut >= 0 else (pending, b"")
            for row in _ROW.finditer(complete):
                given = _ROW_NUMBER.search(row.group(1))
                number = int(given.group(1)) if given else number + 1
                if number > last_allowed:
                    raise _too_many_rows(max_rows, number)
    for row in _ROW.finditer(pending):
        given = _ROW_NUMBER.search(row.group(1))
        number = int(given.group(1)) if given else number + 1
        if number > last_allowed:
            raise _too_many_rows(max_rows, number)


def check_row(number: int, max_rows: int) -> None:
    """Refuse a row numbered past ``max_rows`` data rows and the header (a CSV read row by row)."""
    if number > max_rows + HEADER_ROWS:
        raise _too_many_rows(max_rows, number)


def _too_many_rows(max_rows: int, row: int) -> SpreadsheetError:
    return SpreadsheetError(
        f"Tối đa {_shown(max_rows)} dòng dữ liệu mỗi tệp (tệp có dòng số {_shown(row)}) / "
        f"at most {max_rows} data rows per file (the file has row {row})"
    )


def xlsx_rows(data: bytes, *, max_rows: int, max_columns: int = MAX_COLUMNS) -> Iterator[tuple[int, list[Any]]]:
    """(spreadsheet row number, cell values) of the first sheet, header included, streamed; refuses a
    file once a row beyond ``max_rows`` data rows (plus the header) is reached."""
    check_xlsx(data, max_rows=max_rows)
    from openpyxl import load_workbook  # imported when used: it brings numpy (~20 MB of idle RSS)

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet: Any = book.worksheets[0]
    except Exception as exc:
        raise SpreadsheetError(f"Không đọc được tệp .xlsx / not a readable .xlsx file: {exc}") from None
    try:
        # the declared dimension was checked; the rows themselves are what counts (a file may declare
        # fewer rows than it has, and openpyxl would silently stop at the declared last one)
        sheet.reset_dimensions()
        for number, row in enumerate(sheet.iter_rows(max_col=max_columns, values_only=True), start=1):
            check_row(number, max_rows)
            yield number, list(row)
    except SpreadsheetError:
        raise
    except Exception as exc:  # a malformed sheet found while streaming it
        raise SpreadsheetError(f"Không đọc được tệp .xlsx / not a readable .xlsx file: {exc}") from None
    finally:
        book.close()


# -- writing ------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def needs_quoting(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_FORMULA_START)


def neutralise_formulas(book: Any) -> int:
    """Make every cell of ``book`` whose text a spreadsheet could evaluate a text cell marked as such.

    openpyxl turns any string beginning with ``=`` into a live formula (``data_type 'f'``); our
    exports never write formulas on purpose (totals are computed here), so such a cell is data — a
    title typed by someone. It becomes a string cell with Excel's quote prefix (the ``'`` a person
    types to enter ``=1+1`` as text): shown exactly as typed, never evaluated, and still text if
    someone edits it. Text beginning with ``+ - @`` (or a tab or line break), which programs also
    read as formulas when typed, gets the same mark. Returns how many cells it changed."""
    changed = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if needs_quoting(cell.value):
                    cell.data_type = "s"
                    cell.quotePrefix = True
                    changed += 1
    return changed
