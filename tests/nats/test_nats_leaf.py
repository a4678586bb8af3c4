"""deploy/nats/leaf: Nghệ An's leaf node joined to the ministry's hub; the hub decides what crosses.

The leaf's own configuration lets its local clients publish anything: what reaches the hub is held to the
TINH_40 account's imports and permissions there, which is what these tests check.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import httpx
import pytest
from kc_appraisal.main import create_app as appraisal_app
from kc_ops.natsconfig import NatsDeployment
from kc_registry.main import create_app as registry_app
from kc_testing.fixtures import SettingsFactory, eventually
from nats.js.api import ConsumerConfig
from natshelp import REFUSED, connect, count, counts, ensure, officer

pytestmark = pytest.mark.timeout(60)

PROVINCE = "tinh-40"


@pytest.fixture
def store() -> str:
    return "sqlite"


async def test_a_leaf_client_lands_in_the_hubs_stream_for_its_own_subjects_only(hub_leaf: NatsDeployment) -> None:
    admin = await ensure(hub_leaf)
    leaf = await connect(hub_leaf.url(PROVINCE, nodes=[PROVINCE]))
    try:
        ack = await leaf.js().publish(
            "kc.tinh-40.registry.establishment.registered.v1", b"from the leaf", headers={"Nats-Msg-Id": "tinh-40:l:1"}
        )
        assert (ack.stream, ack.domain) == ("KC_TINH_40", "kc")
        assert (await admin.js().get_msg("KC_TINH_40", ack.seq)).data == b"from the leaf"

        for subject in ("kc.tinh-31.registry.establishment.registered.v1", "kc.bo.planning.plan.approved.v1"):
            with pytest.raises(REFUSED):
                await leaf.js(timeout=0.5).publish(
                    subject, b"forged", headers={"Nats-Msg-Id": f"x:{subject}"}, timeout=0.5
                )
            await leaf.nc.publish(subject, b"forged, core publish")  # not even fire-and-forget gets through
        await leaf.nc.flush()
        with pytest.raises(REFUSED):
            await leaf.js(timeout=0.5).delete_stream("KC_BO")
        await asyncio.sleep(0.5)
        assert await counts(admin) == {"KC_BO": 0, "KC_TINH_40": 1, "KC_TINH_31": 0}

        # and it reads the ministry's stream through the leaf, acks included
        await admin.js().publish("kc.bo.planning.plan.approved.v1", b"plan", headers={"Nats-Msg-Id": "bo:p:1"})
        sub = await leaf.js().pull_subscribe(
            "kc.bo.planning.plan.approved.v1",
            durable="tinh-40--appraisal-plans-bo",
            stream="KC_BO",
            config=ConsumerConfig(max_ack_pending=1),
        )
        (msg,) = await sub.fetch(1, timeout=5)
        assert msg.data == b"plan"
        await msg.ack()
        await eventually(
            lambda: _acked(admin.js(), "KC_BO", "tinh-40--appraisal-plans-bo"),
            timeout=5,
        )
    finally:
        await leaf.nc.close()
        await admin.nc.close()


async def _acked(js: object, stream: str, consumer: str) -> bool:
    info = await js.consumer_info(stream, consumer)  # type: ignore[attr-defined]
    return bool(info.ack_floor.stream_seq == 1 and info.num_ack_pending == 0)


async def test_the_provinces_services_work_through_their_leaf(
    hub_leaf: NatsDeployment, make_settings: SettingsFactory
) -> None:
    """Registry and appraisal of tinh-40 connected to the leaf only: the outbox relay and a durable consumer."""
    admin = await ensure(hub_leaf)
    url = hub_leaf.url(PROVINCE, nodes=[PROVINCE])
    registry = registry_app(make_settings("registry", nats_url=url))
    appraisal = appraisal_app(make_settings("appraisal", nats_url=url))
    try:
        async with registry.router.lifespan_context(registry), appraisal.router.lifespan_context(appraisal):
            await eventually(lambda: registry.state.runtime.bus_started and appraisal.state.runtime.bus_started)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=registry),
                base_url="http://r",
                headers=officer(registry.state.runtime.settings),
            ) as http:
                created = await http.post(
                    "/establishments",
                    json={
                        "name": "Cơ sở chế biến chè Thanh Chương",
                        "tax_code": "040201001234",
                        "legal_form": "ho_kinh_doanh",
                        "commune_code": "17419",
                        "sectors": ["che_bien_nong_lam_thuy_san"],
                    },
                )
            assert created.status_code == 201, created.text
            eid = UUID(created.json()["id"])
            await eventually(lambda: appraisal.state.beneficiaries.facts(eid) is not None, timeout=15)
        assert await count(admin, "KC_TINH_40") >= 1
        assert await count(admin, "KCDLQ_TINH_40") == 0
    finally:
        await admin.nc.close()
