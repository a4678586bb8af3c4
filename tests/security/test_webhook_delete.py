"""Issue 14 item 9: webhook subscriptions could not be deleted.

The problem: a subscription pointing at a endpoint that changed hands (a contractor's server, a
domain let lapse) kept receiving every signed event for ever; an operator could not remove it (no
route: 405), only wait for the endpoint to answer 410.

Now ``DELETE /webhooks/{id}`` (permission ``operate``; refused to a role without it) removes the
subscription and cancels its pending deliveries: nothing more is sent to it, and it is gone (404).

Real parts: the notifications service under uvicorn on this test's nats-server, a real HTTP
endpoint receiving the webhooks, events signed by the province's key and published on its stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from uuid import uuid4

import httpx
import nats
import pytest
from fastapi import FastAPI, Request, Response
from kc_contracts import Envelope
from kc_contracts.appraisal_events import BudgetTotals, DeAnSubmittedV1
from kc_contracts.subjects import stream_name, subject_for
from kc_notifications.main import create_app
from kc_notifications.settings import NotificationSettings
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, SigningPublisher, bearer, served


@pytest.fixture
def store() -> str:
    return "sqlite"


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[str]]]:
    """An integrator's webhook endpoint: its URL and the webhook ids it received."""
    received: list[str] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        received.append(request.headers["webhook-id"])
        return Response(status_code=204)

    with served(app, name="webhook-endpoint") as base:
        yield f"{base}/hook", received


async def publish_submission(settings: NotificationSettings) -> str:
    de_an = uuid4()
    event = DeAnSubmittedV1(
        de_an_id=de_an,
        code="KCĐP-40-2024-07",
        title="Hỗ trợ máy chẻ nan tự động",
        level="dia_phuong",
        de_an_type="kcdp",
        plan_year=2024,
        province_code="40",
        status="da_nop",
        at=datetime(2023, 10, 20, tzinfo=UTC),
        actor="can-bo",
        activity_contents=["3"],
        implementing_unit="Trung tâm Khuyến công Nghệ An",
        budget=BudgetTotals(
            total_cost_vnd=90_000_000, support_requested_vnd=90_000_000, counterpart_vnd=0, other_vnd=0
        ),
        deadline=date(2023, 10, 30),
    )
    envelope = Envelope.wrap(
        event, instance="tinh-40", service="appraisal", stream_id=de_an, stream_version=2, time=event.at
    )
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamPlan(("tinh-40", "bo")))
        await js.publish(
            subject_for("tinh-40", event),
            SigningPublisher.of(settings).sign(envelope),
            stream=stream_name("tinh-40"),
            headers={"Nats-Msg-Id": envelope.id},
        )
    finally:
        await nc.close()
    return envelope.id


async def test_a_deleted_webhook_subscription_receives_nothing_more(
    make_settings: SettingsFactory, endpoint: tuple[str, list[str]]
) -> None:
    url, received = endpoint
    settings = NotificationSettings(
        **make_settings("notifications").model_dump(),
        webhook_allow_hosts=["127.0.0.1"],
        sender_interval_seconds=0.1,
    )
    await ensure_streams_only(settings)
    app = create_app(settings)
    with served(app) as base:
        async with httpx.AsyncClient(base_url=base, headers=bearer(settings), timeout=30) as http:
            sub = (await http.post("/webhooks", json={"url": url, "event_types": ["*"]})).json()
            first = await publish_submission(settings)
            await until(lambda: first in received)

            # a role without "operate" may not delete it
            council = bearer(settings, "hoi_dong")
            refused = await http.delete(f"/webhooks/{sub['id']}", headers=council)
            assert refused.status_code == 403, refused.text

            deleted = await http.delete(f"/webhooks/{sub['id']}")
            assert deleted.status_code == 200, deleted.text
            assert (await http.get(f"/webhooks/{sub['id']}")).status_code == 404
            assert (await http.delete(f"/webhooks/{sub['id']}")).status_code == 404

            second = await publish_submission(settings)
            # the event arrived (it is in the feed) and a sender pass went by: nothing was sent
            await until(lambda: second in feed_ids(base, settings))
            await asyncio.sleep(1.0)
            assert received == [first], received
    app.state.runtime.close()


async def ensure_streams_only(settings: NotificationSettings) -> None:
    nc = await nats.connect(settings.nats_url)
    try:
        await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40", "bo")))
    finally:
        await nc.close()


def feed_ids(base: str, settings: NotificationSettings) -> set[str]:
    events = httpx.get(f"{base}/events", params={"after": 0}, headers=bearer(settings)).json()["events"]
    return {e["event"]["id"] for e in events}


async def until(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.1)
