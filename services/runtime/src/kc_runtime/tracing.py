"""W3C trace context (https://www.w3.org/TR/trace-context/) from an HTTP request to the events it causes.

One trace follows a command across services:

1. an HTTP request's ``traceparent`` header (a new trace when it has none, or an invalid one) —
   :class:`~kc_runtime.web.guards.RequestGuard` opens this service's span as a child of it;
2. every domain event saved while that span is current carries it (``traceparent``, ``tracestate``
   stored with the event: :func:`stamp`, called by :class:`~kc_runtime.store.eventstore.ServiceApplication`
   when it records; metadata beside the domain's own fields, which the domain never sees);
3. the outbox relay puts them on the event's envelope (the CloudEvents distributed-tracing extension);
4. a consumer opens its span as a child of the envelope's (:func:`continued`, in the inbox), so the
   events its effect saves carry the same trace id onwards.

No tracing backend is needed: the ids are in the logs (``trace_id``), the event store and the
envelopes. With an OTLP endpoint configured (``KC_OTLP_ENDPOINT``, :func:`exporting`), each of those
spans is also an OpenTelemetry span exported to it (:mod:`kc_runtime.otel`), with the very same ids;
without one, OpenTelemetry is never imported and nothing here changes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog

if TYPE_CHECKING:
    from kc_runtime.settings import Settings

# version-traceid-parentid-flags; a future version may append fields after a dash (spec §3.2.4)
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_TRACESTATE_MAX = 512  # what a vendor must propagate at least (spec §3.3.1.5); longer is dropped
_TRACESTATE_KEY = r"[a-z0-9][a-z0-9_\-*/@]{0,255}"
_TRACESTATE_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_TRACESTATE_MEMBER = re.compile(f"^{_TRACESTATE_KEY}={_TRACESTATE_VALUE}$")
FIELDS = ("traceparent", "tracestate")


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str
    flags: str = "01"
    state: str | None = None

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceContext:
        """This service's span under the caller's: the same trace, a new span id."""
        return TraceContext(self.trace_id, _span_id(), self.flags, self.state)

    @classmethod
    def new(cls) -> TraceContext:
        return cls(secrets.token_hex(16), _span_id(), "01")

    @classmethod
    def parse(cls, traceparent: str | None, tracestate: str | None = None) -> TraceContext | None:
        """The caller's context, or None when ``traceparent`` is absent or invalid (its tracestate is then
        ignored too, as the spec says)."""
        if not traceparent:
            return None
        match = _TRACEPARENT.match(traceparent.strip())
        if match is None:
            return None
        version, trace_id, span_id, flags, rest = match.groups()
        if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} or set(span_id) == {"0"}:
            return None
        return cls(trace_id, span_id, flags, _tracestate(tracestate))


def _span_id() -> str:
    while True:
        span = secrets.token_hex(8)
        if span != "0" * 16:
            return span


def _tracestate(value: str | None) -> str | None:
    """The tracestate to pass on unchanged, or None when absent or malformed (never half of it)."""
    if not value or len(value) > _TRACESTATE_MAX:
        return None
    members = [m.strip() for m in value.split(",") if m.strip()]
    if not members or len(members) > 32 or not all(_TRACESTATE_MEMBER.match(m) for m in members):
        return None
    return ",".join(members)


_current: ContextVar[TraceContext | None] = ContextVar("kc_trace", default=None)


def current() -> TraceContext | None:
    return _current.get()


class Spans(Protocol):
    """What records spans (:class:`kc_runtime.otel.Telemetry` when tracing is exported)."""

    def open(
        self, name: str, parent: TraceContext | None, kind: str, attributes: Mapping[str, Any]
    ) -> AbstractContextManager[TraceContext]: ...

    def annotate(
        self, *, name: str | None = None, attributes: Mapping[str, Any] | None = None, error: str | None = None
    ) -> None: ...

    def shutdown(self) -> None: ...


@contextmanager
def continued(
    traceparent: str | None,
    tracestate: str | None = None,
    *,
    spans: Spans | None = None,
    name: str = "span",
    kind: str = "internal",
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[TraceContext]:
    """Within: this service's span, a child of the given context (a new trace when there is none).

    With ``spans`` (tracing exported) the span is recorded there as ``name`` (``kind``: server, consumer,
    client, internal) and its ids are the recorder's; without, they are made here and nothing is recorded.
    """
    parent = TraceContext.parse(traceparent, tracestate)
    if spans is None:
        with _made_current(parent.child() if parent else TraceContext.new()) as span:
            yield span
        return
    with spans.open(name, parent, kind, attributes or {}) as recorded, _made_current(recorded) as span:
        yield span


@contextmanager
def _made_current(span: TraceContext) -> Iterator[TraceContext]:
    token = _current.set(span)
    try:
        with structlog.contextvars.bound_contextvars(trace_id=span.trace_id, span_id=span.span_id):
            yield span
    finally:
        _current.reset(token)


def exporting(settings: Settings) -> Spans | None:
    """The service's span recorder when ``KC_OTLP_ENDPOINT`` is set (spans exported by OTLP), else None:
    off, OpenTelemetry not even imported."""
    if not settings.otlp_endpoint:
        return None
    from kc_runtime import otel  # only when on: no import cost when off

    return otel.otlp(service=settings.service, instance=settings.instance, endpoint=settings.otlp_endpoint)


def stamp(events: Iterable[Any]) -> None:
    """Give events about to be stored the current span (nothing outside a span, nothing twice).

    Stored with the event's state, read back by the mapper like any attribute; not a field of the
    domain's event classes, so the domain neither sets nor sees it.
    """
    span = _current.get()
    if span is None:
        return
    for event in events:
        if getattr(event, "traceparent", None) is None:
            object.__setattr__(event, "traceparent", span.traceparent)
            if span.state:
                object.__setattr__(event, "tracestate", span.state)


def of(event: Any) -> tuple[str | None, str | None]:
    """(traceparent, tracestate) stored with a domain event, if any."""
    return getattr(event, "traceparent", None), getattr(event, "tracestate", None)
