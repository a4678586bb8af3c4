"""Đăng nhập / Đăng xuất: argon2-checked passwords, a server-side session, lock-out after failures."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.store import SignInRefused
from kc_console.web.common import (
    PRE_CSRF_COOKIE,
    SESSION_COOKIE,
    checked_form,
    ctx,
    current,
    redirect,
    render,
    secure,
)


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/dang-nhap")
    async def sign_in_page(request: Request, het_han: int = 0) -> Response:
        if current(request) is not None:
            return redirect("/")
        message = "Phiên làm việc đã hết hạn; vui lòng đăng nhập lại." if het_han else None
        return render(request, "sign_in.html", title="Đăng nhập", notice=message)

    @api.post("/dang-nhap")
    async def sign_in(request: Request) -> Response:
        current(request)
        form = await checked_form(request)
        username = str(form.get("username") or "")[:100]
        password = str(form.get("password") or "")[:500]
        c = ctx(request)
        try:
            account = c.store.authenticate(username, password)
        except SignInRefused as exc:
            return render(request, "sign_in.html", status=401, title="Đăng nhập", error=str(exc), username=username)
        session = c.store.open_session(account.username)
        response = redirect("/quan-tri" if account.is_admin else "/")
        response.set_cookie(
            SESSION_COOKIE,
            session.id,
            httponly=True,
            samesite="strict",
            secure=secure(request),
            max_age=int(c.max_seconds),
        )
        response.delete_cookie(PRE_CSRF_COOKIE)
        return response

    @api.post("/dang-xuat")
    async def sign_out(request: Request) -> Response:
        officer = current(request)
        if officer is not None:
            await checked_form(request)
            ctx(request).store.close_session(request.state.session.id)
            ctx(request).store.log(officer.username, "dang_xuat")
        response = redirect("/dang-nhap", "Bạn đã đăng xuất.")
        response.delete_cookie(SESSION_COOKIE)
        return response

    return api
