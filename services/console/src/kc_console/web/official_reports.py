"""Báo cáo theo mẫu: the reports the Sở sends up, in the circular's forms, downloaded as .xlsx or PDF.

The planning service makes them (``GET /reports/{report}``: names, dates and money as a person reads
them, the form in force for the period); the console offers the choice — which report, which period,
which year, which format — and hands the file back as the attachment the service named in Vietnamese.
A refusal (an unknown period, a year out of range or before the first form) is shown beside the field
it names, in Vietnamese.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError
from kc_console.web.common import Forbidden, calls, ctx, render, require
from kc_kernel import vocabulary as vocab

FORMATS = (("xlsx", "Excel (.xlsx)"), ("pdf", "PDF"))
# the planning service's query names → this form's fields
FIELDS = {"report": "bao_cao", "ky": "ky", "period": "ky", "year": "nam", "format": "dinh_dang"}


def router() -> APIRouter:
    api = APIRouter()

    async def page(
        request: Request, values: dict[str, str], errors: dict[str, str] | None = None, status: int = 200
    ) -> Response:
        officer = require(request)
        where = ctx(request).settings.instance
        offered = await calls(request, officer).get("planning", "/reports", instance=where)
        forms = [
            f
            | {
                "from_text": vocab.format_date(f["from"]),
                "to_text": vocab.format_date(f["to"]) if f.get("to") else "nay",
                "to_confirm": "to confirm" in str(f.get("legal_basis", "")).lower(),
            }
            for f in offered["forms"]
        ]
        return render(
            request,
            "official_reports.html",
            status=status,
            active="bao-cao-theo-mau",
            title="Báo cáo theo mẫu",
            reports=[(r["code"], r["label"]) for r in offered["reports"]],
            periods=[(p["code"], p["label"]) for p in offered["periods"]],
            formats=FORMATS,
            forms=forms,
            values=values,
            errors=errors or {},
        )

    def allowed(request: Request) -> Any:
        officer = require(request)
        if not officer.may("read") or officer.is_unit:
            raise Forbidden("Vai trò của bạn không lập báo cáo tổng hợp")
        return officer

    @api.get("/bao-cao-theo-mau")
    async def choose(request: Request) -> Response:
        allowed(request)
        return await page(request, {"bao_cao": "tinh-hinh-thuc-hien", "ky": "ca-nam", "nam": "", "dinh_dang": "xlsx"})

    @api.get("/bao-cao-theo-mau/tai-ve")
    async def download(
        request: Request, bao_cao: str = "", ky: str = "", nam: str = "", dinh_dang: str = "xlsx"
    ) -> Response:
        officer = allowed(request)
        values = {"bao_cao": bao_cao, "ky": ky, "nam": nam, "dinh_dang": dinh_dang}
        year = nam.strip()
        if not year.isdigit() or len(year) > 4:
            return await page(request, values, {"nam": "Vui lòng nhập năm kế hoạch (4 chữ số, ví dụ 2024)."}, 422)
        where = ctx(request).settings.instance
        try:
            response = await calls(request, officer).get(
                "planning",
                f"/reports/{bao_cao or 'tinh-hinh-thuc-hien'}",
                instance=where,
                params={"year": int(year), "period": ky, "format": dinh_dang},
                raw=True,
                wait_s=180,  # the first PDF imports fpdf2 in the planning process: seconds on a busy machine
            )
        except ApiError as exc:
            if exc.status not in (404, 422):
                raise
            errors = {FIELDS.get(str(k), "bao_cao"): v for k, v in exc.by_field().items()} or {"bao_cao": exc.message}
            return await page(request, values, errors, 422)
        ctx(request).store.log(officer.username, "tai_bao_cao_theo_mau", f"{bao_cao} {ky} {year} {dinh_dang}")
        return Response(
            response.content,
            media_type=response.headers.get("content-type", "application/octet-stream"),
            headers={
                "Content-Disposition": response.headers.get("content-disposition", "attachment"),
                "Content-Security-Policy": "sandbox; default-src 'none'",
            },
        )

    return api
