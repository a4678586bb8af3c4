"""HTTP conventions shared by the services: problem+json errors (Vietnamese first), health probes.

Every error a caller sees is an RFC 9457 ``application/problem+json`` document. Validation errors
list each field with a Vietnamese message and the English one; domain errors map to a status by
class; anything unexpected is logged with its traceback and answered with a plain 500 problem.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM = "application/problem+json"
log = structlog.get_logger("kc.http")

# Vietnamese wording for pydantic's error types; the English message is kept beside it.
_VI: dict[str, str] = {
    "missing": "Thiếu trường bắt buộc",
    "string_type": "Phải là chuỗi ký tự",
    "string_too_short": "Quá ngắn",
    "string_too_long": "Quá dài",
    "string_pattern_mismatch": "Sai định dạng",
    "int_type": "Phải là số nguyên",
    "int_parsing": "Phải là số nguyên",
    "int_from_float": "Phải là số nguyên (không có phần thập phân)",
    "greater_than_equal": "Giá trị quá nhỏ",
    "less_than_equal": "Giá trị quá lớn",
    "greater_than": "Giá trị quá nhỏ",
    "less_than": "Giá trị quá lớn",
    "uuid_parsing": "Không phải mã UUID hợp lệ",
    "uuid_type": "Không phải mã UUID hợp lệ",
    "date_parsing": "Ngày không hợp lệ (YYYY-MM-DD)",
    "date_from_datetime_parsing": "Ngày không hợp lệ (YYYY-MM-DD)",
    "datetime_parsing": "Thời điểm không hợp lệ (ISO 8601)",
    "datetime_from_date_parsing": "Thời điểm không hợp lệ (ISO 8601)",
    "bool_parsing": "Phải là true hoặc false",
    "literal_error": "Giá trị không nằm trong danh sách cho phép",
    "enum": "Giá trị không nằm trong danh sách cho phép",
    "json_invalid": "JSON không hợp lệ",
    "model_attributes_type": "Phải là một đối tượng JSON",
    "dict_type": "Phải là một đối tượng JSON",
    "list_type": "Phải là một danh sách",
    "extra_forbidden": "Trường không được phép",
    "value_error": "Giá trị không hợp lệ",
}


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def field_errors(errors: Any) -> list[dict[str, str]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        kind = err.get("type", "value_error")
        message_en = str(err.get("msg", ""))
        message_vi = _VI.get(kind, "Giá trị không hợp lệ")
        if kind == "value_error" and "ctx" in err and "error" in err["ctx"]:
            message_vi = message_en = str(err["ctx"]["error"])
        out.append({"field": ".".join(loc) or "(body)", "message": message_vi, "message_en": message_en})
    return out


def install_problem_handlers(app: FastAPI, status_by_error: Mapping[type[Exception], int]) -> None:
    """Map the service's domain errors (by class, most specific first) to problem responses."""

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem(
            422,
            "Dữ liệu không hợp lệ / Invalid input",
            errors=field_errors(exc.errors()),
        )

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        titles = {
            404: "Không tìm thấy / Not found",
            405: "Phương thức không được hỗ trợ / Method not allowed",
        }
        return problem(exc.status_code, titles.get(exc.status_code, str(exc.detail)), str(exc.detail))

    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        for cls in type(exc).__mro__:
            if cls in status_by_error:
                return problem(status_by_error[cls], type(exc).__name__, str(exc))
        return await unexpected(_, exc)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", path=request.url.path, exc_info=exc)
        return problem(500, "Lỗi hệ thống / Internal error", "Vui lòng thử lại sau / Please retry later")

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for cls in status_by_error:
        app.add_exception_handler(cls, domain_error)
    app.add_exception_handler(Exception, unexpected)


ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]


def install_health(app: FastAPI, readiness: ReadinessCheck) -> None:
    """``/healthz``: the process answers. ``/readyz``: every dependency check is true (else 503)."""

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
