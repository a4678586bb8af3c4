"""OpenTelemetry on the runtime's trace context: the ids that travel are the recorded spans' ids, and with
no OTLP endpoint nothing of the SDK is loaded."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from kc_runtime import otel, tracing
from kc_runtime.otel import Telemetry
from kc_runtime.settings import Settings
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def telemetry(instance: str = "tinh-40", service: str = "appraisal") -> tuple[Telemetry, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return Telemetry(service=service, instance=instance, exporter=exporter, batch=False), exporter


def test_a_recorded_span_carries_the_ids_that_travel_under_the_callers_context() -> None:
    spans, exported = telemetry()
    with tracing.continued(
        CALLER, "congo=t61rcWkgMzE", spans=spans, name="POST", kind="server", attributes={"url.path": "/x"}
    ) as span:
        assert tracing.current() == span
        spans.annotate(name="POST /de-an/{de_an_id}", attributes={"http.response.status_code": 500}, error="HTTP 500")
    (recorded,) = exported.get_finished_spans()
    context = recorded.get_span_context()
    # the ids the logs, the stored events and the envelopes get are the recorded span's
    assert (f"{context.trace_id:032x}", f"{context.span_id:016x}") == (span.trace_id, span.span_id)
    assert span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and span.state == "congo=t61rcWkgMzE"
    assert recorded.parent is not None and recorded.parent.is_remote
    assert f"{recorded.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert recorded.name == "POST /de-an/{de_an_id}" and recorded.kind is SpanKind.SERVER
    assert recorded.status.status_code is StatusCode.ERROR
    assert recorded.attributes is not None and recorded.attributes["kc.instance"] == "tinh-40"
    assert recorded.resource.attributes["service.name"] == "kc-appraisal"
    assert tracing.current() is None


def test_without_a_caller_a_new_trace_even_inside_another_span() -> None:
    spans, exported = telemetry()
    with tracing.continued(None, spans=spans, name="outer") as outer:
        with tracing.continued("not a traceparent", spans=spans, name="inner", kind="consumer") as inner:
            pass
        # a child continues a span handed on as a traceparent (an envelope, a stored e-mail)
        with tracing.continued(outer.traceparent, spans=spans, name="child", kind="client") as child:
            pass
    assert inner.trace_id != outer.trace_id and child.trace_id == outer.trace_id
    by_name = {s.name: s for s in exported.get_finished_spans()}
    assert by_name["outer"].parent is None and by_name["inner"].parent is None
    assert by_name["child"].parent is not None and by_name["child"].parent.span_id == int(outer.span_id, 16)


def test_an_unsampled_caller_is_not_recorded_but_its_trace_goes_on() -> None:
    spans, exported = telemetry()
    with tracing.continued(CALLER[:-2] + "00", spans=spans, name="quiet") as span:
        pass
    assert exported.get_finished_spans() == ()
    assert span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and span.flags == "00"


def test_off_by_default_and_the_sdk_never_loaded() -> None:
    assert tracing.exporting(Settings(service="appraisal")) is None
    on = tracing.exporting(Settings(service="appraisal", otlp_endpoint="http://127.0.0.1:4318"))
    assert on is not None
    on.shutdown()
    # a whole service built without an endpoint loads no part of the OpenTelemetry SDK or exporter
    code = (
        "import sys, tempfile\n"
        "from kc_appraisal.main import create_app\n"
        "from kc_runtime.settings import Settings\n"
        "app = create_app(Settings(service='appraisal', var_dir=tempfile.mkdtemp()))\n"
        "assert app.state.runtime.spans is None\n"
        "app.state.runtime.close()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter'))))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr


def test_the_standard_variable_turns_it_on_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KC_OTLP_ENDPOINT", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert Settings(service="planning").otlp_endpoint == "http://collector:4318"
    monkeypatch.setenv("KC_OTLP_ENDPOINT", "http://ours:4318")
    assert Settings(service="planning").otlp_endpoint == "http://ours:4318"


def test_a_collector_that_does_not_answer_holds_the_services_stop_two_seconds_at_most() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spans = otel.otlp(service="appraisal", instance="tinh-40", endpoint=f"http://127.0.0.1:{port}")
    with tracing.continued(None, spans=spans, name="lost"):
        pass
    began = time.monotonic()
    spans.shutdown()
    assert time.monotonic() - began < 3.5  # the exporter's own retries would take ~6 s
