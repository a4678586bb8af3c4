"""HTTP conventions shared by the services: problem+json errors (Vietnamese first), health probes.

Every error a caller sees is an RFC 9457 ``application/problem+json`` document. Validation errors
list each field with a Vietnamese message and the English one; domain errors map to a status by
class; anything unexpected is logged with its traceback and answered with a plain 500 problem.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kc_kernel.dated import NoRuleInForceError
from kc_kernel.money import vnd
from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kc_runtime import tracing
from kc_runtime.spreadsheets import SpreadsheetError

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

_TITLES = {
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
        status: {"model": Problem, "description": _TITLES.get(status, ""), "content": {PROBLEM: {}}}
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
    from kc_runtime.rebuild import (  # (the bus side of the runtime: imported when used)
        RebuildInProgressError,
        ReplayInterruptedError,
    )

    status_by_error = {
        SpreadsheetError: 422,  # an upload refused as a whole: its file
        RebuildInProgressError: 409,  # one rebuild of a view at a time
        ReplayInterruptedError: 503,  # the bus stopped delivering the log: nothing half-built is given
        **status_by_error,
    }

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem(422, _TITLES[422], errors=field_errors(exc.errors()))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        response = problem(exc.status_code, _TITLES.get(exc.status_code, str(exc.detail)), str(exc.detail))
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
                    return problem(404, _TITLES[404], str(exc))
                if status == 422 and not field:  # a 422 always lists what to correct, here the whole request
                    field = _whole_request(request)
                errors = [{"field": field, "message": vi, "message_en": en}] if field else None
                return problem(
                    status, _TITLES.get(status, type(exc).__name__), str(exc), errors=errors, **machine_codes(exc)
                )
        return await unexpected(request, exc)

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        # an integer from the request beyond what the database stores (64-bit): the caller's to correct
        message = "Số quá lớn / a number in the request is too large"
        vi, en = split_message(message)
        errors = [{"field": _whole_request(request), "message": vi, "message_en": en}]
        return problem(422, _TITLES[422], message, errors=errors)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", path=request.url.path, exc_info=exc)
        return problem(500, "Lỗi hệ thống / Internal error", "Vui lòng thử lại sau / Please retry later")

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for cls in status_by_error:
        app.add_exception_handler(cls, domain_error)
    app.add_exception_handler(OverflowError, too_large)
    app.add_exception_handler(Exception, unexpected)


class BodyTooLargeError(StarletteHTTPException):
    """The request's body went past its limit while it was being received."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Tối đa {limit} byte / at most {limit} bytes per request")


class RequestGuard:
    """Plain ASGI: the body limit, the correlation id, the trace context, one log line per request.

    The request's ``traceparent`` (and ``tracestate``) header opens this service's span as its child, a
    new trace when it has none: the events the request saves carry it (:mod:`kc_runtime.tracing`), and
    the response names it in its own ``traceparent`` header.

        The limit holds however the body comes: a ``Content-Length`` beyond it is answered at once; a
        body without one (``Transfer-Encoding: chunked``) or longer than it claimed is counted as it is
        received, and the read that passes the limit raises :class:`BodyTooLargeError` in whatever is
        reading it (JSON, a form, an upload): a 413 problem, with nothing more read. uvicorn's flow
        control keeps the unread rest on the socket, so a refused body costs neither time nor memory.
        (Starlette's own ``RequestBodyLimitMiddleware`` counts the same way but answers some refusals
        in plain text, without the limit; every refusal here is a problem+json that says it.)
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_bytes = upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        correlation = headers.get("x-correlation-id") or uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = correlation
        began = time.perf_counter()
        multipart = headers.get("content-type", "").startswith("multipart/")
        limit = self.upload_bytes if multipart and self.upload_bytes else self.max_body_bytes
        status = 500
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def tagged(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                response_headers.append("X-Correlation-Id", correlation)
                response_headers.append("traceparent", span.traceparent)
                if "x-content-type-options" not in response_headers:  # no response is type-sniffed
                    response_headers.append("X-Content-Type-Options", "nosniff")
            await send(message)

        with (
            structlog.contextvars.bound_contextvars(correlation_id=correlation),
            tracing.continued(headers.get("traceparent"), headers.get("tracestate")) as span,
        ):
            try:
                length = headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > limit:
                    raise BodyTooLargeError(limit)
                app_receive: Receive = counted
                if _is_json(headers.get("content-type", "")):
                    # read whole (as the JSON parser will): a string that is no text is refused here,
                    # for every route of every service, before it can reach a store or a response
                    body = await _read_all(counted)
                    field = lone_surrogate_at(body)
                    if field is not None:
                        await _not_text(field)(scope, receive, tagged)
                        return
                    app_receive = _replay(body, receive)
                await self.app(scope, app_receive, tagged)
            except BodyTooLargeError as exc:  # raised before the app's own handlers could answer
                if started:
                    raise
                await problem(413, _TITLES[413], str(exc.detail))(scope, receive, tagged)
            finally:
                probe = scope["path"] in ("/healthz", "/readyz")
                (log.debug if probe else log.info)(
                    "http",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round((time.perf_counter() - began) * 1000, 1),
                )


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect

    return replayed


# a lone UTF-16 surrogate can reach a JSON string two ways: a \uD800-\uDFFF escape, or those code
# points' (invalid) UTF-8 bytes, which Python's json decodes with "surrogatepass"
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate_at(body: bytes) -> str | None:
    """Where in a JSON body a string (or a key) holds a lone surrogate — half of a UTF-16 pair, which
    is no character and which no UTF-8 store or response can hold — or None. A valid pair (an emoji
    written ``\\ud83d\\ude00``) is one character and passes."""
    if not _SURROGATE_HINT.search(body):
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route's own parsing says so
    stack: list[tuple[tuple[str, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and not _is_text(value):
            return ".".join(path) or "(body)"
        if isinstance(value, dict):
            for key, item in value.items():
                if not _is_text(key):
                    return ".".join((*path, "(key)")) or "(body)"
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, str(i)), item) for i, item in enumerate(value))
    return None


def _not_text(field: str) -> JSONResponse:
    vi = "Chứa ký tự không hợp lệ (nửa cặp UTF-16 đơn lẻ)"
    en = "contains a lone UTF-16 surrogate, which is not a character"
    return problem(422, _TITLES[422], f"{vi} / {en}", errors=[{"field": field, "message": vi, "message_en": en}])


def install_request_guards(app: FastAPI, max_body_bytes: int = 1 << 20, upload_bytes: int = 0) -> None:
    """Refuse oversize bodies (413), however they are sent, and log every request with its correlation id.

    ``upload_bytes`` is the larger limit for multipart uploads (documents); 0 means no uploads.
    """
    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes, upload_bytes=upload_bytes)


ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]
Degradation = Callable[[], Awaitable[dict[str, Any]]]


OutboxHead = Callable[[], Awaitable[dict[str, Any] | None]]


def install_outbox_head(app: FastAPI, head: OutboxHead) -> None:
    """``GET /outbox/head`` (permission ``verify``): this service's published chain head, signed
    (``ServiceRuntime.outbox_head``); ``kc audit verify`` compares it with the stream."""

    @app.get(
        "/outbox/head",
        tags=["kiểm toán"],
        summary="Đầu chuỗi sự kiện đã phát (đã ký) / the published chain's head, signed",
        responses=problem_responses(404),
    )
    async def outbox_head() -> dict[str, Any]:
        found = await head()
        if found is None:
            raise StarletteHTTPException(404, "Dịch vụ này không phát sự kiện / this service publishes no events")
        return found


def install_health(app: FastAPI, readiness: ReadinessCheck, degradation: Degradation | None = None) -> None:
    """``/healthz``: the process answers. ``/readyz``: every dependency check is true (else 503), and
    ``degraded`` with the details of what works but not fully (events a projection set aside): the
    service still answers, an operator has something to look at."""

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ready = all(checks.values())
        body: dict[str, Any] = {"ready": ready, "checks": checks}
        if degradation is not None:
            details = await degradation()
            body |= {"degraded": bool(details), **details}
        return JSONResponse(body, status_code=200 if ready else 503)
