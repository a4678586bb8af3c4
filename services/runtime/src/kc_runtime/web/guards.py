"""The request guard every service installs: body limits counted as bytes arrive, lone surrogates
refused, ``nosniff``, the correlation id and the request's trace span, one log line per request."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kc_runtime import tracing
from kc_runtime.web.errors import TITLES, problem
from kc_runtime.web.metrics import route_template

log = structlog.get_logger("kc.http")


class BodyTooLargeError(StarletteHTTPException):
    """The request's body went past its limit while it was being received."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Tối đa {limit} byte / at most {limit} bytes per request")


class RequestGuard:
    """Plain ASGI: the body limit, the correlation id, the trace context, one log line per request.

    The request's ``traceparent`` (and ``tracestate``) header opens this service's span as its child, a
    new trace when it has none: the events the request saves carry it (:mod:`kc_runtime.tracing`), and
    the response names it in its own ``traceparent`` header. With tracing exported (``spans``), the span
    is recorded as a server span named by the route template (``POST /plans/{level}/{year}/approvals``),
    with the status; a 5xx marks it failed.

        The limit holds however the body comes: a ``Content-Length`` beyond it is answered at once; a
        body without one (``Transfer-Encoding: chunked``) or longer than it claimed is counted as it is
        received, and the read that passes the limit raises :class:`BodyTooLargeError` in whatever is
        reading it (JSON, a form, an upload): a 413 problem, with nothing more read. uvicorn's flow
        control keeps the unread rest on the socket, so a refused body costs neither time nor memory.
        (Starlette's own ``RequestBodyLimitMiddleware`` counts the same way but answers some refusals
        in plain text, without the limit; every refusal here is a problem+json that says it.)
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        upload_bytes: int,
        spans: tracing.Spans | None = None,
        router: Any = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_bytes = upload_bytes
        self.spans = spans
        self.router = router

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
            tracing.continued(
                headers.get("traceparent"),
                headers.get("tracestate"),
                spans=self.spans,
                name=scope["method"],
                kind="server",
                attributes=None if self.spans is None else _request_attributes(scope, correlation),
            ) as span,
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
                await problem(413, TITLES[413], str(exc.detail))(scope, receive, tagged)
            finally:
                if self.spans is not None:
                    self._annotate(self.spans, scope, status)
                probe = scope["path"] in ("/healthz", "/readyz")
                (log.debug if probe else log.info)(
                    "http",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round((time.perf_counter() - began) * 1000, 1),
                )

    def _annotate(self, spans: tracing.Spans, scope: Scope, status: int) -> None:
        route = route_template(self.router, scope)
        spans.annotate(
            name=f"{scope['method']} {route}",
            attributes={"http.route": route, "http.response.status_code": status},
            error=f"HTTP {status}" if status >= 500 else None,
        )


def _request_attributes(scope: Scope, correlation: str) -> dict[str, Any]:
    return {
        "http.request.method": scope["method"],
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "kc.correlation_id": correlation,
    }


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
    return problem(422, TITLES[422], f"{vi} / {en}", errors=[{"field": field, "message": vi, "message_en": en}])


def install_request_guards(
    app: FastAPI, max_body_bytes: int = 1 << 20, upload_bytes: int = 0, spans: tracing.Spans | None = None
) -> None:
    """Refuse oversize bodies (413), however they are sent, and log every request with its correlation id.

    ``upload_bytes`` is the larger limit for multipart uploads (documents); 0 means no uploads. ``spans``:
    where the requests' spans are recorded when tracing is exported (:func:`kc_runtime.tracing.exporting`).
    """
    app.add_middleware(
        RequestGuard, max_body_bytes=max_body_bytes, upload_bytes=upload_bytes, spans=spans, router=app.router
    )
