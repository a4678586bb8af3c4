"""Scenario 3: a 3-node NATS cluster (``deploy/nats/cluster``) loses a node during the load, twice.

The committed cluster configuration (``kc_ops.natsconfig.cluster``: three routed nats-servers, the
instance accounts) with every stream on three replicas; each service logs in to its instance's
account with the three URLs in ``KC_NATS_URL``. While commands flow over real HTTP, the node leading
the province's stream is SIGKILLed (no goodbye, no flush), the load goes on on the two others, the
node comes back on its store and catches up; then the new leader is killed and restarted the same
way. Afterwards: each event exactly once and in outbox order, every consumer caught up, every view
equal to a clean rebuild from the bus, and every node's replica of the province's stream holding
exactly the events the commands made.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

import nats
import pytest
from kc_contracts.subjects import stream_name
from reliability_harness import (
    FAST_REDELIVERY,
    PEERS,
    PROVINCE,
    TOPOLOGY,
    Load,
    System,
    assert_no_crash,
    check_everything,
    eventually,
    seed_from_env,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(900)]

COMMANDS = int(os.environ.get("KC_RELIABILITY_CLUSTER_COMMANDS", "3000"))
STREAM = stream_name(PROVINCE)
# (kill at, restart at) as fractions of the load
LOSSES = ((0.15, 0.40), (0.55, 0.80))


async def stream_leader(url: str, stream: str) -> str:
    """The node leading ``stream``, asked of the cluster as the operator (waits through an election)."""
    deadline = time.monotonic() + 120
    while True:
        with contextlib.suppress(Exception):  # the node asked was the one killed, no leader yet …
            nc = await nats.connect(url.split(","), connect_timeout=5, max_reconnect_attempts=0)
            try:
                info = await nc.jetstream(timeout=5).stream_info(stream)
                if info.cluster and info.cluster.leader:
                    return str(info.cluster.leader)
            finally:
                await nc.close()
        if time.monotonic() > deadline:
            raise AssertionError(f"{stream} has no leader")
        await asyncio.sleep(0.5)


def replica_states(s: System, stream: str) -> dict[str, tuple[int, int]]:
    """Each running node's own replica of ``stream``: (messages, last sequence), from its monitoring port."""
    assert s.cluster is not None
    out = {}
    for name, server in s.cluster.nodes.items():
        jsz: Any = server.monitor("/jsz?accounts=true&streams=true") if server.running else None
        for account in (jsz or {}).get("account_details") or []:
            for detail in account.get("stream_detail") or []:
                if detail.get("name") == stream:
                    state = detail.get("state") or {}
                    out[name] = (int(state.get("messages", 0)), int(state.get("last_seq", 0)))
    return out


async def test_a_cluster_node_lost_under_load_loses_and_duplicates_nothing(system: Callable[..., System]) -> None:
    seed = seed_from_env()
    print(f"\nseed {seed}; 3-node cluster, R3 streams, {len(LOSSES)} node losses during {COMMANDS} commands")
    s = system(TOPOLOGY, peers=PEERS, env=FAST_REDELIVERY, cluster=True)
    began = time.monotonic()
    await asyncio.to_thread(s.start)
    assert s.cluster is not None
    print(f"started 3 nats-servers and {len(s.services)} services in {time.monotonic() - began:.1f}s")
    load = Load(s, seed=seed, concurrency=16)
    down: list[str] = []
    load.condition = lambda: "node-down" if down else None
    events: list[str] = []

    async def losses() -> None:
        for kill_at, restart_at in LOSSES:
            await load.reached(int(kill_at * COMMANDS))
            victim = await stream_leader(s.nats_url, STREAM)
            s.cluster.kill(victim)  # type: ignore[union-attr]
            down.append(victim)
            at, t0 = load.ledger.commands, time.monotonic()
            new_leader = await stream_leader(s.nats_url, STREAM)
            events.append(
                f"SIGKILL {victim} (leader of {STREAM}) after {at} commands; {new_leader} leads "
                f"{time.monotonic() - t0:.1f}s later"
            )
            print(f"  {events[-1]}")
            await load.reached(int(restart_at * COMMANDS))
            during = load.ledger.commands - at
            t0 = time.monotonic()
            await asyncio.to_thread(s.cluster.restart, victim, 120.0)  # type: ignore[union-attr]
            down.remove(victim)
            events.append(
                f"{victim} back (healthy) {time.monotonic() - t0:.1f}s after its restart; {during} commands meanwhile"
            )
            print(f"  {events[-1]}")

    fault = asyncio.create_task(losses())
    ledger = await load.run(COMMANDS)
    await fault
    print(f"load: {ledger.summary()}")
    print(f"accepted while a node was down: {dict(ledger.accepted_while)}")
    for kind in ("register", "de_an"):
        assert ledger.accepted_while[f"node-down/{kind}"] > 0, f"no {kind} command while a node was down"

    await asyncio.to_thread(s.cluster.wait_healthy, 120.0)
    await asyncio.to_thread(s.wait_ready)
    report = await check_everything(s, ledger)
    print(f"check: {report.line()}")

    # every node's own copy of the province's stream: the same events, none missing on the restarted ones
    expected = report.bus_messages

    def replicas_complete() -> bool:
        states = replica_states(s, STREAM)
        return len(states) == 3 and all(n == expected for n, _ in states.values()) and len(set(states.values())) == 1

    await eventually(replicas_complete, timeout=120, what=f"each node holding {expected} events of {STREAM}")
    print(f"replicas of {STREAM} (messages, last seq): {replica_states(s, STREAM)}")
    assert_no_crash(s)
    print(
        f"cluster: {ledger.commands} commands, {report.bus_messages} events on the bus, "
        f"{report.bus_messages - report.unique_ids} duplicates, digest equal after {len(LOSSES)} node losses"
    )
