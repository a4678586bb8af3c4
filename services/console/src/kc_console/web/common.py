"""What every page shares: the signed-in officer, CSRF on every form, rendering, navigation."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from kc_console.backend import Backend, Calls
from kc_console.roles import Officer
from kc_console.settings import ConsoleSettings
from kc_console.store import ConsoleStore, activity_label
from kc_kernel import vocabulary as vocab
from starlette.datastructures import FormData

SESSION_COOKIE = "kc_session"
PRE_CSRF_COOKIE = "kc_csrf"
MAX_FIELD = 2000  # characters: any longer form value is refused before anything is sent

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
templates.env.filters["money"] = vocab.format_money
templates.env.filters["date"] = vocab.format_date
templates.env.filters["datetime"] = lambda v: moment(v)
templates.env.filters["words"] = vocab.money_in_words
templates.env.globals["label"] = vocab.label


def moment(value: object) -> str:
    """A moment as Viet Nam time ``dd/mm/yyyy HH:MM``: epoch seconds (the console's own records) or
    an ISO string (the services')."""
    if isinstance(value, int | float):
        return vocab.format_datetime(datetime.fromtimestamp(value, UTC))
    try:
        return vocab.format_datetime(value)  # type: ignore[arg-type]
    except ValueError:
        return str(value)


ACTOR = re.compile(r"^(?P<name>.*) \((?P<role>[a-z_]+)@(?P<scope>[a-z0-9-]+)\)$")


def actor(value: object) -> str:
    """``Nguyễn Văn A (so_ct@tinh-40)`` → ``Nguyễn Văn A — Sở Công Thương, Tỉnh Nghệ An``."""
    text = str(value or "")
    found = ACTOR.match(text)
    if not found:
        return text or vocab.MISSING
    role = vocab.label("role", found["role"]) if vocab.has_label("role", found["role"]) else found["role"]
    return f"{found['name']} — {role}, {vocab.label('instance', found['scope'])}"


def _words_text(text: object) -> str:
    """The amount typed in a form, in words ("" when it is not an amount)."""
    from kc_console.web.forms import parse_money

    try:
        return vocab.money_in_words(parse_money(str(text or "")))
    except ValueError:
        return ""


templates.env.filters["words_text"] = _words_text
templates.env.filters["actor"] = actor
templates.env.filters["activity"] = activity_label
templates.env.globals["labels"] = vocab.labels


class NotSignedIn(Exception):  # noqa: N818
    def __init__(self, expired: bool = False) -> None:
        super().__init__("not signed in")
        self.expired = expired


class CsrfRefused(Exception):  # noqa: N818
    pass


class Forbidden(Exception):  # noqa: N818
    def __init__(self, message: str = "Vai trò của bạn không được làm việc này") -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Context:
    """The console's parts, kept on ``app.state.console``."""

    settings: ConsoleSettings
    store: ConsoleStore
    backend: Backend
    instance_name: str

    @property
    def idle_seconds(self) -> float:
        return self.settings.session_idle_minutes * 60

    @property
    def max_seconds(self) -> float:
        return self.settings.session_max_hours * 3600


def ctx(request: Request) -> Context:
    found: Context = request.app.state.console
    return found


def current(request: Request) -> Officer | None:
    """The signed-in officer (cached on the request), or None."""
    if hasattr(request.state, "officer"):
        officer: Officer | None = request.state.officer
        return officer
    c = ctx(request)
    officer = None
    request.state.session = None
    request.state.session_expired = False
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        session = c.store.session(session_id, idle_seconds=c.idle_seconds, max_seconds=c.max_seconds)
        if session is None:
            request.state.session_expired = True
        else:
            account = c.store.account(session.username)
            if account is not None and account.status == "active":
                request.state.session = session
                officer = Officer(
                    username=account.username,
                    name=account.display_name,
                    role=account.role,
                    instance=c.settings.instance,
                    unit=account.unit,
                )
    request.state.officer = officer
    return officer


def require(request: Request, *, admin: bool = False) -> Officer:
    officer = current(request)
    if officer is None:
        raise NotSignedIn(expired=bool(request.state.session_expired))
    if admin != officer.is_admin and (admin or officer.is_admin):
        raise Forbidden(
            "Trang này dành cho quản trị hệ thống"
            if admin
            else "Tài khoản quản trị chỉ quản lý tài khoản, không xem dữ liệu chương trình"
        )
    return officer


def calls(request: Request, officer: Officer | None) -> Calls:
    return ctx(request).backend.for_officer(officer)


def csrf_token(request: Request) -> str:
    session = getattr(request.state, "session", None)
    if session is not None:
        return str(session.csrf)
    # before sign-in: a double-submit token (cookie + hidden field), set by the sign-in page
    token = request.cookies.get(PRE_CSRF_COOKIE) or getattr(request.state, "pre_csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.pre_csrf = token
    return str(token)


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the session's (or the sign-in cookie's)."""
    form = await request.form()
    sent = str(form.get("csrf_token") or "")
    session = getattr(request.state, "session", None)
    expected = session.csrf if session is not None else request.cookies.get(PRE_CSRF_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfRefused
    return form


def secure(request: Request) -> bool:
    configured = ctx(request).settings.secure_cookies
    return configured if configured is not None else request.url.scheme == "https"


def nav(officer: Officer | None, c: Context) -> list[tuple[str, str, str]]:
    """(key, label, href) of the screens this officer's role may use."""
    if officer is None:
        return []
    if officer.is_admin:
        return [("quan-tri", "Quản trị", "/quan-tri")]
    inst = c.settings.instance
    items = [("viec-can-lam", "Việc cần làm", "/")]
    if officer.is_unit:
        items.append(("cong-don-vi", "Cổng đơn vị", "/cong-don-vi"))
    if inst != "bo" and officer.may("read") and not officer.is_unit:
        items.append(("co-so", "Cơ sở CNNT", "/co-so"))
    if officer.may("read") and not officer.is_unit:
        items.append(("de-an", "Đề án", "/de-an"))
    if officer.may("found_council") or officer.may("council_member"):
        items.append(("hoi-dong", "Hội đồng thẩm định", "/hoi-dong"))
    if officer.may("read") and not officer.is_unit:
        items.append(("ke-hoach", "Kế hoạch", "/ke-hoach"))
        items.append(("dang-ky", "Đăng ký kế hoạch", "/dang-ky-ke-hoach"))
        items.append(("bao-cao", "Báo cáo", "/bao-cao"))
        items.append(("bao-cao-theo-mau", "Báo cáo theo mẫu", "/bao-cao-theo-mau"))
    if officer.may("operate"):
        items.append(("thong-bao", "Thông báo", "/thong-bao"))
    if officer.may("verify"):
        items.append(("kiem-toan", "Kiểm toán", "/kiem-toan"))
    if officer.role == "so_ct":
        items.append(("tai-khoan-don-vi", "Tài khoản đơn vị", "/cong-don-vi/yeu-cau"))
    return items


def render(
    request: Request, template: str, *, status: int = 200, active: str = "", title: str = "", **context: Any
) -> HTMLResponse:
    c = ctx(request)
    officer = current(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "officer": officer,
            "csrf": csrf_token(request),
            "nav": nav(officer, c),
            "active": active,
            "title": title,
            "instance": c.settings.instance,
            "instance_name": c.instance_name,
            "flash": flash(request),
            **context,
        },
        status_code=status,
    )
    if request.cookies.get("kc_flash"):
        response.delete_cookie("kc_flash")
    pre = getattr(request.state, "pre_csrf", None)
    if pre:
        response.set_cookie(PRE_CSRF_COOKIE, pre, httponly=True, samesite="strict", secure=secure(request))
    return response


def redirect(url: str, message: str | None = None) -> Response:
    """303 to ``url``; ``message`` is shown once there (a flash, in a short-lived cookie)."""
    response = RedirectResponse(url, status_code=303)
    if message:
        response.set_cookie("kc_flash", message.encode("utf-8").hex(), max_age=60, httponly=True, samesite="strict")
    return response


def flash(request: Request) -> str | None:
    raw = request.cookies.get("kc_flash")
    if not raw:
        return None
    try:
        return bytes.fromhex(raw).decode("utf-8")[:500]
    except ValueError:
        return None


def too_long(form: FormData, limits: dict[str, int] | None = None) -> dict[str, str]:
    """Fields longer than their limit (or than :data:`MAX_FIELD`), with the message to show."""
    errors = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            limit = (limits or {}).get(name, MAX_FIELD)
            if len(value) > limit:
                errors[name] = f"Quá dài: tối đa {limit} ký tự (bạn nhập {len(value)})"
    return errors
