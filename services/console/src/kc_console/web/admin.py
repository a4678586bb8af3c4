"""Quản trị: officer accounts (create, disable, enable, unlock), their roles, and each account's activity."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError
from kc_console.roles import roles_for
from kc_console.store import AccountError, generate_password
from kc_console.web.common import checked_form, ctx, redirect, render, require
from kc_console.web.forms import Field, parse


def create_fields(instance: str) -> list[Field]:
    return [
        Field("username", "Tên đăng nhập", maxlength=60, hint="Chữ không dấu, số, dấu chấm, gạch nối"),
        Field("display_name", "Họ tên", maxlength=200),
        Field("role", "Vai trò", "select", options=tuple(roles_for(instance).items())),
        Field("unit", "Đơn vị thực hiện (chỉ với vai trò Đơn vị thực hiện)", required=False, maxlength=200),
        Field("email", "Thư điện tử", required=False, maxlength=200),
    ]


def router() -> APIRouter:
    api = APIRouter()

    def _page(
        request: Request,
        *,
        status: int = 200,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        created: str = "",
    ) -> Response:
        c = ctx(request)
        return render(
            request,
            "admin.html",
            status=status,
            active="quan-tri",
            title="Quản trị tài khoản",
            accounts=c.store.accounts(),
            fields=create_fields(c.settings.instance),
            values=values or {},
            errors=errors or {},
            created=created,
            roles=roles_for(c.settings.instance),
        )

    @api.get("/quan-tri")
    async def page(request: Request) -> Response:
        require(request, admin=True)
        return _page(request)

    @api.post("/quan-tri/tao")
    async def create(request: Request) -> Response:
        officer = require(request, admin=True)
        form = await checked_form(request)
        c = ctx(request)
        fields = create_fields(c.settings.instance)
        parsed = parse(form, fields)
        password = generate_password()
        if not parsed.errors:
            try:
                c.store.create_account(
                    parsed.values["username"],
                    display_name=parsed.values["display_name"],
                    role=parsed.values["role"],
                    password=password,
                    unit=parsed.values.get("unit"),
                    email=parsed.values.get("email"),
                    by=officer.username,
                )
            except AccountError as exc:
                parsed.errors[exc.field or "username"] = str(exc)
        if parsed.errors:
            return _page(request, status=422, values=parsed.raw, errors=parsed.errors)
        return _page(request, created=f"{parsed.values['username']} / {password}")

    @api.post("/quan-tri/{username}/{action}")
    async def act(request: Request, username: str, action: str) -> Response:
        officer = require(request, admin=True)
        await checked_form(request)
        c = ctx(request)
        if c.store.account(username) is None:
            raise ApiError(404, "Không tìm thấy", "Không có tài khoản này")
        if username == officer.username and action == "vo-hieu":
            return redirect("/quan-tri", "Không tự vô hiệu hóa tài khoản đang dùng.")
        if action == "vo-hieu":
            c.store.set_status(username, "disabled", by=officer.username)
            return redirect("/quan-tri", f"Đã vô hiệu hóa {username}.")
        if action == "kich-hoat":
            c.store.set_status(username, "active", by=officer.username)
            return redirect("/quan-tri", f"Đã kích hoạt {username}.")
        if action == "mo-khoa":
            c.store.unlock(username, by=officer.username)
            return redirect("/quan-tri", f"Đã mở khóa {username}.")
        raise ApiError(404, "Không tìm thấy", "Không có thao tác này")

    @api.get("/quan-tri/{username}")
    async def activity(request: Request, username: str) -> Response:
        require(request, admin=True)
        c = ctx(request)
        account = c.store.account(username)
        if account is None:
            raise ApiError(404, "Không tìm thấy", "Không có tài khoản này")
        return render(
            request,
            "admin_activity.html",
            active="quan-tri",
            title=f"Hoạt động của {account.username}",
            account=account,
            rows=c.store.activity(username),
        )

    return api
