"""deploy/nats/single.conf: the server, not the client, decides who publishes and reads what.

One account per instance; the streams live in the KC account, which exports to each account exactly what it
may use. A province publishes only under its own subjects, the integrator and the auditor publish nothing,
the integrator reads KC_BO only, the ministry reads every province.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from kc_appraisal.main import create_app as appraisal_app
from kc_ops import natsconfig
from kc_ops.natsconfig import AUDITOR, INTEGRATOR, NatsDeployment
from kc_registry.main import create_app as registry_app
from kc_testing.fixtures import SettingsFactory, eventually
from nats.js.api import ConsumerConfig
from natshelp import REFUSED, Conn, connect, count, counts, ensure, officer

pytestmark = pytest.mark.timeout(60)

REGISTERED = "registry.establishment.registered.v1"
KC = str(Path(sys.executable).parent / "kc")


@pytest.fixture
def store() -> str:
    """These tests are about NATS: SQLite only (the PostgreSQL variants add nothing here)."""
    return "sqlite"


def test_the_committed_accounts_file_is_the_generated_one() -> None:
    committed = (natsconfig.config_dir() / "accounts.conf").read_text("utf-8")
    assert committed == natsconfig.accounts_conf(natsconfig.DEFAULT_INSTANCES), (
        "deploy/nats/accounts.conf drifted: python -m kc_ops.natsconfig accounts > deploy/nats/accounts.conf"
    )


async def refused_publish(conn: Conn, subject: str) -> None:
    with pytest.raises(REFUSED):
        await conn.js(timeout=0.5).publish(subject, b"{}", headers={"Nats-Msg-Id": f"refused:{subject}"}, timeout=0.5)
    await conn.violation_for(subject)


async def read_one(conn: Conn, stream: str, durable: str, subject: str = "") -> bytes:
    """Create a durable pull consumer, fetch one message, ack it; return its data."""
    config = ConsumerConfig(filter_subject=subject or None, max_ack_pending=1)
    sub = await conn.js().pull_subscribe(subject, durable=durable, stream=stream, config=config)
    (msg,) = await sub.fetch(1, timeout=5)
    await msg.ack()
    return msg.data


async def test_a_province_publishes_under_its_own_subjects_only(single_bus: NatsDeployment) -> None:
    admin = await ensure(single_bus)
    tinh40 = await connect(single_bus.url("tinh-40"))
    try:
        ack = await tinh40.js().publish(f"kc.tinh-40.{REGISTERED}", b"{}", headers={"Nats-Msg-Id": "tinh-40:a:1"})
        assert ack.stream == "KC_TINH_40"
        assert (
            await tinh40.js().publish(f"kc.tinh-40.{REGISTERED}", b"{}", headers={"Nats-Msg-Id": "tinh-40:a:1"})
        ).duplicate

        await refused_publish(tinh40, f"kc.tinh-31.{REGISTERED}")
        await refused_publish(tinh40, "kc.bo.planning.plan.approved.v1")
        await refused_publish(tinh40, "kcdlq.tinh-31.appraisal-beneficiaries-tinh-31")
        # nor around the permissions, through the JetStream API: no changing, deleting or reading others' streams
        for call in (
            lambda js: js.delete_stream("KC_BO"),
            lambda js: js.purge_stream("KC_TINH_40"),
            lambda js: js.stream_info("KC_TINH_31"),
            lambda js: js.add_consumer("KC_TINH_31", ConsumerConfig(durable_name="tinh-40--spy", name="tinh-40--spy")),
        ):
            with pytest.raises(REFUSED):
                await call(tinh40.js(timeout=0.5))
        assert tinh40.refused_subjects() >= {
            "$js.api.stream.delete.kc_bo",
            "$js.api.stream.purge.kc_tinh_40",
            "$js.api.stream.info.kc_tinh_31",
            "$js.api.consumer.create.kc_tinh_31.tinh-40--spy",
        }
        assert await counts(admin) == {"KC_BO": 0, "KC_TINH_40": 1, "KC_TINH_31": 0}

        # its dead letters go to its own dead-letter stream; it reads the ministry's stream and its own
        await tinh40.js().publish("kcdlq.tinh-40.appraisal-plans-bo", b"bad", headers={"Nats-Msg-Id": "dlq:1"})
        assert await count(admin, "KCDLQ_TINH_40") == 1
        await admin.js().publish("kc.bo.planning.plan.approved.v1", b'{"plan": 1}', headers={"Nats-Msg-Id": "bo:p:1"})
        assert await read_one(tinh40, "KC_BO", "tinh-40--appraisal-plans-bo") == b'{"plan": 1}'
        assert await read_one(tinh40, "KC_TINH_40", "tinh-40--own") == b"{}"
        info = await admin.js().consumer_info("KC_BO", "tinh-40--appraisal-plans-bo")
        assert info.ack_floor.stream_seq == 1 and info.num_ack_pending == 0  # the ack crossed the account boundary
    finally:
        await tinh40.nc.close()
        await admin.nc.close()


async def test_the_integrator_publishes_nothing_and_reads_the_ministry_only(single_bus: NatsDeployment) -> None:
    admin = await ensure(single_bus)
    integrator = await connect(single_bus.url(INTEGRATOR))
    try:
        for subject in ("kc.bo.planning.plan.approved.v1", f"kc.tinh-40.{REGISTERED}", "kc.integrator.anything.v1"):
            await refused_publish(integrator, subject)
        await admin.js().publish("kc.bo.planning.plan.approved.v1", b'{"plan": 2}', headers={"Nats-Msg-Id": "bo:p:2"})
        await admin.js().publish(f"kc.tinh-40.{REGISTERED}", b"{}", headers={"Nats-Msg-Id": "tinh-40:b:1"})
        data = await read_one(integrator, "KC_BO", "integrator-example", "kc.bo.planning.plan.approved.v1")
        assert data == b'{"plan": 2}'
        with pytest.raises(REFUSED):  # a province's stream is not the integrator's to read
            await integrator.js(timeout=0.5).pull_subscribe("", durable="integrator-x", stream="KC_TINH_40")
        assert await counts(admin) == {"KC_BO": 1, "KC_TINH_40": 1, "KC_TINH_31": 0}
    finally:
        await integrator.nc.close()
        await admin.nc.close()


async def test_the_auditor_reads_everything_and_publishes_nothing(single_bus: NatsDeployment) -> None:
    admin = await ensure(single_bus)
    auditor = await connect(single_bus.url(AUDITOR))
    try:
        await admin.js().publish(f"kc.tinh-31.{REGISTERED}", b"31", headers={"Nats-Msg-Id": "tinh-31:c:1"})
        await admin.js().publish("kcdlq.tinh-31.x", b"dead", headers={"Nats-Msg-Id": "dlq:31"})
        assert await read_one(auditor, "KC_TINH_31", "auditor-replay") == b"31"
        assert await read_one(auditor, "KCDLQ_TINH_31", "auditor-dead-letters") == b"dead"
        assert (await auditor.js().get_msg("KC_TINH_31", 1)).data == b"31"  # message by sequence, as a replay does
        await refused_publish(auditor, f"kc.tinh-31.{REGISTERED}")
        await refused_publish(auditor, "kc.bo.planning.plan.approved.v1")
        with pytest.raises(REFUSED):
            await auditor.js(timeout=0.5).delete_stream("KC_TINH_31")
        assert await count(admin, "KC_TINH_31") == 1
    finally:
        await auditor.nc.close()
        await admin.nc.close()


async def test_the_ministry_reads_a_province_and_publishes_as_the_ministry(single_bus: NatsDeployment) -> None:
    admin = await ensure(single_bus)
    bo = await connect(single_bus.url("bo"))
    try:
        await admin.js().publish(f"kc.tinh-40.{REGISTERED}", b"40", headers={"Nats-Msg-Id": "tinh-40:d:1"})
        assert await read_one(bo, "KC_TINH_40", "bo--appraisal-beneficiaries-tinh-40", "kc.tinh-40.registry.>") == b"40"
        assert (
            await bo.js().publish("kc.bo.planning.plan.approved.v1", b"{}", headers={"Nats-Msg-Id": "bo:e"})
        ).seq == 1
        await refused_publish(bo, f"kc.tinh-40.{REGISTERED}")
        assert await counts(admin) == {"KC_BO": 1, "KC_TINH_40": 1, "KC_TINH_31": 0}
    finally:
        await bo.nc.close()
        await admin.nc.close()


async def test_services_run_under_their_instance_credentials(
    single_bus: NatsDeployment, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    """A province's registry, the province's and the ministry's appraisal, each logged in as its instance."""
    admin = await ensure(single_bus)
    registry = registry_app(make_settings("registry", nats_url=single_bus.url("tinh-40")))
    local = appraisal_app(make_settings("appraisal", nats_url=single_bus.url("tinh-40")))
    ministry = appraisal_app(
        make_settings("appraisal", instance="bo", peers=["tinh-40"], nats_url=single_bus.url("bo"))
    )
    try:
        async with (
            registry.router.lifespan_context(registry),
            local.router.lifespan_context(local),
            ministry.router.lifespan_context(ministry),
        ):
            await eventually(lambda: all(a.state.runtime.bus_started for a in (registry, local, ministry)))
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=registry),
                base_url="http://r",
                headers=officer(registry.state.runtime.settings),
            ) as http:
                created = await http.post(
                    "/establishments",
                    json={
                        "name": "Cơ sở đúc đồng Đông Hà",
                        "tax_code": "0100112437",
                        "legal_form": "ho_kinh_doanh",
                        "commune_code": "17419",
                        "sectors": ["co_khi_che_tao"],
                    },
                )
            assert created.status_code == 201, created.text
            eid = UUID(created.json()["id"])
            await eventually(lambda: local.state.beneficiaries.facts(eid) is not None, timeout=15)
            await eventually(lambda: ministry.state.beneficiaries.facts(eid) is not None, timeout=15)
        assert await count(admin, "KCDLQ_TINH_40") == 0 and await count(admin, "KCDLQ_BO") == 0
        # the auditor, with the auditor's credentials only, replays and verifies the province's stream
        trust = str(registry.state.runtime.settings.trust_path)
        audit = await asyncio.to_thread(
            subprocess.run,
            [KC, "audit", "verify", "-i", "tinh-40", "--nats-url", single_bus.url(AUDITOR), "--trust", trust],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert audit.returncode == 0, audit.stdout + audit.stderr
        published = await count(admin, "KC_TINH_40")
        assert published >= 1 and f"all {published} verified" in audit.stdout
    finally:
        await admin.nc.close()
