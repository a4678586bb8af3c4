"""A đề án's own files — its documents and the photos of its monthly progress reports — as the domain
sees them: what they are (kind, hash, size, type) and when one may be filed. The bytes are kept by the
application (the province's file store); the events carry their hashes only."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from kc_appraisal.domain.de_an.lifecycle import Status
from kc_appraisal.domain.de_an.values import By, text
from kc_appraisal.domain.errors import AppraisalError


class DocumentKind(StrEnum):
    """What a đề án's own document is (labels: vocabulary kind de_an_document_kind)."""

    thuyet_minh = "thuyet_minh"  # the đề án's explanation (thuyết minh)
    du_toan = "du_toan"  # the detailed estimate
    hop_dong = "hop_dong"  # the contract and its annexes
    bien_ban = "bien_ban"  # minutes (acceptance, appraisal)
    chung_tu = "chung_tu"  # invoices, payment vouchers
    khac = "khac"


DOCUMENT_KINDS = tuple(k.value for k in DocumentKind)
MAX_DOCUMENTS = 100
MAX_PHOTOS_PER_REPORT = 12


class DeAnFiles:
    """The đề án's commands on its files (``DeAn`` inherits them)."""

    status: Status
    documents: dict[str, dict[str, Any]]
    progress: list[dict[str, Any]]
    DocumentFiled: Any
    ProgressPhotoFiled: Any

    if TYPE_CHECKING:  # the Aggregate's, which ``DeAn`` also inherits (a definition here would hide it)

        def trigger_event(self, event_class: Any, **kwargs: Any) -> None: ...

    def file_document(self, *, kind: str, sha256: str, size_bytes: int, media_type: str, by: By) -> None:
        if kind not in DOCUMENT_KINDS:
            raise AppraisalError(f"Loại tài liệu không có: {kind} / unknown document kind", field="kind")
        if self.status is Status.closed:
            raise AppraisalError("Đề án đã đóng: không nộp thêm tài liệu / the đề án is closed", field="file")
        if sha256 in self.documents:
            raise AppraisalError("Tài liệu này đã có trong hồ sơ đề án / already filed", field="file")
        if len(self.documents) >= MAX_DOCUMENTS:
            raise AppraisalError(f"Đề án đã có {MAX_DOCUMENTS} tài liệu (tối đa) / too many documents", field="file")
        self.trigger_event(
            self.DocumentFiled, kind=kind, sha256=sha256, size_bytes=size_bytes, media_type=media_type, **by.fields
        )

    def file_progress_photo(
        self, *, month: str, sha256: str, size_bytes: int, media_type: str, caption: str, by: By
    ) -> None:
        report = next((r for r in reversed(self.progress) if r["month"] == month), None)
        if report is None:
            raise AppraisalError(
                f"Chưa có báo cáo tiến độ tháng {month}: báo cáo trước, rồi thêm ảnh / report the month first",
                field="month",
            )
        if self.status is Status.closed:
            raise AppraisalError("Đề án đã đóng: không thêm ảnh / the đề án is closed", field="file")
        photos = report.get("photos", [])
        if any(p["sha256"] == sha256 for p in photos):
            raise AppraisalError("Ảnh này đã có trong báo cáo tháng / already attached", field="file")
        if len(photos) >= MAX_PHOTOS_PER_REPORT:
            raise AppraisalError(
                f"Báo cáo tháng {month} đã có {MAX_PHOTOS_PER_REPORT} ảnh (tối đa) / too many photos", field="file"
            )
        self.trigger_event(
            self.ProgressPhotoFiled,
            month=month,
            sha256=sha256,
            size_bytes=size_bytes,
            media_type=media_type,
            caption=text(caption, "caption", required=False),
            **by.fields,
        )

    def has_file(self, sha256: str) -> bool:
        """Whether ``sha256`` is one of its documents or progress photos."""
        return sha256 in self.documents or any(
            p["sha256"] == sha256 for r in self.progress for p in r.get("photos", [])
        )
