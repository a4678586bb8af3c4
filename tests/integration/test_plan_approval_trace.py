"""One plan approval is one OpenTelemetry trace, across the ministry and two provinces on one real
nats-server, exported by OTLP/HTTP to a receiver in this test (what a collector would get).

The Minister approves the national plan over HTTP on the ministry's planning (the trace's root: the call
carries no ``traceparent``); ``plan.approved.v1`` reaches each province's appraisal, which approves its
đề án (a consumer span under the ministry's request); ``de-an.approved.v1`` reaches the province's
notifications (a consumer span under appraisal's), which e-mails the implementing unit over real SMTP
(a client span under that). Every service exports its own spans (its resource names it and its
instance); the ids in the trace are the ones on the envelopes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from kc_appraisal.main import create_app as appraisal_app
from kc_contracts import Envelope
from kc_contracts.subjects import stream_name
from kc_notifications.mail import MailSink
from kc_notifications.main import create_app as notifications_app
from kc_notifications.settings import NotificationSettings
from kc_notifications.store import unit_key
from kc_ops.natsserver import free_port
from kc_planning.main import create_app as planning_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.tracing import TraceContext
from kc_testing.fixtures import SettingsFactory, bearer, eventually
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PROVINCES = {"tinh-40": "Nghệ An", "tinh-31": "Hải Phòng"}


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: int  # OTLP's: 2 server, 3 client, 5 consumer
    instance: str
    service: str
    attributes: dict[str, Any]


class OtlpReceiver:
    """An OTLP/HTTP trace receiver (``POST /v1/traces``, protobuf) on a free loopback port."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.requests = 0
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf"
                if ok:
                    received.take(body)
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._lock = threading.Lock()

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        with self._lock:
            self.requests += 1
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for s in scope_spans.spans:
                        self.spans.append(
                            Span(
                                trace_id=s.trace_id.hex(),
                                span_id=s.span_id.hex(),
                                parent_id=s.parent_span_id.hex() or None,
                                name=s.name,
                                kind=s.kind,
                                instance=resource["kc.instance"],
                                service=resource["service.name"],
                                attributes={a.key: _value(a.value) for a in s.attributes},
                            )
                        )

    def trace(self, trace_id: str) -> list[Span]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[MailSink]:
    sink = MailSink(tmp_path / "smtp", free_port())
    sink.start()
    yield sink
    sink.stop()


def client(app: Any, role: str) -> httpx.AsyncClient:
    settings = app.state.runtime.settings
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://{settings.instance}", headers=bearer(settings, role)
    )


async def national_de_an(province: httpx.AsyncClient, ministry: httpx.AsyncClient, code: str, unit: str) -> str:
    """Drafted, submitted and forwarded by the Sở, appraised by the Cục on the ministry's instance, proposed."""
    support = 200_000_000
    made = await province.post(
        "/de-an",
        json={
            "code": code,
            "title": "Hỗ trợ máy móc thiết bị cho nhóm cơ sở",
            "level": "quoc_gia",
            "de_an_type": "kcqg_nhom",
            "plan_year": 2024,
            "implementing_unit": unit,
            "activity_contents": ["3"],
            "budget_lines": [
                {
                    "cost_item": "Máy móc",
                    "support_item": "may_moc_thiet_bi",
                    "total_cost_vnd": 3 * support,
                    "support_requested_vnd": support,
                    "counterpart_vnd": 2 * support,
                }
            ],
        },
    )
    assert made.status_code == 201, made.text
    de_an = made.json()["id"]
    appraisal = {"mode": "can_bo", "conclusion": "dong_y", "recommended_support_vnd": support}
    for action, body in [
        ("submit", {"submitted_on": "2023-09-25"}),
        ("base-appraisal", appraisal | {"appraised_on": "2023-10-05"}),
        ("forward", {"on": "2023-10-06"}),
    ]:
        response = await province.post(f"/de-an/{de_an}/{action}", json=body)
        assert response.status_code == 200, response.text
    record = f"/national-de-an/{province.base_url.host}/{de_an}"

    async def forwarded() -> bool:
        response = await ministry.get(record)
        return response.status_code == 200 and response.json()["status"] == "da_gui_bo"

    await eventually(forwarded, timeout=60)
    response = await ministry.post(f"{record}/ministry-appraisal", json=appraisal | {"appraised_on": "2023-11-20"})
    assert response.status_code == 200, response.text

    async def appraised() -> bool:
        return bool((await province.get(f"/de-an/{de_an}")).json()["status"] == "dat_cap_bo")

    await eventually(appraised, timeout=60)
    response = await province.post(f"/de-an/{de_an}/propose", json={"on": "2023-11-25"})
    assert response.status_code == 200, response.text
    return str(de_an)


@pytest.mark.parametrize("store", ["sqlite"])  # the trace is the runtime's, whatever the store
async def test_one_plan_approval_is_one_trace_across_the_ministry_and_two_provinces(
    make_settings: SettingsFactory, otlp: OtlpReceiver, smtp: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")  # export every 0.2 s instead of 5 s
    traced = {"otlp_endpoint": otlp.url}
    peers = {"peers": list(PROVINCES)}
    bo_planning = planning_app(make_settings("planning", instance="bo", **peers, **traced))
    bo_appraisal = appraisal_app(make_settings("appraisal", instance="bo", **peers, **traced))
    appraisals = {i: appraisal_app(make_settings("appraisal", instance=i, **traced)) for i in PROVINCES}
    notifications = {
        i: notifications_app(
            NotificationSettings(
                **make_settings("notifications", instance=i, **traced).model_dump()
                | {"smtp_port": smtp.controller.port, "sender_interval_seconds": 0.1}
            )
        )
        for i in PROVINCES
    }
    apps = [bo_planning, bo_appraisal, *appraisals.values(), *notifications.values()]
    assert all(app.state.runtime.spans is not None for app in apps)
    nc = await nats.connect(bo_planning.state.runtime.settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(js, StreamPlan(("bo", *PROVINCES)))

    lifespans = [app.router.lifespan_context(app) for app in apps]
    for lifespan in lifespans:
        await lifespan.__aenter__()
    try:
        await eventually(lambda: all(app.state.runtime.bus_started for app in apps), timeout=60)
        cuc = client(bo_appraisal, "cuc")
        units = {i: f"Trung tâm Khuyến công tỉnh {name}" for i, name in PROVINCES.items()}
        for instance, unit in units.items():  # the implementing unit's e-mail address, at its province
            answer = await client(notifications[instance], "so_ct").put(
                f"/recipients/{unit_key(unit)}",
                json={"name": unit, "email": f"ttkc@{instance}.gov.vn", "role": "don_vi_thuc_hien", "scope": instance},
            )
            assert answer.status_code == 200, answer.text
        ids = {
            i: await national_de_an(client(appraisals[i], "so_ct"), cuc, f"KCQG-2024-{i[-2:]}-01", units[i])
            for i in PROVINCES
        }
        planning = client(bo_planning, "lanh_dao_bo")

        async def both_proposed() -> bool:
            response = await planning.get("/plans/quoc_gia/2024")
            return response.status_code == 200 and len(response.json()["lines"]) == 2

        await eventually(both_proposed, timeout=60)
        approved = await planning.post(
            "/plans/quoc_gia/2024/approvals",
            json={
                "decision_number": "3208/QĐ-BCT",
                "decision_date": "2023-12-28",
                "signer": "Bộ trưởng Bộ Công Thương",
            },
        )
        assert approved.status_code == 200, approved.text
        root = TraceContext.parse(approved.headers["traceparent"])
        assert root is not None

        async def approved_everywhere() -> bool:
            for i, de_an in ids.items():
                if (await client(appraisals[i], "so_ct").get(f"/de-an/{de_an}")).json()["status"] != "da_phe_duyet":
                    return False
            return True

        await eventually(approved_everywhere, timeout=60)

        def mailed() -> set[str]:  # the approval e-mails (their subject names the new status)
            return {m["to"] for m in smtp.messages(500) if "được phê duyệt" in m["subject"]}

        await eventually(lambda: mailed() == {f"ttkc@{i}.gov.vn" for i in PROVINCES}, timeout=60)

        def complete() -> bool:
            spans = otlp.trace(root.trace_id)
            return sum(s.name == "send e-mail" for s in spans) == len(PROVINCES)

        await eventually(complete, timeout=60)
    finally:
        for lifespan in reversed(lifespans):
            await lifespan.__aexit__(None, None, None)  # each service exports what is left as it stops

    # the envelopes the provinces published for the đề án's approval
    published: dict[str, Envelope] = {}
    for instance in PROVINCES:
        info = await js.stream_info(stream_name(instance))
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            envelope = Envelope.from_json((await js.get_msg(stream_name(instance), seq)).data)
            if envelope.type == "kc.appraisal.de-an.approved.v1":
                published[instance] = envelope
    await nc.close()

    spans = otlp.trace(root.trace_id)
    by_id = {s.span_id: s for s in spans}
    # one trace: a single root, the ministry's HTTP call; every other span's parent is in it
    (top,) = [s for s in spans if s.parent_id is None]
    assert (top.instance, top.service, top.kind) == ("bo", "kc-planning", 2)
    assert top.name == "POST /plans/{level}/{year}/approvals" and top.span_id == root.span_id
    assert top.attributes["http.response.status_code"] == 200
    assert all(s.parent_id in by_id for s in spans if s is not top), [s for s in spans if s.parent_id not in by_id]
    assert {s.instance for s in spans} == {"bo", *PROVINCES}

    for instance in PROVINCES:
        # the province's appraisal consumed the ministry's plan.approved: a child of the HTTP call
        (plan,) = [
            s
            for s in spans
            if (s.instance, s.service, s.kind) == (instance, "kc-appraisal", 5)
            and s.attributes["cloudevents.event_type"] == "kc.planning.plan.approved.v1"
        ]
        assert plan.parent_id == top.span_id and plan.name == "process kc.planning.plan.approved.v1"
        # its de-an.approved envelope carries that very span, which the province's notifications continued
        envelope = published[instance]
        assert envelope.traceparent == f"00-{root.trace_id}-{plan.span_id}-{root.flags}"
        (notified,) = [
            s
            for s in spans
            if (s.instance, s.service, s.kind) == (instance, "kc-notifications", 5)
            and s.attributes["cloudevents.event_type"] == "kc.appraisal.de-an.approved.v1"
        ]
        assert notified.parent_id == plan.span_id and notified.attributes["cloudevents.event_id"] == envelope.id
        # and the e-mail to the implementing unit, sent over SMTP, under the consumer that queued it
        (mail,) = [s for s in spans if s.instance == instance and s.name == "send e-mail"]
        assert (mail.service, mail.kind, mail.parent_id) == ("kc-notifications", 3, notified.span_id)
        assert mail.attributes["kc.notification.status"] == "da_gui"
        assert mail.attributes["kc.notification.recipient"] == unit_key(
            f"Trung tâm Khuyến công tỉnh {PROVINCES[instance]}"
        )
