"""Issue 14 item 9: concurrent ``POST /views/rebuild`` failed with 500.

The attack (or an impatient operator): several rebuilds of the planning views at once. They all
replayed into the same side tables (``programme__rebuild``), dropping and renaming them under each
other: 500s, and a view swapped in half-built.

Now one rebuild runs at a time per view store; another asked meanwhile is a 409 problem+json (try
again when it is done), and the one that ran leaves the view equal to the live digest.

Real parts: the planning service under uvicorn on this test's nats-server, replaying its stream.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from uuid import uuid4

import httpx
import nats
import pytest
from kc_contracts import Envelope
from kc_contracts.appraisal_events import BudgetTotals, DeAnSubmittedV1
from kc_contracts.subjects import stream_name, subject_for
from kc_planning.main import create_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.settings import Settings
from kc_testing.fixtures import SettingsFactory, SigningPublisher, bearer, served


@pytest.fixture
def store() -> str:
    return "sqlite"


async def publish_submissions(settings: Settings, count: int) -> None:
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamPlan(("tinh-40", "bo")))
        for n in range(count):
            de_an = uuid4()
            event = DeAnSubmittedV1(
                de_an_id=de_an,
                code=f"KCĐP-40-2024-{n:04d}",
                title=f"Đề án số {n}",
                level="dia_phuong",
                de_an_type="kcdp",
                plan_year=2024,
                province_code="40",
                status="da_nop",
                at=datetime(2023, 10, 20, tzinfo=UTC),
                actor="can-bo",
                activity_contents=["1"],
                implementing_unit="Trung tâm Khuyến công Nghệ An",
                budget=BudgetTotals(
                    total_cost_vnd=90_000_000, support_requested_vnd=90_000_000, counterpart_vnd=0, other_vnd=0
                ),
                deadline=date(2023, 10, 30),
            )
            envelope = Envelope.wrap(
                event, instance="tinh-40", service="appraisal", stream_id=de_an, stream_version=2, time=event.at
            )
            await js.publish(
                subject_for("tinh-40", event),
                SigningPublisher.of(settings).sign(envelope),
                stream=stream_name("tinh-40"),
                headers={"Nats-Msg-Id": envelope.id},
            )
    finally:
        await nc.close()


async def test_concurrent_rebuilds_run_one_at_a_time_and_the_others_are_409(make_settings: SettingsFactory) -> None:
    settings = make_settings("planning")
    await publish_submissions(settings, 200)
    app = create_app(settings)
    with served(app) as base:
        async with httpx.AsyncClient(base_url=base, headers=bearer(settings), timeout=120) as http:
            for _ in range(300):  # until the live view has consumed the stream
                totals = (await http.get("/views/province", params={"year": 2024})).json()["totals"]
                if totals and totals[0]["de_an"] == 200:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the live view did not consume the 200 submissions: {totals}")

            answers = await asyncio.gather(*(http.post("/views/rebuild") for _ in range(4)))
            statuses = sorted(a.status_code for a in answers)
            assert 500 not in statuses, [a.text for a in answers]
            assert statuses.count(200) >= 1, statuses
            assert set(statuses) <= {200, 409}, statuses
            assert statuses.count(409) >= 1, f"{statuses}: the rebuilds did not overlap"
            for refused in (a for a in answers if a.status_code == 409):
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert refused.json()["status"] == 409
            done = next(a for a in answers if a.status_code == 200).json()
            assert done["digest"] == (await http.get("/views/digest")).json()["digest"]

            # and once it is done, the next one runs
            again = await http.post("/views/rebuild")
            assert again.status_code == 200, again.text
            assert again.json()["digest"] == done["digest"]
    app.state.runtime.close()
