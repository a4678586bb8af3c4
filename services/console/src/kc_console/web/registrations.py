"""Đăng ký kế hoạch: the Sở's list of registrations (filters: year, level, status, commune, unit), accept
or return with the reason, extension decisions of the deadlines this instance sets, filing the province's
national registration with the Cục; at the ministry, every province's national registration."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError
from kc_console.roles import Officer
from kc_console.web.common import Forbidden, calls, checked_form, ctx, redirect, render, require
from kc_console.web.forms import Field, parse, refusal_errors

LEVELS = (("quoc_gia", "Khuyến công quốc gia"), ("dia_phuong", "Khuyến công địa phương"))
STATUSES = (("", "Tất cả"), ("da_nop", "Đã đăng ký"), ("da_chap_nhan", "Đã chấp nhận"), ("tra_lai", "Đã trả lại"))
ACCEPT_FIELDS = [
    Field("on", "Ngày chấp nhận", "date", default="today"),
    Field("note", "Ghi chú", required=False, maxlength=300),
]
RETURN_FIELDS = [
    Field("on", "Ngày trả lại", "date", default="today"),
    Field("reason", "Lý do trả lại", "textarea", maxlength=500),
]
NATIONAL_FIELDS = [
    Field("filed_on", "Ngày gửi Cục", "date", default="today"),
    Field("extension", "Số quyết định gia hạn của Cục (khi gửi muộn)", required=False, maxlength=100),
]
EXTENSION_FIELDS = [
    Field(
        "milestone",
        "Hạn được gia hạn",
        "select",
        options=(
            ("registration_deadline", "Hạn đăng ký kế hoạch"),
            ("unit_registration_deadline", "Hạn đơn vị đăng ký với Sở Công Thương (đề án quốc gia)"),
            ("dossier_deadline", "Hạn nộp hồ sơ đề án"),
        ),
    ),
    Field("level", "Cấp kế hoạch", "select", options=LEVELS),
    Field("decision_number", "Số quyết định gia hạn", maxlength=100, hint="Ví dụ 77/QĐ-SCT"),
    Field("decision_date", "Ngày quyết định", "date", default="today"),
    Field("signer", "Người ký", maxlength=200),
    Field("grantee", "Đơn vị được gia hạn", maxlength=200, hint="Tên đơn vị, UBND xã hoặc Sở Công Thương"),
    Field("grantee_instance", "Tỉnh được gia hạn (Cục gia hạn cho Sở)", "select", required=False, options=()),
    Field("new_deadline", "Hạn mới", "date"),
    Field("reason", "Lý do gia hạn", "textarea", maxlength=500),
]


def _year(text: str) -> int:
    return int(text) if text.isdigit() and 2010 <= int(text) <= 2100 else date.today().year + 1


def _extension_fields(officer: Officer, instances: list[str]) -> list[Field]:
    if officer.instance != "bo":
        return [f for f in EXTENSION_FIELDS if f.name != "grantee_instance"]
    provinces = tuple((i, i) for i in instances if i != "bo")
    return [
        Field(f.name, f.label, f.kind, required=False, options=(("", "—"), *provinces))
        if f.name == "grantee_instance"
        else f
        for f in EXTENSION_FIELDS
    ]


def router() -> APIRouter:
    api = APIRouter()

    async def _page(
        request: Request,
        officer: Officer,
        *,
        year: int,
        filters: dict[str, str],
        status: int = 200,
        errors: dict[str, str] | None = None,
        other: list[str] | None = None,
        values: dict[str, Any] | None = None,
        form: str = "",
    ) -> Response:
        api_calls = calls(request, officer)
        where = officer.instance
        listing: dict[str, Any] = {"total": 0, "items": []}
        national: dict[str, Any] | None = None
        own_filing: dict[str, Any] | None = None
        deadlines: dict[str, Any] = {}
        params = {"year": year} | {k: v for k, v in filters.items() if v}
        if where != "bo":
            listing = await api_calls.get("planning", "/registrations", params=params)
            try:
                own_filing = await api_calls.get("planning", f"/national-registrations/{year}")
            except ApiError as exc:
                if exc.status not in (403, 404):
                    raise
        else:
            national = await api_calls.get("planning", "/national-registrations", params={"year": year})
        for level, _ in LEVELS:
            if where == "bo" and level == "dia_phuong":
                continue
            try:
                deadlines[level] = (await api_calls.get("planning", f"/deadlines/{level}/{year}"))["deadlines"]
            except ApiError as exc:
                if exc.status not in (403, 404, 422):
                    raise
        extensions: list[dict[str, Any]] = []
        if officer.may("read", where):
            extensions = await api_calls.get("planning", "/extensions", params={"year": year})
        backend = ctx(request).backend
        return render(
            request,
            "registrations.html",
            status=status,
            active="dang-ky",
            title=f"Đăng ký kế hoạch khuyến công năm {year}",
            year=year,
            filters=filters,
            levels=LEVELS,
            statuses=STATUSES,
            listing=listing,
            national=national,
            own_filing=own_filing,
            deadlines=deadlines,
            extensions=extensions,
            may_decide=officer.may("plan", where),
            may_file=officer.may("file_national_registration", where),
            accept_fields=ACCEPT_FIELDS,
            return_fields=RETURN_FIELDS,
            national_fields=NATIONAL_FIELDS,
            extension_fields=_extension_fields(officer, backend.instances()),
            errors=errors or {},
            other_errors=other or [],
            values=values or {},
            form=form,
            province_console=where != "bo",
        )

    def _filters(request: Request) -> dict[str, str]:
        q = request.query_params
        return {k: str(q.get(k) or "").strip()[:200] for k in ("level", "status", "commune_code", "unit")}

    @api.get("/dang-ky-ke-hoach")
    async def page(request: Request, nam: str = "") -> Response:
        officer = require(request)
        return await _page(request, officer, year=_year(nam), filters=_filters(request))

    async def _post(
        request: Request, year: int, form_name: str, fields: list[Field], path: str, extra: dict[str, Any], done: str
    ) -> Response:
        officer = require(request)
        form = await checked_form(request)
        parsed = parse(form, fields)
        if parsed.errors:
            return await _page(
                request,
                officer,
                year=year,
                filters={},
                status=422,
                errors=parsed.errors,
                values=parsed.raw,
                form=form_name,
            )
        body = {k: v for k, v in parsed.values.items() if v not in ("", None)} | extra
        try:
            await calls(request, officer).post("planning", path, json=body)
        except ApiError as exc:
            if exc.status == 403:
                raise Forbidden(exc.message or "Vai trò của bạn không được làm việc này") from exc
            mine, other = refusal_errors(exc, fields, statuses=(404, 409, 422))
            return await _page(
                request,
                officer,
                year=year,
                filters={},
                status=422,
                errors=mine,
                other=other,
                values=parsed.raw,
                form=form_name,
            )
        ctx(request).store.log(officer.username, form_name, f"{year}: {path}")
        return redirect(f"/dang-ky-ke-hoach?nam={year}", done)

    @api.post("/dang-ky-ke-hoach/{year}/{registration_id}/chap-nhan")
    async def accept(request: Request, year: int, registration_id: str) -> Response:
        return await _post(
            request,
            _year(str(year)),
            f"chap-nhan-{registration_id}",
            ACCEPT_FIELDS,
            f"/registrations/{registration_id}/accept",
            {},
            "Đã chấp nhận bản đăng ký vào tổng hợp.",
        )

    @api.post("/dang-ky-ke-hoach/{year}/{registration_id}/tra-lai")
    async def send_back(request: Request, year: int, registration_id: str) -> Response:
        return await _post(
            request,
            _year(str(year)),
            f"tra-lai-{registration_id}",
            RETURN_FIELDS,
            f"/registrations/{registration_id}/return",
            {},
            "Đã trả lại bản đăng ký, kèm lý do.",
        )

    @api.post("/dang-ky-ke-hoach/{year}/gui-cuc")
    async def file_national(request: Request, year: int) -> Response:
        officer = require(request)
        if not officer.may("file_national_registration", officer.instance):
            raise Forbidden("Chỉ Sở Công Thương gửi đăng ký kế hoạch khuyến công quốc gia lên Cục")
        y = _year(str(year))
        return await _post(
            request,
            y,
            "gui-cuc",
            NATIONAL_FIELDS,
            "/national-registrations",
            {"year": y},
            "Đã gửi đăng ký kế hoạch khuyến công quốc gia lên Cục.",
        )

    @api.post("/dang-ky-ke-hoach/{year}/gia-han")
    async def extend(request: Request, year: int) -> Response:
        officer = require(request)
        y = _year(str(year))
        return await _post(
            request,
            y,
            "gia-han",
            _extension_fields(officer, ctx(request).backend.instances()),
            "/extensions",
            {"year": y},
            "Đã ghi quyết định gia hạn.",
        )

    return api
