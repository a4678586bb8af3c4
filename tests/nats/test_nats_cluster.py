"""deploy/nats/cluster: R3 streams on three nodes; real services keep going while one node is SIGKILLed.

Tinh-40's registry and appraisal run in-process, logged in as tinh-40 with the three URLs. While 150
establishments are registered, the node leading KC_TINH_40 is killed (no goodbye, no flush), the posting goes
on, and the node comes back later. Every registration must be in the stream exactly once and in appraisal's
beneficiaries view exactly once.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from uuid import UUID

import httpx
import pytest
import structlog
from kc_appraisal.main import create_app as appraisal_app
from kc_contracts import Envelope
from kc_ops.natsconfig import NatsDeployment
from kc_registry.main import create_app as registry_app
from kc_testing.fixtures import SettingsFactory, eventually
from natshelp import Conn, ensure, officer

log = structlog.get_logger("tests.nats.cluster")

COUNT = 150
KILL_AT = 50
RESTART_AT = 100
INSTANCES = ("bo", "tinh-40")


@pytest.fixture
def store() -> str:
    """SQLite only: the PostgreSQL variant tests the store, not the bus, and would double the suite's time."""
    return "sqlite"


def establishment(i: int) -> dict[str, Any]:
    return {
        "name": f"Cơ sở cơ khí số {i}",
        "tax_code": f"0402{i:08d}",  # 12 digits: a personal identification number, no check digit
        "legal_form": "ho_kinh_doanh",
        "commune_code": "17419",
        "sectors": ["co_khi_che_tao"],
    }


async def stream_leader(admin: Conn, stream: str) -> str:
    deadline = time.monotonic() + 15
    while True:
        info = await admin.js().stream_info(stream)
        if info.cluster and info.cluster.leader:
            return str(info.cluster.leader)
        if time.monotonic() > deadline:
            raise AssertionError(f"{stream} has no leader")
        await asyncio.sleep(0.1)


def connected_node(bus: NatsDeployment, app: Any) -> str:
    """The node a service's NATS connection is on."""
    port = app.state.runtime.broker._connection.connected_url.port
    return next(name for name, server in bus.nodes.items() if server.port == port)


async def move_leader(admin: Conn, stream: str, node: str) -> str:
    """Ask the stream's leader to step down in favour of ``node`` (nats-server >= 2.11); return the new leader."""
    if await stream_leader(admin, stream) != node:
        await admin.nc.request(
            f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", json.dumps({"placement": {"preferred": node}}).encode(), 5
        )
        await eventually(lambda: _leader_is(admin, stream, node), timeout=15)
    return await stream_leader(admin, stream)


async def _leader_is(admin: Conn, stream: str, node: str) -> bool:
    info = await admin.js().stream_info(stream)
    return bool(info.cluster and info.cluster.leader == node)


async def registered_in_stream(admin: Conn) -> tuple[list[str], list[str]]:
    """(Nats-Msg-Id of every message, establishment ids of the registrations) in KC_TINH_40."""
    js = admin.js()
    info = await js.stream_info("KC_TINH_40")
    msg_ids, establishments = [], []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg("KC_TINH_40", seq)
        msg_ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
        envelope = Envelope.from_json(msg.data)
        if envelope.type == "kc.registry.establishment.registered.v1":
            establishments.append(str(envelope.data["establishment_id"]))
    return msg_ids, establishments


@pytest.mark.timeout(150)
async def test_services_lose_nothing_and_duplicate_nothing_when_a_node_dies(
    cluster_bus: NatsDeployment, make_settings: SettingsFactory
) -> None:
    admin = await ensure(cluster_bus, replicas=3, instances=INSTANCES)
    info = await admin.js().stream_info("KC_TINH_40")
    assert info.config.num_replicas == 3 and info.cluster is not None and len(info.cluster.replicas or []) == 2
    url = cluster_bus.url("tinh-40")
    registry = registry_app(make_settings("registry", nats_url=url))
    appraisal = appraisal_app(make_settings("appraisal", nats_url=url))
    inbox = next(
        s.inbox for s in appraisal.state.runtime.subscriptions if s.inbox.name == "appraisal-beneficiaries-tinh-40"
    )
    ids: list[str] = []
    try:
        async with registry.router.lifespan_context(registry), appraisal.router.lifespan_context(appraisal):
            await eventually(lambda: registry.state.runtime.bus_started and appraisal.state.runtime.bus_started)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=registry),
                base_url="http://r",
                headers=officer(registry.state.runtime.settings),
            ) as http:
                victim = ""
                for i in range(COUNT):
                    if i == KILL_AT:
                        await eventually(lambda: len(ids) - inbox.stats.applied < 10, timeout=30)  # mid-stream
                        # the worst node to lose: the registry's connection and KC_TINH_40's leader
                        victim = await move_leader(admin, "KC_TINH_40", connected_node(cluster_bus, registry))
                        log.info(
                            "killing",
                            node=victim,
                            appraisal_on=connected_node(cluster_bus, appraisal),
                            applied=inbox.stats.applied,
                        )
                        cluster_bus.kill(victim)
                    if i == RESTART_AT:
                        # two nodes carry on alone: everything posted during the outage is consumed before the restart
                        await eventually(lambda: inbox.stats.applied >= RESTART_AT, timeout=45)
                        log.info("restarting", node=victim, applied=inbox.stats.applied)
                        await asyncio.to_thread(cluster_bus.restart, victim)
                        log.info("restarted", node=victim, applied=inbox.stats.applied)
                    created = await http.post("/establishments", json=establishment(i))
                    assert created.status_code == 201, created.text
                    ids.append(created.json()["id"])
                    await asyncio.sleep(0.01)  # a steady stream of commands, not one burst

            await eventually(lambda: inbox.stats.applied >= COUNT, timeout=60)
            await asyncio.sleep(1.0)  # time for a late redelivery to show up as a second effect, if any
            applied, duplicates = inbox.stats.applied, inbox.stats.duplicates
            view = appraisal.state.beneficiaries
            with view.store.transaction(commit=False) as cur:
                rows = cur.execute("SELECT establishment_id FROM beneficiaries").fetchall()
            missing = [eid for eid in ids if view.facts(UUID(eid)) is None]

        msg_ids, in_stream = await registered_in_stream(admin)
        log.info("done", victim=victim, applied=applied, redelivered_duplicates=duplicates, stream=len(msg_ids))
    finally:
        await admin.nc.close()

    assert len(set(ids)) == COUNT
    # the stream: each registration exactly once (the relay's retries were deduplicated by Nats-Msg-Id)
    assert len(msg_ids) == len(set(msg_ids)), "a message id appears twice in KC_TINH_40"
    assert sorted(in_stream) == sorted(ids)
    # the consumer: each registration's effect exactly once
    assert missing == []
    assert applied == COUNT
    assert sorted(r["establishment_id"] for r in rows) == sorted(ids)
