"""HTTP API of a đề án's own files: its documents and the photos of its monthly progress reports, kept at
the province (the application's file store), what each is read from its bytes, served back as
attachments never rendered. Permissions: ``permissions.py``; a unit reaches its own đề án's only."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, Path, Request, Response, UploadFile
from kc_kernel.periods import MONTH_PATTERN
from kc_runtime.store.files import EXTENSIONS
from kc_runtime.web.actor import actor_of
from kc_runtime.web.errors import problem_responses
from starlette.concurrency import run_in_threadpool

from kc_appraisal.application import MAX_DOCUMENT_BYTES, MAX_PHOTO_BYTES, AppraisalApplication
from kc_appraisal.domain.de_an import DocumentKind


def router() -> APIRouter:
    api = APIRouter()
    errors = problem_responses(404, 409, 422)

    def app_of(request: Request) -> AppraisalApplication:
        app: AppraisalApplication = request.app.state.application
        return app

    @api.post(
        "/de-an/{de_an_id}/documents",
        status_code=201,
        tags=["tài liệu"],
        responses=problem_responses(404, 409, 413, 422),
        summary="Nộp tài liệu của đề án (PDF, JPEG, PNG, .docx, .xlsx theo nội dung tệp; ≤ 20 MB; lưu tại tỉnh)",
    )
    async def file_document(
        de_an_id: UUID,
        request: Request,
        kind: Annotated[DocumentKind, Form(description="thuyet_minh, du_toan, hop_dong, bien_ban, chung_tu, khac")],
        file: Annotated[UploadFile, File()],
    ) -> dict[str, Any]:
        data = await file.read(MAX_DOCUMENT_BYTES + 1)
        return await run_in_threadpool(app_of(request).file_document, de_an_id, kind.value, data, actor_of(request))

    @api.get("/de-an/{de_an_id}/documents", tags=["tài liệu"], responses=errors, summary="Tài liệu của đề án")
    def documents(de_an_id: UUID, request: Request) -> list[dict[str, Any]]:
        return list(app_of(request).get(de_an_id, actor=actor_of(request)).state()["documents"])

    @api.post(
        "/de-an/{de_an_id}/progress/{month}/photos",
        status_code=201,
        tags=["thực hiện"],
        responses=problem_responses(404, 409, 413, 422),
        summary="Thêm ảnh vào báo cáo tiến độ tháng (JPEG, PNG theo nội dung tệp; ≤ 10 MB; tối đa 12 ảnh)",
    )
    async def file_progress_photo(
        de_an_id: UUID,
        month: Annotated[str, Path(pattern=MONTH_PATTERN, description="Tháng báo cáo, YYYY-MM")],
        request: Request,
        file: Annotated[UploadFile, File()],
        caption: Annotated[str, Form(max_length=200, description="Chú thích ảnh")] = "",
    ) -> dict[str, Any]:
        data = await file.read(MAX_PHOTO_BYTES + 1)
        return await run_in_threadpool(
            app_of(request).file_progress_photo, de_an_id, month, data, caption, actor_of(request)
        )

    @api.get(
        "/de-an/{de_an_id}/files/{sha256}",
        tags=["tài liệu"],
        responses=errors,
        response_class=Response,
        summary="Tải một tệp của đề án (tài liệu, ảnh tiến độ): tải về, không mở trong trình duyệt",
    )
    def file_download(
        de_an_id: UUID, sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")], request: Request
    ) -> Response:
        media_type, data = app_of(request).file_bytes(de_an_id, sha256, actor_of(request))
        # as the registry's dossier: saved as an attachment with the type its bytes showed, never
        # sniffed, sandboxed if opened anyway
        return Response(
            data,
            media_type=media_type,
            headers={
                "ETag": f'"{sha256}"',
                "Content-Disposition": f'attachment; filename="de-an-{sha256[:12]}{EXTENSIONS.get(media_type, "")}"',
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'",
            },
        )

    return api
