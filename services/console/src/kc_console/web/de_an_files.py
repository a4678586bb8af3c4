"""A đề án's own files in the console: its documents (nộp, tải về) and the photos of its monthly progress
reports. The appraisal service keeps them at the province and decides what a file is from its bytes; the
console passes the upload on with the officer's token and hands a download back as an attachment."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError
from kc_console.web.common import Forbidden, calls, checked_form, ctx, redirect, require
from kc_console.web.de_an import instance_arg, uuid_of
from kc_kernel import vocabulary as vocab
from starlette.datastructures import UploadFile

MAX_DOCUMENT = 20 << 20  # the appraisal service's limits (it checks again, and the type by the bytes)
MAX_PHOTO = 10 << 20
DOCUMENT_KINDS = tuple(vocab.labels("de_an_document_kind").items())
MONTH_LENGTH = 7  # YYYY-MM


def router() -> APIRouter:
    api = APIRouter()

    @api.post("/de-an/{where}/{de_an_id}/tai-lieu")
    async def file_document(request: Request, where: str, de_an_id: str) -> Response:
        officer = require(request)
        form = await checked_form(request)
        where, de_an_id = instance_arg(request, where), uuid_of(de_an_id)
        back = f"/de-an/{where}/{de_an_id}#tai-lieu"
        if not officer.may("draft", where):
            raise Forbidden("Vai trò của bạn không nộp tài liệu đề án")
        kind = str(form.get("kind") or "")
        file = form.get("file")
        if kind not in dict(DOCUMENT_KINDS):
            return redirect(back, "Chưa nộp: vui lòng chọn loại tài liệu.")
        if not isinstance(file, UploadFile) or not file.filename:
            return redirect(back, "Chưa nộp: vui lòng chọn tệp tài liệu.")
        data = await file.read(MAX_DOCUMENT + 1)
        if len(data) > MAX_DOCUMENT:
            return redirect(back, "Chưa nộp: tệp quá lớn (tối đa 20 MB).")
        try:
            await calls(request, officer).post(
                "appraisal",
                f"/de-an/{de_an_id}/documents",
                instance=where,
                data={"kind": kind},
                files={"file": (file.filename[:200], data, file.content_type or "application/octet-stream")},
            )
        except ApiError as exc:
            if exc.status not in (409, 413, 422):
                raise
            return redirect(back, f"Chưa nộp: {exc.message}")
        ctx(request).store.log(
            officer.username, "nop_tai_lieu_de_an", f"{de_an_id}: {vocab.label('de_an_document_kind', kind)}"
        )
        return redirect(back, f"Đã nộp tài liệu: {vocab.label('de_an_document_kind', kind)}.")

    @api.post("/de-an/{where}/{de_an_id}/tien-do/{month}/anh")
    async def file_photo(request: Request, where: str, de_an_id: str, month: str) -> Response:
        officer = require(request)
        form = await checked_form(request)
        where, de_an_id = instance_arg(request, where), uuid_of(de_an_id)
        back = f"/de-an/{where}/{de_an_id}#tien-do"
        if not officer.may("draft", where):
            raise Forbidden("Vai trò của bạn không báo cáo tiến độ")
        month = month[:MONTH_LENGTH]
        file = form.get("file")
        caption = " ".join(str(form.get("caption") or "").split())
        if not isinstance(file, UploadFile) or not file.filename:
            return redirect(back, f"Chưa thêm ảnh: vui lòng chọn ảnh cho tháng {month}.")
        if len(caption) > 200:
            return redirect(back, f"Chưa thêm ảnh: chú thích tối đa 200 ký tự (bạn nhập {len(caption)}).")
        data = await file.read(MAX_PHOTO + 1)
        if len(data) > MAX_PHOTO:
            return redirect(back, "Chưa thêm ảnh: ảnh quá lớn (tối đa 10 MB).")
        try:
            await calls(request, officer).post(
                "appraisal",
                f"/de-an/{de_an_id}/progress/{month}/photos",
                instance=where,
                data={"caption": caption},
                files={"file": (file.filename[:200], data, file.content_type or "application/octet-stream")},
            )
        except ApiError as exc:
            if exc.status not in (409, 413, 422):
                raise
            return redirect(back, f"Chưa thêm ảnh: {exc.message}")
        ctx(request).store.log(officer.username, "anh_tien_do", f"{de_an_id}: tháng {month}")
        return redirect(back, f"Đã thêm ảnh vào báo cáo tiến độ tháng {month}.")

    @api.get("/de-an/{where}/{de_an_id}/tep/{sha256}")
    async def download(request: Request, where: str, de_an_id: str, sha256: str) -> Response:
        officer = require(request)
        where, de_an_id = instance_arg(request, where), uuid_of(de_an_id)
        response = await calls(request, officer).get(
            "appraisal", f"/de-an/{de_an_id}/files/{sha256[:64]}", instance=where, raw=True
        )
        # passed on as the service served it: an attachment, never rendered here either
        return Response(
            response.content,
            media_type=response.headers.get("content-type", "application/octet-stream"),
            headers={
                "Content-Disposition": response.headers.get(
                    "content-disposition", f'attachment; filename="de-an-{sha256[:12]}"'
                ),
                "Content-Security-Policy": "sandbox; default-src 'none'",
            },
        )

    return api
