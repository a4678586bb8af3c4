"""A small rebuild (or verification) of a small log is quick, on the accounts of deploy/nats (issue 18 item 2).

The ministry's planning view replays three streams (its own, where none of its subjects is, and two
provinces'). Each replay used to end by deleting its consumer, which an instance's account may not do:
the request waited for its 5 s timeout, per stream — 15 s for 25 events. Now the end is known from what
the consumer has pending, the consumer is left to expire, and the rebuild takes a fraction of a second,
still replaying every event of the log (the same digest as the live view's rows rebuilt by the operator).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from kc_contracts import Envelope
from kc_contracts.appraisal_events import BudgetTotals, DeAnSubmittedV1
from kc_contracts.integrity import TrustStore
from kc_contracts.subjects import stream_name, subject_for
from kc_ops.natsconfig import ADMIN_USER, AUDITOR, NatsDeployment
from kc_planning.projections.programme import ProgrammeView, programme_sources
from kc_runtime.bus.rebuild import ensure_tables, rebuild
from kc_runtime.bus.streamaudit import Audit, replay
from kc_runtime.keys import TrustFile
from kc_runtime.store.eventstore import sqlite_env
from kc_runtime.store.views import ViewStore
from kc_testing.fixtures import SettingsFactory, SigningPublisher
from natshelp import connect, ensure

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def store() -> str:
    return "sqlite"


def submission(province: str, n: int) -> DeAnSubmittedV1:
    return DeAnSubmittedV1(
        de_an_id=uuid4(),
        code=f"KCĐP-{province}-2024-{n:02d}",
        title=f"Đề án số {n}",
        level="dia_phuong",
        de_an_type="kcdp",
        plan_year=2024,
        province_code=province,
        status="da_nop",
        at=datetime(2023, 10, 20, tzinfo=UTC),
        actor="can-bo",
        activity_contents=["1"],
        implementing_unit="Trung tâm Khuyến công",
        budget=BudgetTotals(
            total_cost_vnd=90_000_000, support_requested_vnd=90_000_000, counterpart_vnd=0, other_vnd=0
        ),
        deadline=date(2023, 10, 30),
    )


async def test_the_ministrys_small_rebuild_takes_well_under_two_seconds(
    single_bus: NatsDeployment, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    admin = await ensure(single_bus)
    signing = SigningPublisher.of(make_settings("planning", instance="bo"))
    for instance, province, count in (("tinh-40", "40", 10), ("tinh-31", "31", 15)):
        conn = await connect(single_bus.url(instance))
        js = conn.js()
        for n in range(count):
            event = submission(province, n)
            envelope = Envelope.wrap(
                event, instance=instance, service="appraisal", stream_id=event.de_an_id, stream_version=2, time=event.at
            )
            await js.publish(subject_for(instance, event), signing.sign(envelope), stream=stream_name(instance))
        # the stream's last message is not one the view reads: the end is still known, not waited for
        await js.publish(f"kc.{instance}.registry.establishment.registered.v1", b"{}", stream=stream_name(instance))
        await conn.nc.close()
    await admin.nc.close()

    view = ProgrammeView()
    sources = programme_sources("bo", ["tinh-40", "tinh-31"])

    async def rebuilt(user: str, name: str) -> tuple[float, int, str]:
        views = ViewStore(sqlite_env(tmp_path / f"{name}.sqlite"), name="planning_views")
        ensure_tables(views, view)
        began = time.perf_counter()
        report = await rebuild(
            view, views, single_bus.url(user), sources, swap=False, trust=TrustFile(signing.settings.trust_path)
        )
        seconds = time.perf_counter() - began
        views.close()
        return seconds, report.events, report.digest

    seconds, events, digest = await rebuilt("bo", "ministry")  # as the ministry's planning service does
    assert events == 25
    assert seconds < 2.0, f"a rebuild of 25 events took {seconds:.1f} s"

    # the operator (who may delete consumers) rebuilds the same rows from the same log
    _, operator_events, operator_digest = await rebuilt(ADMIN_USER, "operator")
    assert (operator_events, operator_digest) == (events, digest)


async def test_the_auditors_verification_of_a_small_stream_is_quick_too(
    single_bus: NatsDeployment, make_settings: SettingsFactory
) -> None:
    """kc audit verify (and the console's Kiểm toán page) read the stream the same way, as the auditor,
    whose account may not delete consumers either: 7.6 s for 23 messages before, the wait for the delete."""
    admin = await ensure(single_bus)
    await admin.nc.close()
    settings = make_settings("appraisal", instance="tinh-40")
    signing = SigningPublisher.of(settings)
    conn = await connect(single_bus.url("tinh-40"))
    for n in range(10):
        event = submission("40", n)
        envelope = Envelope.wrap(
            event, instance="tinh-40", service="appraisal", stream_id=event.de_an_id, stream_version=2, time=event.at
        )
        await conn.js().publish(subject_for("tinh-40", event), signing.sign(envelope), stream=stream_name("tinh-40"))
    await conn.nc.close()

    audit = Audit("tinh-40", TrustStore.from_json(json.loads(settings.trust_path.read_text("utf-8"))))
    began = time.perf_counter()
    state = await replay(single_bus.url(AUDITOR), "tinh-40", audit, batch=5000)
    seconds = time.perf_counter() - began
    assert (state.messages, audit.messages, audit.ok) == (10, 10, True), audit.failures
    assert seconds < 2.0, f"verifying 10 messages took {seconds:.1f} s"
