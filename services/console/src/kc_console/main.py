"""The console's composition root: ``python -m kc_console.main`` (``make run`` starts one per instance)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from kc_runtime.keys import TrustFile, ensure_instance_key
from kc_runtime.metrics import Metrics, Samples
from kc_runtime.process import serve
from kc_runtime.web.auth import token_guard
from kc_runtime.web.metrics import install_metrics
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kc_console.accounts import ensure_demo_accounts, province_slug
from kc_console.backend import ApiError, Backend, TokenMint, Unavailable
from kc_console.settings import ConsoleSettings
from kc_console.store import ConsoleStore
from kc_console.web import (
    admin,
    audit,
    auth,
    councils,
    de_an,
    de_an_files,
    establishments,
    notify,
    official_reports,
    plans,
    portal,
    public,
    queue,
    registrations,
    reports,
)
from kc_console.web.common import (
    SESSION_COOKIE,
    Context,
    CsrfRefused,
    Forbidden,
    NotSignedIn,
    redirect,
    render,
)

SERVICE = "console"
STATIC = Path(__file__).resolve().parent / "static"
log = structlog.get_logger("kc.console")

# everything is served from the console itself: no CDN, no inline script
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: ConsoleSettings) -> FastAPI:
    store = ConsoleStore(
        settings.var_dir / settings.instance / "console.sqlite",
        instance=settings.instance,
        lockout_failures=settings.lockout_failures,
        lockout_minutes=settings.lockout_minutes,
    )
    if settings.console_demo_accounts:
        ensure_demo_accounts(store, settings.var_dir)
    signer = ensure_instance_key(settings.key_folder, settings.instance, settings.trust_path)
    backend = Backend(settings.service_urls, settings.instance, TokenMint(signer), settings.api_timeout_seconds)
    console = Context(
        settings=settings, store=store, backend=backend, instance_name=province_slug(settings.instance)[1]
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await backend.close()
            store.close()

    app = FastAPI(title="khuyencong console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = console
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (
        auth,
        queue,
        de_an,
        de_an_files,
        councils,
        establishments,
        plans,
        registrations,
        reports,
        official_reports,
        audit,
        notify,
        portal,
        public,
        admin,
    ):
        app.include_router(module.router())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            store.accounts("pending")
            ok = True
        except Exception:
            ok = False
        return JSONResponse({"ready": ok, "checks": {"store": ok}}, status_code=200 if ok else 503)

    install_error_pages(app)
    app.add_middleware(SecurityHeaders)
    # GET /metrics: the auditor's token (permission verify), as on every service; HTTP by route template
    metrics = app.state.metrics = Metrics(service=SERVICE, instance=settings.instance)

    def accounts_by_status() -> Samples:
        counts: Counter[str] = Counter(dict.fromkeys(("active", "disabled", "pending"), 0))
        counts.update(a.status for a in store.accounts())
        return [((status,), float(n)) for status, n in sorted(counts.items())]

    metrics.gauge(
        "kc_console_accounts",
        "Console accounts by status (active, disabled, pending: a unit's request to approve)",
        ["status"],
        accounts_by_status,
    )
    install_metrics(app, metrics, guard=token_guard(TrustFile(settings.trust_path), settings.instance, "verify"))
    return app


def install_error_pages(app: FastAPI) -> None:
    async def not_signed_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NotSignedIn)
        target = "/dang-nhap?het_han=1" if exc.expired else "/dang-nhap"
        response: Response
        if request.method != "GET":
            # a form posted after the session ended: nothing is sent to any service
            response = render(
                request,
                "sign_in.html",
                status=401,
                title="Đăng nhập",
                error="Phiên làm việc đã hết hạn hoặc chưa đăng nhập. Chưa có gì được ghi; vui lòng đăng nhập lại.",
            )
        else:
            response = redirect(target)
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def csrf(request: Request, _exc: Exception) -> Response:
        log.warning("csrf refused", path=request.url.path)
        return render(
            request,
            "error.html",
            status=403,
            title="Biểu mẫu không hợp lệ",
            message="Mã bảo vệ biểu mẫu (CSRF) không khớp: biểu mẫu có thể đến từ trang khác hoặc đã cũ. "
            "Chưa có gì được ghi. Vui lòng tải lại trang và gửi lại.",
        )

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Forbidden)
        return render(request, "error.html", status=403, title="Không có quyền", message=exc.message)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status in (401, 403):
            message = "Vai trò hoặc phạm vi của bạn không được xem hay làm việc này. " + exc.message
            return render(request, "error.html", status=403, title="Không có quyền", message=message)
        if exc.status == 404:
            return render(
                request, "error.html", status=404, title="Không tìm thấy", message=exc.message or "Không có mục này"
            )
        return render(request, "error.html", status=exc.status, title="Không thực hiện được", message=exc.message)

    async def unavailable(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Unavailable)
        return render(
            request,
            "error.html",
            status=503,
            title="Dịch vụ chưa sẵn sàng",
            message=f"Không kết nối được dịch vụ {exc.service} của {exc.instance}. Vui lòng thử lại sau ít phút.",
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return render(request, "error.html", status=404, title="Không tìm thấy", message="Không có trang này")
        if exc.status_code == 405:
            return render(
                request, "error.html", status=405, title="Không hỗ trợ", message="Trang này không nhận yêu cầu đó"
            )
        return render(request, "error.html", status=exc.status_code, title="Lỗi", message=str(exc.detail))

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error", path=request.url.path, exc_info=exc)
        return render(
            request,
            "error.html",
            status=500,
            title="Lỗi hệ thống",
            message="Đã có lỗi ngoài dự kiến; chưa chắc thao tác đã được ghi. Vui lòng kiểm tra lại và thử sau.",
        )

    handlers: dict[Any, Any] = {
        NotSignedIn: not_signed_in,
        CsrfRefused: csrf,
        Forbidden: forbidden,
        ApiError: api_error,
        Unavailable: unavailable,
        StarletteHTTPException: http_error,
        Exception: unexpected,
    }
    for cls, handler in handlers.items():
        app.add_exception_handler(cls, handler)


def main() -> None:
    serve(SERVICE, create_app, ConsoleSettings)


if __name__ == "__main__":
    main()
