"""Notifications on a real nats-server, a real SMTP server (aiosmtpd) and a real HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from uuid import uuid4

import nats
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from kc_contracts import Envelope
from kc_contracts.appraisal_events import BudgetTotals, DeAnApprovedV1, DeAnSubmittedV1
from kc_contracts.integrity import TrustStore
from kc_contracts.planning_events import CalendarChangedV1, RegistrationFiledV1
from kc_contracts.subjects import stream_name, subject_for
from kc_notifications.mail import MailSink
from kc_notifications.main import create_app
from kc_notifications.settings import NotificationSettings
from kc_ops.natsserver import free_port
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.settings import Settings
from kc_testing.fixtures import SettingsFactory, SigningPublisher, bearer, eventually
from standardwebhooks import Webhook

DE_AN = uuid4()
COMMON = {
    "de_an_id": DE_AN,
    "code": "KCĐP-40-2024-07",
    "title": "Hỗ trợ máy chẻ nan tự động cho HTX Đồng Thành",
    "level": "dia_phuong",
    "de_an_type": "kcdp",
    "plan_year": 2024,
    "province_code": "40",
    "at": datetime(2023, 10, 20, tzinfo=UTC),
    "actor": "can-bo",
}


def envelope(event: Any, version: int) -> Envelope:
    return Envelope.wrap(
        event,
        instance="tinh-40",
        service="appraisal",
        stream_id=DE_AN,
        stream_version=version,
        time=datetime(2023, 12, 20, tzinfo=UTC),
    )


SUBMITTED = envelope(
    DeAnSubmittedV1(
        **COMMON,
        status="da_nop",
        activity_contents=["3"],
        implementing_unit="Trung tâm Khuyến công Nghệ An",
        budget=BudgetTotals(
            total_cost_vnd=300_000_000, support_requested_vnd=120_000_000, counterpart_vnd=180_000_000, other_vnd=0
        ),
        deadline=date(2023, 10, 30),
    ),
    2,
)
APPROVED = envelope(
    DeAnApprovedV1(
        **COMMON, status="da_phe_duyet", plan_decision="3456/QĐ-UBND", batch=1, approved_support_vnd=120_000_000
    ),
    6,
)


class Receiver:
    """An integrator's endpoint: verifies with the reference library, dedups by webhook-id."""

    def __init__(self) -> None:
        self.secret = ""
        self.fail_next = 0
        self.gone = False
        self.accepted: dict[str, bytes] = {}
        self.attempts = 0
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.attempts += 1
            body = await request.body()
            Webhook(self.secret).verify(body, dict(request.headers))  # raises on a bad signature
            if self.gone:
                return Response(status_code=410)
            if self.fail_next:
                self.fail_next -= 1
                return Response(status_code=503)
            self.accepted.setdefault(request.headers["webhook-id"], body)
            return Response(status_code=204)

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[MailSink]:
    sink = MailSink(tmp_path / "smtp", free_port())
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def publish(settings: Settings, env: Envelope, msg_id: str) -> None:
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(js, StreamPlan(("tinh-40", "bo")))
    await js.publish(
        subject_for("tinh-40", env.decode()),
        SigningPublisher.of(settings).sign(env),
        stream=stream_name("tinh-40"),
        headers={"Nats-Msg-Id": msg_id},
    )
    await nc.close()


async def test_status_email_and_webhook_exactly_once_despite_redelivery_and_retries(
    make_settings: SettingsFactory, smtp: MailSink, receiver: Receiver
) -> None:
    base = make_settings("notifications").model_dump()
    settings = NotificationSettings(
        **base
        | {
            "smtp_port": smtp.controller.port,
            "webhook_allow_hosts": ["127.0.0.1"],
            "webhook_retry_seconds": [0.2, 0.2, 0.2],
            "sender_interval_seconds": 0.1,
        }
    )
    await publish(settings, SUBMITTED, "a")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        from httpx import ASGITransport, AsyncClient

        http = AsyncClient(transport=ASGITransport(app=app), base_url="http://notifications", headers=bearer(settings))
        assert (
            await http.put(
                "/recipients/don-vi:trung-tam-khuyen-cong-nghe-an",
                json={
                    "name": "Trung tâm Khuyến công Nghệ An",
                    "email": "ttkc@nghean.gov.vn",
                    "role": "don_vi_thuc_hien",
                    "scope": "tinh-40",
                },
            )
        ).status_code == 200
        sub = (
            await http.post(
                "/webhooks",
                json={
                    "url": f"http://127.0.0.1:{receiver.port}/hook",
                    "event_types": ["kc.appraisal.de-an.approved.v1"],
                },
            )
        ).json()
        receiver.secret = sub["secret"]
        receiver.fail_next = 2
        await eventually(lambda: app.state.runtime.bus_started)

        await publish(settings, APPROVED, "b")
        await publish(settings, APPROVED, "b-again")  # redelivered after a crash: a new stream message
        await eventually(lambda: len(receiver.accepted) == 1 and len(smtp.messages()) == 1)
        await asyncio.sleep(1.5)  # time for any duplicate to show up

        assert receiver.attempts == 3  # 503, 503, 204: retried, then delivered once
        assert list(receiver.accepted) == [APPROVED.id]
        delivered = json.loads(receiver.accepted[APPROVED.id])
        assert Envelope.model_validate(delivered).data == APPROVED.data
        TrustStore.load(settings.trust_path).verify(delivered)  # integrators can check the signature
        mails = smtp.messages()
        assert len(mails) == 1
        assert mails[0]["to"] == "ttkc@nghean.gov.vn"
        assert mails[0]["subject"] == "[Khuyến công] Đề án KCĐP-40-2024-07: được phê duyệt trong kế hoạch"
        assert "Đề án được phê duyệt trong kế hoạch (quyết định 3456/QĐ-UBND, đợt 1)." in mails[0]["text"]
        assert (
            "Kinh phí hỗ trợ được duyệt: 120.000.000 đồng (bằng chữ: Một trăm hai mươi triệu đồng)." in mails[0]["text"]
        )
        assert "Thư tự động từ hệ thống khuyến công (Tỉnh Nghệ An)." in mails[0]["text"]  # the instance by name
        raw = message_from_bytes(next(smtp.directory.glob("*.eml")).read_bytes(), policy=policy.default)
        assert raw.get_body(preferencelist=("html",)) is not None  # text + HTML
        log = (await http.get("/notifications")).json()
        assert [(n["status"], n["template"]) for n in log] == [("da_gui", "status")]
        delivered = (await http.get(f"/webhooks/{sub['id']}/deliveries")).json()
        assert [(d["status"], d["attempts"]) for d in delivered] == [("da_gui", 3)]
        feed = (await http.get("/events", params={"after": 0})).json()
        assert [e["event"]["id"] for e in feed["events"]] == [SUBMITTED.id, APPROVED.id]

        # 410: the endpoint is disabled; a later event is not sent to it
        receiver.gone = True
        await publish(
            settings,
            envelope(
                DeAnApprovedV1(
                    **COMMON | {"de_an_id": uuid4()}, status="x", plan_decision="1", batch=2, approved_support_vnd=1
                ),
                7,
            ),
            "c",
        )
        await eventually(lambda: not app.state.subscriptions.get(sub["id"])["active"])
        assert "410" in app.state.subscriptions.get(sub["id"])["disabled_reason"]
        await http.aclose()


async def test_a_delivery_that_keeps_failing_becomes_a_dead_letter_and_can_be_redelivered(
    make_settings: SettingsFactory, receiver: Receiver
) -> None:
    base = make_settings("notifications").model_dump()
    settings = NotificationSettings(
        **base
        | {"webhook_allow_hosts": ["127.0.0.1"], "webhook_retry_seconds": [0.1, 0.1], "sender_interval_seconds": 0.1}
    )
    app = create_app(settings)
    subs = app.state.subscriptions
    sub = subs.create(f"http://127.0.0.1:{receiver.port}/hook", ["*"])
    receiver.secret, receiver.fail_next = sub["secret"], 10
    with app.state.views.transaction() as cur:
        from kc_notifications.store import queue_deliveries

        queue_deliveries(cur, APPROVED.type, APPROVED.id, APPROVED.to_json().decode())
    for _ in range(20):
        await app.state.deliverer.run_once()
        await asyncio.sleep(0.12)
    assert [d["status"] for d in subs.deliveries(sub["id"])] == ["that_bai"]
    receiver.fail_next = 0
    subs.redeliver(subs.deliveries(sub["id"])[0]["id"])
    await app.state.deliverer.run_once()
    assert [d["status"] for d in subs.deliveries(sub["id"])] == ["da_gui"]
    assert list(receiver.accepted) == [APPROVED.id]

    # rotation: old and new secrets both sign; a receiver on either verifies
    new = subs.rotate(sub["id"])
    with app.state.views.transaction() as cur:
        from kc_notifications.store import queue_deliveries

        queue_deliveries(cur, SUBMITTED.type, SUBMITTED.id, SUBMITTED.to_json().decode())
    receiver.secret = new
    await app.state.deliverer.run_once()
    assert SUBMITTED.id in receiver.accepted
    app.state.runtime.close()


def test_private_network_targets_are_refused_unless_allow_listed(make_settings: SettingsFactory) -> None:
    app = create_app(NotificationSettings(**make_settings("notifications").model_dump()))
    from fastapi.testclient import TestClient

    http = TestClient(app, raise_server_exceptions=False, headers=bearer(app.state.runtime.settings))
    for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest", "ftp://x/"):
        refused = http.post("/webhooks", json={"url": url, "event_types": ["*"]})
        assert refused.status_code == 422, url
        assert refused.json()["errors"][0]["field"] == "url"
    app.state.runtime.close()


def test_reminders_go_to_units_that_have_not_acted(make_settings: SettingsFactory) -> None:
    app = create_app(NotificationSettings(**make_settings("notifications").model_dump()))
    store, inflow, scheduler = app.state.notifications, app.state.runtime, app.state.scheduler
    del inflow
    for key, name in (("don-vi:ubnd-xa-dien-kim", "UBND xã Diễn Kim"), ("don-vi:ubnd-xa-dien-hai", "UBND xã Diễn Hải")):
        store.put_recipient(key, name, f"{key[7:]}@nghean.gov.vn", "don_vi_dang_ky", "tinh-40")
    from eventsourcing.persistence import Tracking
    from kc_notifications import messaging
    from kc_notifications.application import NotificationsApplication

    planning = messaging.planning_events(NotificationsApplication(app.state.views, "tinh-40"))
    cal = CalendarChangedV1(
        level="dia_phuong",
        owner="tinh-40",
        year=2024,
        registration_deadline=date(2023, 7, 14),
        dossier_deadline=date(2023, 10, 30),
        legal_basis="Sở Công Thương Nghệ An",
        reason="x",
    )
    planning(
        Envelope.wrap(
            cal,
            instance="tinh-40",
            service="planning",
            stream_id=uuid4(),
            stream_version=1,
            time=datetime(2023, 5, 1, tzinfo=UTC),
        ),
        cal,
        Tracking("t@KC_TINH_40", 1),
    )
    filed = RegistrationFiledV1(
        registration_id=uuid4(),
        level="dia_phuong",
        owner="tinh-40",
        year=2024,
        registrant="UBND xã Diễn Hải",
        filed_on=date(2023, 7, 1),
        on_time=True,
        items=1,
        support_vnd=1,
    )
    planning(
        Envelope.wrap(
            filed,
            instance="tinh-40",
            service="planning",
            stream_id=uuid4(),
            stream_version=1,
            time=datetime(2023, 7, 1, tzinfo=UTC),
        ),
        filed,
        Tracking("t@KC_TINH_40", 2),
    )
    # 14/07/2023 is a Friday: 7 working days before → 05/07; 1 → 13/07
    assert scheduler.tick(date(2023, 7, 4)) == 0
    assert scheduler.tick(date(2023, 7, 5)) == 1
    assert scheduler.tick(date(2023, 7, 5)) == 0  # the same day again: nothing new
    assert scheduler.tick(date(2023, 7, 13)) == 1
    log = store.log()
    assert {n["recipient"] for n in log} == {"don-vi:ubnd-xa-dien-kim"}
    assert [n["context"]["lead"] for n in sorted(log, key=lambda n: n["id"])] == [7, 1]
    app.state.runtime.close()
