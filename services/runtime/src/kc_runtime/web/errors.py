"""HTTP conventions shared by the services: problem+json errors (Vietnamese first).

Every error a caller sees is an RFC 9457 ``application/problem+json`` document. Validation errors
list each field with a Vietnamese message and the English one; domain errors map to a status by
class; anything unexpected is logged with its traceback and answered with a plain 500 problem.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kc_kernel.dated import NoRuleInForceError
from kc_kernel.money import vnd
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from kc_runtime.spreadsheets import SpreadsheetError
from kc_runtime.store.files import FileRefusedError

PROBLEM = "application/problem+json"
log = structlog.get_logger("kc.http")

# Vietnamese wording for pydantic's error types ({…} filled from the error's context); the English
# message is kept beside it.
_VI: dict[str, str] = {
    "missing": "Thiếu trường bắt buộc",
    "string_type": "Phải là chuỗi ký tự",
    "string_too_short": "Quá ngắn (tối thiểu {min_length} ký tự)",
    "string_too_long": "Quá dài (tối đa {max_length} ký tự)",
    "string_pattern_mismatch": "Sai định dạng (mẫu {pattern})",
    "int_type": "Phải là số nguyên",
    "int_parsing": "Phải là số nguyên",
    "int_from_float": "Phải là số nguyên (không có phần thập phân)",
    "greater_than_equal": "Phải lớn hơn hoặc bằng {ge}",
    "less_than_equal": "Phải nhỏ hơn hoặc bằng {le}",
    "greater_than": "Phải lớn hơn {gt}",
    "less_than": "Phải nhỏ hơn {lt}",
    "uuid_parsing": "Không phải mã UUID hợp lệ",
    "uuid_type": "Không phải mã UUID hợp lệ",
    "date_parsing": "Ngày không hợp lệ (YYYY-MM-DD)",
    "date_from_datetime_parsing": "Ngày không hợp lệ (YYYY-MM-DD)",
    "datetime_parsing": "Thời điểm không hợp lệ (ISO 8601)",
    "datetime_from_date_parsing": "Thời điểm không hợp lệ (ISO 8601)",
    "bool_parsing": "Phải là true hoặc false",
    "literal_error": "Giá trị không nằm trong danh sách cho phép: {expected}",
    "enum": "Giá trị không nằm trong danh sách cho phép: {expected}",
    "json_invalid": "JSON không hợp lệ",
    "too_long": "Quá nhiều phần tử (tối đa {max_length})",
    "model_attributes_type": "Phải là một đối tượng JSON",
    "dict_type": "Phải là một đối tượng JSON",
    "list_type": "Phải là một danh sách",
    "extra_forbidden": "Trường không được phép",
    "value_error": "Giá trị không hợp lệ",
}

TITLES = {
    400: "Yêu cầu không hợp lệ / Bad request",
    401: "Chưa xác thực / Unauthenticated",
    403: "Không có quyền / Forbidden",
    404: "Không tìm thấy / Not found",
    405: "Phương thức không được hỗ trợ / Method not allowed",
    409: "Xung đột dữ liệu / Conflict",
    413: "Dữ liệu quá lớn / Payload too large",
    415: "Định dạng không được hỗ trợ / Unsupported media type",
    422: "Dữ liệu không hợp lệ / Invalid input",
    503: "Tạm thời không phục vụ được / Service unavailable",
}


def split_message(message: str) -> tuple[str, str]:
    """Domain messages read ``"<tiếng Việt> / <English>"``."""
    vi, sep, en = message.partition(" / ")
    return (vi, en) if sep else (message, message)


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of every service is answered."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, str]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` documenting problem+json answers."""
    return {
        status: {"model": Problem, "description": TITLES.get(status, ""), "content": {PROBLEM: {}}}
        for status in statuses
    }


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update((name, value) for name, value in extra.items() if value is not None)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def field_errors(errors: Any) -> list[dict[str, str]]:
    out = []
    for err in errors:
        kind = err.get("type", "value_error")
        ctx = err.get("ctx") or {}
        message_en = str(err.get("msg", ""))
        if kind == "json_invalid":
            position = err.get("loc", (None, None))[-1]
            out.append(
                {
                    "field": "(body)",
                    "message": f"JSON không hợp lệ (vị trí {position}): {ctx.get('error', '')}".strip(),
                    "message_en": f"{message_en} at position {position}",
                }
            )
            continue
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        # a large bound as people read it: 1.000.000.000.000, not 1000000000000 (a year stays 2100)
        shown = {k: vnd(v) if isinstance(v, int) and abs(v) >= 100_000 else v for k, v in ctx.items()}
        try:
            message_vi = _VI.get(kind, "Giá trị không hợp lệ").format(**shown)
        except (KeyError, IndexError):
            message_vi = _VI.get(kind, "Giá trị không hợp lệ").split(" (")[0]
        if kind == "value_error" and "error" in ctx:
            message_vi, message_en = split_message(str(ctx["error"]))
        out.append({"field": ".".join(loc) or "(body)", "message": message_vi, "message_en": message_en})
    return out


_RESERVED = frozenset({"type", "title", "status", "detail", "instance", "errors"})


def machine_codes(exc: Exception) -> dict[str, Any]:
    """The codes behind a domain error's Vietnamese message (``exc.codes``: the action refused, the
    đề án's status…), sent as extension members beside it so clients need not parse the words."""
    codes = getattr(exc, "codes", None) or {}
    return {name: value for name, value in codes.items() if name not in _RESERVED}


class RuleNotInForceOnFieldError(NoRuleInForceError):
    """No version of a dated rule is in force on the date the caller gave in ``field``."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@contextmanager
def rules_dated_by(field: str) -> Iterator[None]:
    """Dated rules looked up inside are looked up for the date in ``field``: when none is in force on
    it, the 422 names that field (as a validation error would)."""
    try:
        yield
    except NoRuleInForceError as exc:
        if getattr(exc, "field", None):
            raise
        raise RuleNotInForceOnFieldError(str(exc), field) from exc


def _whole_request(request: Request) -> str:
    """The ``field`` of an error about the request as a whole: its body if it has one, else its query."""
    has_body = request.headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in request.headers
    return "(body)" if has_body else "(query)"


def install_problem_handlers(app: FastAPI, status_by_error: Mapping[type[Exception], int]) -> None:
    """Map the service's domain errors (by class, most specific first) to problem responses."""
    from kc_runtime.bus.rebuild import (  # (the bus room: imported when used)
        RebuildInProgressError,
        ReplayInterruptedError,
    )

    status_by_error = {
        SpreadsheetError: 422,  # an upload refused as a whole: its file
        FileRefusedError: 422,  # a kept file refused: empty, too large, not a type allowed
        RebuildInProgressError: 409,  # one rebuild of a view at a time
        ReplayInterruptedError: 503,  # the bus stopped delivering the log: nothing half-built is given
        **status_by_error,
    }

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem(422, TITLES[422], errors=field_errors(exc.errors()))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        response = problem(exc.status_code, TITLES.get(exc.status_code, str(exc.detail)), str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value  # e.g. Allow on 405
        return response

    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        for cls in type(exc).__mro__:
            if cls in status_by_error:
                status = status_by_error[cls]
                vi, en = split_message(str(exc))
                field = getattr(exc, "field", None)
                if status == 404 and not field:
                    return problem(404, TITLES[404], str(exc))
                if status == 422 and not field:  # a 422 always lists what to correct, here the whole request
                    field = _whole_request(request)
                errors = [{"field": field, "message": vi, "message_en": en}] if field else None
                return problem(
                    status, TITLES.get(status, type(exc).__name__), str(exc), errors=errors, **machine_codes(exc)
                )
        return await unexpected(request, exc)

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        # an integer from the request beyond what the database stores (64-bit): the caller's to correct
        message = "Số quá lớn / a number in the request is too large"
        vi, en = split_message(message)
        errors = [{"field": _whole_request(request), "message": vi, "message_en": en}]
        return problem(422, TITLES[422], message, errors=errors)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", path=request.url.path, exc_info=exc)
        return problem(500, "Lỗi hệ thống / Internal error", "Vui lòng thử lại sau / Please retry later")

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for cls in status_by_error:
        app.add_exception_handler(cls, domain_error)
    app.add_exception_handler(OverflowError, too_large)
    app.add_exception_handler(Exception, unexpected)
