"""Files a service keeps for its records (a đề án's documents, progress photos): content-addressed, local.

Bytes are stored under their SHA-256 in the instance's var directory and never leave it: events carry
the hash, size, kind and type only; file names are not kept. What a file *is* is read from its bytes
(:func:`detect`), never taken from the uploader's ``Content-Type`` or name: a page of HTML sent as
``application/pdf`` is refused, and what is stored is served back with the type its bytes showed.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NAMES = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG", DOCX: "Word (.docx)", XLSX: "Excel (.xlsx)"}
EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png", DOCX: ".docx", XLSX: ".xlsx"}


class FileRefusedError(ValueError):
    """An upload refused (empty, too large, of a type not allowed, unknown hash): ``"<tiếng Việt> / <English>"``,
    about ``field`` (a 422 naming it)."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


def detect(data: bytes) -> str | None:
    """The type the bytes are (by their signature, and an Office file by the parts its zip lists), or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"PK\x03\x04"):
        try:  # the central directory only: nothing is decompressed
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            return None
        if "[Content_Types].xml" in names:
            if "word/document.xml" in names:
                return DOCX
            if "xl/workbook.xml" in names:
                return XLSX
    return None


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


class ContentStore:
    """Bytes under their SHA-256 in ``root`` (idempotent, written then renamed: never half a file)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes, *, max_bytes: int, allowed: Iterable[str]) -> tuple[str, str]:
        """Store ``data`` if it is one of the ``allowed`` types and at most ``max_bytes``: (sha256, its type)."""
        allowed = tuple(allowed)
        if not data:
            raise FileRefusedError("Tệp rỗng / the file is empty")
        if len(data) > max_bytes:
            raise FileRefusedError(
                f"Tệp quá lớn: tối đa {_mb(max_bytes)} / the file is too large (at most {max_bytes} bytes)"
            )
        media_type = detect(data)
        if media_type not in allowed:
            kinds = ", ".join(NAMES[t] for t in allowed)
            raise FileRefusedError(
                f"Loại tệp không được nhận: chỉ {kinds} / only {kinds} files are accepted (by their content)"
            )
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            Path(tmp).replace(path)
        return digest, media_type

    def get(self, sha256: str) -> bytes:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise FileRefusedError("Không có tệp này / no such file", field="sha256")
        path = self._path(sha256)
        if not path.exists():
            raise FileRefusedError("Không có tệp này / no such file", field="sha256")
        return path.read_bytes()
