"""Scenario 2: NATS stops for 30 s during the load, then comes back on the same store and port.

While it is down, commands are still accepted (HTTP 2xx: they land in the services' event stores)
and the services say they are not ready; when it is back, every relay publishes what it holds, in
outbox order, and every consumer catches up: each event exactly once, every view equal to a clean
rebuild from the bus.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import httpx
import pytest
from reliability_harness import (
    FAST_REDELIVERY,
    PEERS,
    TOPOLOGY,
    Load,
    System,
    assert_no_crash,
    check_everything,
    eventually,
    seed_from_env,
    stream_count,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(900)]

COMMANDS = int(os.environ.get("KC_RELIABILITY_OUTAGE_COMMANDS", "3000"))
OUTAGE_S = 30.0
AFTER_RESTART = 300  # commands that must still be carried out once NATS is back


async def test_commands_are_accepted_while_nats_is_down_and_arrive_in_order_exactly_once(
    system: Callable[..., System],
) -> None:
    seed = seed_from_env()
    print(f"\nseed {seed}; NATS down for {OUTAGE_S:.0f}s during at least {COMMANDS} commands")
    s = system(TOPOLOGY, peers=PEERS, env=FAST_REDELIVERY)
    await asyncio.to_thread(s.start)
    load = Load(s, seed=seed, concurrency=16)
    phase = {"down": False, "over": False}
    load.condition = lambda: "nats-down" if phase["down"] else None
    load.keep_going = lambda: not phase["over"]
    seen: dict[str, object] = {}

    async def outage() -> None:
        await load.reached(COMMANDS // 10)
        seen["before"] = await stream_count(s.nats_url, "KC_TINH_40")
        await asyncio.to_thread(s.stop_nats)
        began, at = time.monotonic(), load.ledger.commands
        phase["down"] = True

        async def not_ready() -> bool:
            async with httpx.AsyncClient(timeout=5) as http:
                answers = [(await http.get(f"{svc.url}/readyz")) for svc in s.services.values()]
            return all(a.status_code == 503 and a.json()["checks"]["nats"] is False for a in answers)

        await eventually(not_ready, timeout=OUTAGE_S, what="every service reporting NATS down")
        seen["not_ready_after_s"] = time.monotonic() - began
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - began)))  # the outage itself
        phase["down"] = False
        seen["during"] = load.ledger.commands - at
        await asyncio.to_thread(s.start_nats)
        seen["outage_s"] = time.monotonic() - began
        await load.reached(load.ledger.commands + AFTER_RESTART)
        phase["over"] = True

    fault = asyncio.create_task(outage())
    ledger = await load.run(COMMANDS)
    await fault
    print(f"load: {ledger.summary()}")
    print(
        f"NATS down {seen['outage_s']:.1f}s; every service reported it after {seen['not_ready_after_s']:.1f}s; "
        f"{seen['during']} commands accepted meanwhile: {dict(ledger.accepted_while)}"
    )

    # accepted while NATS was down: every kind of command, and plenty of them
    for kind in ("register", "de_an", "calendar"):
        assert ledger.accepted_while[f"nats-down/{kind}"] > 0, f"no {kind} command accepted while NATS was down"
    assert sum(ledger.accepted_while.values()) >= 100
    await asyncio.to_thread(s.wait_ready)
    report = await check_everything(s, ledger)
    print(f"check: {report.line()}")
    assert report.bus_messages > int(str(seen["before"]))
    assert_no_crash(s)
    print(
        f"NATS outage: {ledger.commands} commands ({seen['during']} while NATS was down), {report.bus_messages} "
        f"events, {report.bus_messages - report.unique_ids} duplicates, digest equal"
    )
