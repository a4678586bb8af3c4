"""OpenTelemetry spans for the trace context :mod:`kc_runtime.tracing` already carries.

Imported only when tracing is on (:func:`kc_runtime.tracing.exporting`): with no OTLP endpoint
configured nothing of OpenTelemetry is even loaded, and every span stays the bare
:class:`~kc_runtime.tracing.TraceContext` it was.

When it is on, each span the runtime opens — an HTTP request (:class:`~kc_runtime.web.guards.RequestGuard`),
a consumed event (:class:`~kc_runtime.bus.inbox.Inbox`), a notification's e-mail — is also an OpenTelemetry
span, and *its* ids are the ones that travel: the SDK makes the span under the caller's context (the
request's ``traceparent`` header, the envelope's ``traceparent``, the one stored with the e-mail) and
the :class:`TraceContext` put in the logs, on the stored events and on their envelopes is read from it.
So the ids in the logs, the event store, the bus and the tracing backend are one and the same, and a
consumer on another instance — tracing on or off there — continues the same trace.

Each service has its own tracer provider (its resource names the service and the instance: several run
in one process in the tests), exporting in batches by OTLP over HTTP/protobuf to
``<KC_OTLP_ENDPOINT>/v1/traces``. The exporter reads the standard variables for the rest
(``OTEL_EXPORTER_OTLP_HEADERS``, ``…_TIMEOUT``, ``…_CERTIFICATE``, ``…_COMPRESSION``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from kc_runtime.tracing import TraceContext

KINDS = {
    "server": SpanKind.SERVER,
    "consumer": SpanKind.CONSUMER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "internal": SpanKind.INTERNAL,
}


class Telemetry:
    """One service's tracer: opens its spans under the caller's context, exports them."""

    def __init__(self, *, service: str, instance: str, exporter: SpanExporter, batch: bool = True) -> None:
        resource = Resource.create(
            {
                "service.name": f"kc-{service}",
                "service.namespace": "khuyencong",
                "service.instance.id": f"{instance}/{service}",
                "kc.instance": instance,
            }
        )
        self.provider = TracerProvider(resource=resource)
        self.exporter = exporter
        self.provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("kc_runtime")
        self.instance = instance

    @contextmanager
    def open(
        self, name: str, parent: TraceContext | None, kind: str, attributes: Mapping[str, Any]
    ) -> Iterator[TraceContext]:
        """An OpenTelemetry span named ``name`` under ``parent`` (a new trace when None), current within;
        yields its ids as a :class:`TraceContext` (the parent's tracestate passed on unchanged)."""
        if parent is None:
            under = otel_context.Context()  # explicitly no parent: never the span current in this thread
        else:
            remote = SpanContext(
                trace_id=int(parent.trace_id, 16),
                span_id=int(parent.span_id, 16),
                is_remote=True,
                trace_flags=TraceFlags(int(parent.flags, 16)),
                trace_state=TraceState.from_header([parent.state]) if parent.state else None,
            )
            under = trace.set_span_in_context(NonRecordingSpan(remote))
        attrs = {"kc.instance": self.instance, **{k: v for k, v in attributes.items() if v is not None}}
        with self.tracer.start_as_current_span(name, context=under, kind=KINDS[kind], attributes=attrs) as span:
            ids = span.get_span_context()
            yield TraceContext(
                f"{ids.trace_id:032x}",
                f"{ids.span_id:016x}",
                f"{int(ids.trace_flags):02x}",
                parent.state if parent else None,
            )

    def annotate(
        self, *, name: str | None = None, attributes: Mapping[str, Any] | None = None, error: str | None = None
    ) -> None:
        """Rename the current span, add attributes, or mark it failed (what is known only at its end)."""
        span = trace.get_current_span()
        if not span.is_recording():
            return
        if name:
            span.update_name(name)
        for key, value in (attributes or {}).items():
            if value is not None:
                span.set_attribute(key, value)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))

    def flush(self, timeout_ms: int = 5000) -> bool:
        return bool(self.provider.force_flush(timeout_ms))

    def shutdown(self, timeout_ms: int = 2000) -> None:
        """Export what is left and stop (the service's stop), in bounded time: a collector that does not
        answer within ``timeout_ms`` loses the last spans rather than holding the service's stop (the
        exporter's own retries would take their full timeout, 10 s)."""
        deadline = threading.Timer(timeout_ms / 1000, self.exporter.shutdown)  # ends its retries
        deadline.start()
        try:
            self.provider.shutdown()  # exports what is queued, then stops
        finally:
            deadline.cancel()


def otlp(*, service: str, instance: str, endpoint: str) -> Telemetry:
    """Spans exported in batches by OTLP/HTTP (protobuf) to ``<endpoint>/v1/traces``."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    return Telemetry(service=service, instance=instance, exporter=OTLPSpanExporter(endpoint=url))
