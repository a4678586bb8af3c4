"""Issue 14 item 8: the ministry's event feed leaked across provinces.

The attack: Hải Phòng's Sở (``so_ct`` of ``tinh-31``, which may read the ministry's public
information) pulled ``GET <bo notifications>/events`` and got Nghệ An's đề án milestones — the
advance paid, the officer who recorded it — which ``/de-an`` on Nghệ An refuses it.

Now the feed answers each caller what the APIs would: public events (approved plans, calendars) to
anyone with ``read_public``; a đề án's milestones only to whom may ``read`` on the instance that owns
it (and, for a unit-bound role, only its own unit's); an integrator (``tich_hop``) public events only.

Real parts: the ministry's notifications service under uvicorn on this test's nats-server, reading
both provinces' streams and its own; each event signed by its instance's key and published on its
own stream, as the relays would.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import nats
import pytest
from kc_contracts import ContractEvent, Envelope
from kc_contracts.appraisal_events import AdvanceRecordedV1, BudgetTotals, DeAnSubmittedV1
from kc_contracts.planning_events import ApprovedLine, PlanApprovedV1
from kc_contracts.subjects import stream_name, subject_for
from kc_notifications.main import create_app
from kc_notifications.settings import NotificationSettings
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, SigningPublisher, bearer, served

PROVINCES = ("tinh-40", "tinh-31")


@pytest.fixture
def store() -> str:
    return "sqlite"


def milestone_fields(de_an: UUID, province: str) -> dict[str, Any]:
    return {
        "de_an_id": de_an,
        "code": f"KCĐP-{province[-2:]}-2024-07",
        "title": f"Đề án của {province}",
        "level": "dia_phuong",
        "de_an_type": "kcdp",
        "plan_year": 2024,
        "province_code": province[-2:],
        "at": datetime(2024, 6, 28, tzinfo=UTC),
        "actor": f"Nguyễn Văn Kế Toán (so_ct@{province})",
    }


def events_of(province: str) -> list[tuple[str, ContractEvent, UUID, int]]:
    de_an = uuid4()
    common = milestone_fields(de_an, province)
    submitted = DeAnSubmittedV1(
        **common,
        status="da_nop",
        activity_contents=["1"],
        implementing_unit=f"Trung tâm Khuyến công {province}",
        budget=BudgetTotals(
            total_cost_vnd=90_000_000, support_requested_vnd=90_000_000, counterpart_vnd=0, other_vnd=0
        ),
        deadline=date(2023, 10, 30),
    )
    advance = AdvanceRecordedV1(
        **common,
        status="da_ky_hop_dong",
        amount_vnd=63_000_000,
        advanced_total_vnd=63_000_000,
        paid_on=date(2024, 6, 28),
    )
    return [(province, submitted, de_an, 2), (province, advance, de_an, 7)]


def plan_approved() -> tuple[str, ContractEvent, UUID, int]:
    plan = uuid4()
    event = PlanApprovedV1(
        plan_id=plan,
        level="quoc_gia",
        owner="bo",
        year=2024,
        batch=1,
        decision_number="3208/QĐ-BCT",
        decision_date=date(2023, 12, 28),
        signer="Thứ trưởng",
        lines=[
            ApprovedLine(
                de_an_id=uuid4(),
                instance="tinh-40",
                code="KCQG-2024-40-01",
                title="Hỗ trợ máy chế biến chè",
                province_code="40",
                activity_contents=["3"],
                approved_support_vnd=280_000_000,
            )
        ],
        total_support_vnd=280_000_000,
    )
    return ("bo", event, plan, 3)


async def publish(settings: NotificationSettings, items: list[tuple[str, ContractEvent, UUID, int]]) -> list[str]:
    nc = await nats.connect(settings.nats_url)
    ids = []
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamPlan(("bo", *PROVINCES)))
        for instance, event, stream_id, version in items:
            service = "planning" if isinstance(event, PlanApprovedV1) else "appraisal"
            envelope = Envelope.wrap(
                event,
                instance=instance,
                service=service,
                stream_id=stream_id,
                stream_version=version,
                time=datetime(2024, 6, 28, tzinfo=UTC),
            )
            await js.publish(
                subject_for(instance, event),
                SigningPublisher.of(settings).sign(envelope),
                stream=stream_name(instance),
                headers={"Nats-Msg-Id": envelope.id},
            )
            ids.append(envelope.id)
    finally:
        await nc.close()
    return ids


async def test_a_province_sees_its_own_and_public_events_in_the_ministrys_feed_not_another_provinces(
    make_settings: SettingsFactory,
) -> None:
    settings = NotificationSettings(
        **make_settings("notifications", instance="bo").model_dump() | {"peers": list(PROVINCES)},
        sender_interval_seconds=3600.0,
    )
    nghe_an, hai_phong, public = events_of("tinh-40"), events_of("tinh-31"), plan_approved()
    ids = await publish(settings, [*nghe_an, *hai_phong, public])
    nghe_an_ids, hai_phong_ids, public_ids = set(ids[0:2]), set(ids[2:4]), {ids[4]}

    app = create_app(settings)
    with served(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:

            async def feed(role: str, scope: str | None = None, **claims: str) -> set[str]:
                response = await http.get(
                    "/events", params={"after": 0, "limit": 1000}, headers=bearer(settings, role, scope=scope, **claims)
                )
                assert response.status_code == 200, response.text
                return {e["event"]["id"] for e in response.json()["events"]}

            deadline = time.monotonic() + 30
            while await feed("cuc") != set(ids):  # the ministry's own officers see everything it received
                assert time.monotonic() < deadline, await feed("cuc")
                await asyncio.sleep(0.2)

            # the attack: Hải Phòng's Sở reads the ministry's feed
            seen = await feed("so_ct", scope="tinh-31")
            assert seen == hai_phong_ids | public_ids, "Hải Phòng sees another province's đề án"
            assert not seen & nghe_an_ids
            assert await feed("so_ct", scope="tinh-40") == nghe_an_ids | public_ids
            # a unit-bound role (don_vi) sees its own unit's đề án only
            own_unit, other_unit = "trung-tam-khuyen-cong-tinh-40", "hop-tac-xa-dong-thanh"
            assert await feed("don_vi", scope="tinh-40", unit=own_unit) == nghe_an_ids | public_ids
            assert await feed("don_vi", scope="tinh-40", unit=other_unit) == public_ids
            # an integrator: public events only
            assert await feed("tich_hop") == public_ids

            # nothing of Nghệ An's đề án in what Hải Phòng gets: no milestone, no officer's name
            body = (
                await http.get("/events", params={"after": 0}, headers=bearer(settings, "so_ct", scope="tinh-31"))
            ).json()
            assert {e["event"]["kcinstance"] for e in body["events"]} == {"tinh-31", "bo"}
            assert "Nguyễn Văn Kế Toán (so_ct@tinh-40)" not in str(body)
    app.state.runtime.close()
