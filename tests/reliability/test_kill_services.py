"""Scenario 1: SIGKILL each service process at random moments during a 10,000-command load.

A province (registry, appraisal, planning, notifications) and the ministry's planning, each a real
process; a seeded schedule SIGKILLs every one of them twice at random moments while commands flow
over real HTTP, restarts it after a random pause, and the load carries on (a command whose answer
was lost is resolved by asking the service, see ``Ledger``). Afterwards every view must equal a
clean rebuild from the bus and no event may be missing or applied twice.

``KC_RELIABILITY_COMMANDS`` (default 10,000) and ``KC_RELIABILITY_SEED`` (default: random, printed)
replay a run.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable

import pytest
from reliability_harness import (
    FAST_REDELIVERY,
    PEERS,
    PROVINCE,
    TOPOLOGY,
    Load,
    System,
    assert_no_crash,
    check_everything,
    seed_from_env,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(900)]

COMMANDS = int(os.environ.get("KC_RELIABILITY_COMMANDS", "10000"))
KILLS_PER_SERVICE = 2


async def test_sigkill_every_service_during_load_loses_and_duplicates_nothing(
    system: Callable[..., System],
) -> None:
    seed = seed_from_env()
    print(f"\nseed {seed} (KC_RELIABILITY_SEED={seed} replays this schedule), {COMMANDS} commands")
    rng = random.Random(seed)
    s = system(TOPOLOGY, peers=PEERS, env=FAST_REDELIVERY)
    began = time.monotonic()
    await asyncio.to_thread(s.start)
    print(f"started {len(s.services)} services in {time.monotonic() - began:.1f}s")

    # the schedule: every service twice, at random points of the load, in random order
    victims = [key for key in s.services for _ in range(KILLS_PER_SERVICE)]
    rng.shuffle(victims)
    points = sorted(rng.uniform(0.03, 0.85) * COMMANDS for _ in victims)
    schedule = [
        (int(at), key, rng.uniform(0.0, 0.4), rng.uniform(0.3, 2.5)) for at, key in zip(points, victims, strict=True)
    ]
    load = Load(s, seed=seed, concurrency=16)
    kills: Counter[str] = Counter()
    killed_at: list[int] = []
    restarts: list[asyncio.Task[float]] = []

    async def chaos() -> None:
        for at, key, jitter, downtime in schedule:
            await load.reached(at)
            await asyncio.sleep(jitter)
            await asyncio.to_thread(s.kill, key)
            kills[key] += 1
            killed_at.append(load.ledger.commands)
            print(f"  SIGKILL {key:<22} after {killed_at[-1]:>5} commands; restart {downtime:.1f}s later")
            await asyncio.sleep(downtime)
            s.spawn(key)
            restarts.append(asyncio.create_task(s.time_to_ready(key)))

    chaos_task = asyncio.create_task(chaos())
    ledger = await load.run(COMMANDS)
    await chaos_task
    ready_after = await asyncio.gather(*restarts)
    print(f"load: {ledger.summary()}")
    print(f"restart to ready: mean {sum(ready_after) / len(ready_after):.1f}s, max {max(ready_after):.1f}s")
    await asyncio.to_thread(s.wait_ready)

    assert set(kills) == set(s.services) and sum(kills.values()) == len(victims)
    assert ledger.commands >= COMMANDS
    assert max(killed_at) < ledger.commands, "a kill came after the load: it tested nothing"
    assert ledger.ambiguous > 0, "no command was caught by a kill: the schedule tested nothing"
    report = await check_everything(s, ledger)
    print(f"check: {report.line()}")
    assert_no_crash(s, kills)
    assert report.views["planning.establishments"] == len(ledger.establishments)
    assert report.views[f"{PROVINCE}/planning.programme"] == report.views["bo/planning.programme"]
    print(
        f"SIGKILL: {ledger.commands} commands, {sum(kills.values())} kills, {ledger.ambiguous} answers lost and "
        f"resolved, {report.bus_messages} events, {report.bus_messages - report.unique_ids} duplicates, digest equal"
    )
