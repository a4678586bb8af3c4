"""Scenario 5: the services' clocks jump forwards and backwards while commands flow.

Every service of the province and the ministry's planning runs under ``reliability_clock`` (their
event timestamps and their own ``datetime.now``/``date.today`` shifted by an offset the test changes
while they run). During the load the clock jumps 75 years ahead, to the day a deadline reminder of a
plan calendar is due; back to three days before today (time runs backwards); to that same day again;
and back to real time. Events are then stamped out of order in time, and the notifications scheduler
sees its "today" go back and come again. Afterwards: each event exactly once and in outbox order (order
is the bus sequence, never the timestamp), every view equal to a clean rebuild, and the reminder of
that day queued exactly once although the scheduler ran on that day twice, with time going backwards
in between.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from kc_contracts.subjects import stream_name
from kc_notifications.domain.reminders import before
from kc_notifications.scheduler import is_holiday, reminder_rules
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
    read_sqlite,
    read_stream,
    seed_from_env,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(900)]

COMMANDS = int(os.environ.get("KC_RELIABILITY_CLOCK_COMMANDS", "2000"))
NOTIFICATIONS = f"{PROVINCE}/notifications"
YEAR = 2101  # the reminder's calendar: outside the load's years (2030-2099)
DEADLINE = date(YEAR - 1, 3, 10)
RECIPIENT = "don-vi:kiem-thu-dong-ho"
SCHEDULER = {"KC_SCHEDULER_INTERVAL_SECONDS": "0.5"}


def noon_on(day: date) -> timedelta:
    """The offset that puts a shifted clock at noon (UTC) on ``day`` (whatever the real time of day)."""
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC) - datetime.now(UTC)


async def scheduler_ran_on(s: System, day: date, ticks: int = 3) -> None:
    """Until the scheduler has ticked ``ticks`` more times, the last on ``day``."""
    start, _ = s.clock_reads(NOTIFICATIONS)

    def ran() -> bool:
        count, moment = s.clock_reads(NOTIFICATIONS)
        return count >= start + ticks and moment[:10] == day.isoformat()

    await eventually(ran, timeout=120, what=f"the scheduler running on {day}")


def reminders(s: System) -> list[tuple[str, str]]:
    return read_sqlite(
        s.sqlite(NOTIFICATIONS), "SELECT source_key, recipient FROM notifications WHERE source_key LIKE 'nhac:%'"
    )  # type: ignore[return-value]


async def test_clock_jumps_change_no_order_lose_nothing_and_remind_once(system: Callable[..., System]) -> None:
    seed = seed_from_env()
    rule = reminder_rules().on(DEADLINE).params
    due_day = before(DEADLINE, rule.lead_days[1], working_days=rule.working_days, is_holiday=is_holiday)
    print(
        f"\nseed {seed}; {COMMANDS} commands; clock jumps to {due_day} (a reminder of {DEADLINE} is due), back, again"
    )
    s = system(
        TOPOLOGY,
        peers=PEERS,
        env=FAST_REDELIVERY,
        service_env={NOTIFICATIONS: SCHEDULER},
        clocked=[*(f"{PROVINCE}/{n}" for n in TOPOLOGY[PROVINCE]), "bo/planning"],
    )
    s.set_clock(timedelta(0))
    await asyncio.to_thread(s.start)

    # who must register by the deadline, and the calendar whose deadline it is
    async with httpx.AsyncClient(timeout=60, headers=s.headers()) as http:
        r = await http.put(
            f"{s.url(NOTIFICATIONS)}/recipients/{RECIPIENT}",
            json={
                "name": "Đơn vị kiểm thử đồng hồ",
                "email": "dongho@example.vn",
                "role": "don_vi_dang_ky",
                "scope": PROVINCE,
            },
        )
        assert r.status_code == 200, r.text
        r = await http.put(
            f"{s.url(f'{PROVINCE}/planning')}/calendars/dia_phuong/{YEAR}",
            json={
                "registration_deadline": DEADLINE.isoformat(),
                "dossier_deadline": f"{YEAR - 1}-09-30",
                "legal_basis": "Kế hoạch kiểm thử đồng hồ",
                "reason": "lịch kiểm thử",
            },
        )
        assert r.status_code == 200, r.text
    load = Load(s, seed=seed, concurrency=16)
    load.ledger.calendars[YEAR] = [DEADLINE.isoformat()]
    calendar_key = f"dia_phuong:{PROVINCE}:{YEAR}"
    await eventually(
        lambda: read_sqlite(s.sqlite(NOTIFICATIONS), "SELECT 1 FROM calendars WHERE calendar = ?", (calendar_key,)),
        timeout=120,
        what="notifications knowing the calendar",
    )
    assert reminders(s) == []

    phase = {"label": "real"}
    load.condition = lambda: phase["label"]
    found: dict[str, object] = {}

    async def jumps() -> None:
        plan = [
            (0.2, "+75y", noon_on(due_day)),
            (0.4, "-3d", timedelta(days=-3)),
            (0.6, "+75y again", noon_on(due_day)),
            (0.8, "real", timedelta(0)),
        ]
        for at, label, offset in plan:
            await load.reached(int(at * COMMANDS))
            s.set_clock(offset)
            phase["label"] = label
            print(f"  clock {label:<10} (offset {offset.days:+d} days) after {load.ledger.commands} commands")
            if label.startswith("+75y"):
                await scheduler_ran_on(s, due_day)
                await eventually(lambda: len(reminders(s)) >= 1, timeout=60, what="the reminder queued")
                found[label] = reminders(s)
                print(f"    scheduler ran on {due_day}: reminders {found[label]}")
            elif label == "-3d":
                await scheduler_ran_on(s, (datetime.now(UTC) + offset).date())

    fault = asyncio.create_task(jumps())
    ledger = await load.run(COMMANDS)
    await fault
    print(f"load: {ledger.summary()}")
    print(f"commands accepted under each clock: {dict(ledger.accepted_while)}")
    for label in ("+75y", "-3d", "+75y again", "real"):
        assert any(k.startswith(f"{label}/") for k in ledger.accepted_while), f"no command under the clock {label}"

    # the reminder: once, to the one who has to register, though the scheduler ran on its day twice
    assert found["+75y"] == found["+75y again"] == reminders(s)
    assert [recipient for _, recipient in reminders(s)] == [RECIPIENT]

    # the jumps are in the events: stamped in 2100, and earlier than the event before them on the bus
    bus = await read_stream(s.nats_url, stream_name(PROVINCE))
    times = [datetime.fromisoformat(m.envelope["time"]) for m in bus]
    years = Counter(t.year for t in times)
    backwards = sum(1 for a, b in itertools.pairwise(times) if b < a)
    print(f"event times on the bus by year: {dict(sorted(years.items()))}; {backwards} steps back in time")
    assert years[due_day.year] > 0 and backwards > 0, "the jumps did not reach the events"

    await asyncio.to_thread(s.wait_ready)
    report = await check_everything(s, ledger)
    print(f"check: {report.line()}")
    assert_no_crash(s)
    print(
        f"clock jumps: {ledger.commands} commands, {report.bus_messages} events, "
        f"{report.bus_messages - report.unique_ids} duplicates, 1 reminder queued once, digest equal"
    )
