"""Cổng đơn vị: the implementing unit's own door — its đề án (draft, submit, report progress, request an
advance, see where each stands and why it was returned), and asking for an account, which the Sở
approves. The services show a unit's token its own unit's đề án only; the console asks nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError
from kc_console.store import AccountError
from kc_console.web.common import Forbidden, calls, checked_form, ctx, current, redirect, render, require
from kc_console.web.forms import Field, parse

REQUEST_FIELDS = [
    Field(
        "unit", "Tên đơn vị thực hiện", maxlength=200, hint="Như ghi trong đề án, ví dụ Trung tâm Khuyến công Nghệ An"
    ),
    Field("display_name", "Họ tên người dùng", maxlength=200),
    Field("email", "Thư điện tử công vụ", maxlength=200),
    Field("username", "Tên đăng nhập mong muốn", maxlength=60, hint="Chữ không dấu, số, dấu chấm"),
    Field("password", "Mật khẩu (ít nhất 10 ký tự)", "password", maxlength=200),
]


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/cong-don-vi")
    async def home(request: Request) -> Response:
        officer = require(request)
        if not officer.is_unit:
            raise Forbidden("Cổng đơn vị dành cho tài khoản đơn vị thực hiện")
        api_calls = calls(request, officer)
        page = await api_calls.get("appraisal", "/de-an", params={"limit": 200})

        async def state(d: dict[str, Any]) -> dict[str, Any]:
            try:
                full = await api_calls.get("appraisal", f"/de-an/{d['de_an_id']}")
            except ApiError:
                return d
            return d | {
                "returns": full.get("returns") or [],
                "implementing_unit": full["details"].get("implementing_unit"),
            }

        items = await asyncio.gather(*(state(d) for d in page.get("items", [])))
        return render(
            request,
            "portal.html",
            active="cong-don-vi",
            title=f"Cổng đơn vị — {officer.unit}",
            items=items,
            where=ctx(request).settings.instance,
        )

    @api.get("/cong-don-vi/dang-ky")
    async def request_page(request: Request) -> Response:
        if ctx(request).settings.instance == "bo":
            raise Forbidden("Đơn vị thực hiện đề nghị cấp tài khoản tại hệ thống của tỉnh")
        return render(
            request,
            "portal_request.html",
            title="Đề nghị cấp tài khoản đơn vị thực hiện",
            fields=REQUEST_FIELDS,
            values={},
            errors={},
        )

    @api.post("/cong-don-vi/dang-ky")
    async def request_account(request: Request) -> Response:
        current(request)
        form = await checked_form(request)
        c = ctx(request)
        if c.settings.instance == "bo":
            raise Forbidden("Đơn vị thực hiện đề nghị cấp tài khoản tại hệ thống của tỉnh")
        parsed = parse(form, REQUEST_FIELDS)
        if not parsed.errors:
            try:
                c.store.create_account(
                    parsed.values["username"],
                    display_name=parsed.values["display_name"],
                    role="don_vi",
                    password=parsed.values["password"],
                    unit=parsed.values["unit"],
                    email=parsed.values["email"],
                    by=f"đề nghị của {parsed.values['display_name']}",
                    status="pending",
                )
            except AccountError as exc:
                parsed.errors[exc.field or "username"] = str(exc)
        if parsed.errors:
            values = {k: v for k, v in parsed.raw.items() if k != "password"}
            return render(
                request,
                "portal_request.html",
                status=422,
                title="Đề nghị cấp tài khoản đơn vị thực hiện",
                fields=REQUEST_FIELDS,
                values=values,
                errors=parsed.errors,
            )
        return redirect("/dang-nhap", "Đã gửi đề nghị; Sở Công Thương sẽ duyệt trước khi bạn đăng nhập được.")

    @api.get("/cong-don-vi/yeu-cau")
    async def requests(request: Request) -> Response:
        officer = require(request)
        if officer.role != "so_ct":
            raise Forbidden("Sở Công Thương duyệt tài khoản đơn vị thực hiện")
        c = ctx(request)
        units = [a for a in c.store.accounts() if a.role == "don_vi"]
        return render(
            request,
            "portal_requests.html",
            active="tai-khoan-don-vi",
            title="Tài khoản đơn vị thực hiện",
            pending=[a for a in units if a.status == "pending"],
            active_units=[a for a in units if a.status != "pending"],
        )

    @api.post("/cong-don-vi/yeu-cau/{username}/{decision}")
    async def decide(request: Request, username: str, decision: str) -> Response:
        officer = require(request)
        await checked_form(request)
        if officer.role != "so_ct":
            raise Forbidden("Sở Công Thương duyệt tài khoản đơn vị thực hiện")
        c = ctx(request)
        account = c.store.account(username)
        if account is None or account.role != "don_vi" or decision not in ("duyet", "tu-choi"):
            raise ApiError(404, "Không tìm thấy", "Không có đề nghị này")
        if decision == "duyet":
            c.store.set_status(username, "active", by=officer.username)
            return redirect("/cong-don-vi/yeu-cau", f"Đã duyệt tài khoản {username} ({account.unit}).")
        c.store.set_status(username, "disabled", by=officer.username)
        return redirect("/cong-don-vi/yeu-cau", f"Đã từ chối đề nghị {username}.")

    return api
