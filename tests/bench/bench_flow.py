"""Bus benchmark on the whole system (``make run`` as real processes), next to the raw limits measured
in the same run on the same machine and the same nats-server (ARCHITECTURE §8).

1. Province command → ministry national view updated, open loop at a steady 100 commands/s:
   ``POST <tinh-40 appraisal>/de-an/{id}/submit`` (drafts prepared beforehand) publishes
   ``kc.tinh-40.appraisal.de-an.submitted.v1``; the ministry's planning service (``bo``) consumes it
   (``planning-programme-tinh-40``) into the programme table behind ``GET /views/national``.
   Latency = from the command's *scheduled* send time (open loop: a slow answer does not delay the
   next command, so queueing is counted) to the moment the row is committed in the ministry's view
   database. A separate watcher process learns of each commit from inotify on the database's WAL file
   (with a 1 ms fallback tick), confirms it with ``PRAGMA data_version`` and reads the rows added
   since its last look: no HTTP polling of the view, no polling delay beyond that tick. Both
   processes stamp with CLOCK_MONOTONIC. A core NATS subscription on the subject stamps when the
   relay published, which splits the latency into command → published → view.
   Raw limit: a nats-py JetStream publish (with ack, to a file stream) → a pull consumer receives it,
   same server, same pacing.
2. Sustained commands/s on one instance (tinh-40) with consumers keeping up: closed-loop clients
   draft and submit đề án for a fixed time; the consumers' lag (num_pending + num_ack_pending of
   every durable consumer of KC_TINH_40, and the relay's lag: commands accepted − events in the
   stream) is sampled; the rate counts until everything has caught up (commands / (send time +
   drain time)). Raw limit: an eventsourcing Application saving a trivial aggregate in a loop on a
   SQLite file (the services' store settings).

Usage: bench_flow.py [--json PATH] [--rate 100] [--seconds 20] [--load-seconds 15] [--clients 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import functools
import json
import os
import select
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_console  # noqa: E402
from bench_system import SystemUnderTest, measure, start_system  # noqa: E402

HEADERS = {"X-Actor": "bench"}


def authorise(var_dir: Path, instance: str = "tinh-40", role: str = "so_ct") -> None:
    """Callers carry a signed token where the services check them (``kc_runtime.web.auth``): issue one
    with the instance's own key, as ``python -m kc_ops.tokens issue`` would."""
    try:
        from kc_runtime.keys import key_file, load_signer
        from kc_runtime.web.auth import issue_token
    except ImportError:
        return  # no HTTP authentication in this version: X-Actor only
    signer = load_signer(key_file(var_dir / "keys", instance), instance)
    HEADERS["Authorization"] = f"Bearer {issue_token(signer, sub='bench', role=role, name='bench')}"


SUBMITTED = "kc.tinh-40.appraisal.de-an.submitted.v1"


def ms(ns: float) -> float:
    return round(ns / 1e6, 2)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summary(ns: list[int]) -> dict[str, float]:
    return {
        "n": len(ns),
        "p50_ms": ms(percentile([float(v) for v in ns], 50)),
        "p99_ms": ms(percentile([float(v) for v in ns], 99)),
        "max_ms": ms(max(ns)) if ns else float("nan"),
        "mean_ms": ms(statistics.fmean(ns)) if ns else float("nan"),
    }


# -- the view watcher (a process of its own) ---------------------------------------------------------
IN_MODIFY = 0x2


def watch(db: Path) -> int:
    """Print ``<monotonic ns> <de_an_id> <status>`` for each programme row committed from now on."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    wal = Path(f"{db}-wal")
    if fd < 0 or libc.inotify_add_watch(fd, str(wal).encode(), IN_MODIFY) < 0:
        fd = -1  # no inotify: the 1 ms tick alone
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    version = con.execute("PRAGMA data_version").fetchone()[0]
    top = con.execute("SELECT COALESCE(MAX(rowid), 0) FROM programme").fetchone()[0]
    seen: set[tuple[str, str]] = {
        (de_an_id, status)
        for de_an_id, status in con.execute("SELECT de_an_id, status FROM programme WHERE rowid > ?", (top - 64,))
    }
    print("ready", flush=True)
    out = sys.stdout
    while True:
        ready, _, _ = select.select([fd, sys.stdin] if fd >= 0 else [sys.stdin], [], [], 0.001)
        if sys.stdin in ready and not sys.stdin.readline():
            return 0
        if fd in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(fd, 65536)
        now = con.execute("PRAGMA data_version").fetchone()[0]
        if now == version:
            continue
        stamp = time.monotonic_ns()
        version = now
        # rows are rewritten (DELETE + INSERT) on change: new and changed rows are at the top
        rows = con.execute(
            "SELECT rowid, de_an_id, status FROM programme WHERE rowid > ? ORDER BY rowid", (top - 64,)
        ).fetchall()
        for rowid, de_an_id, status in rows:
            top = max(top, rowid)
            if (de_an_id, status) not in seen:
                seen.add((de_an_id, status))
                out.write(f"{stamp} {de_an_id} {status}\n")
        out.flush()


PG_CHANNEL = "kc_bench_programme"


def pg_watch(dsn: str) -> int:
    """As :func:`watch`, on PostgreSQL: a trigger on the ministry planning's programme table notifies each
    row written (rows are rewritten on change, as on SQLite) and this process stamps each notification as it
    arrives (LISTEN; the notification is delivered when the writing transaction commits)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"LISTEN {PG_CHANNEL}")
        print("ready", flush=True)
        out = sys.stdout
        seen: set[tuple[str, str]] = set()
        stdin = sys.stdin.fileno()
        while True:
            ready, _, _ = select.select([con.fileno(), stdin], [], [], 1.0)
            if stdin in ready and not sys.stdin.readline():
                return 0
            for note in con.notifies(timeout=0, stop_after=0):
                stamp = time.monotonic_ns()
                de_an_id, status = note.payload.split()
                if (de_an_id, status) not in seen:
                    seen.add((de_an_id, status))
                    out.write(f"{stamp} {de_an_id} {status}\n")
            out.flush()


def pg_trigger(dsn: str, schema: str = "kc_bo_planning") -> None:
    """The bench's own trigger on the programme table (its database is the bench's, dropped after)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(
            f"CREATE OR REPLACE FUNCTION {schema}.kc_bench_notify() RETURNS trigger AS $$"
            f" BEGIN PERFORM pg_notify('{PG_CHANNEL}', NEW.de_an_id || ' ' || NEW.status); RETURN NEW; END $$"
            " LANGUAGE plpgsql"
        )
        con.execute(f"DROP TRIGGER IF EXISTS kc_bench_notify ON {schema}.programme")
        con.execute(
            f"CREATE TRIGGER kc_bench_notify AFTER INSERT OR UPDATE ON {schema}.programme"
            f" FOR EACH ROW EXECUTE FUNCTION {schema}.kc_bench_notify()"
        )


class Watcher:
    def __init__(self, db: Path | str) -> None:
        flag = "--pg-watch" if isinstance(db, str) else "--watch"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, flag, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"view watcher did not start: {line!r}")
        self.seen: dict[str, int] = {}  # de_an_id -> first time seen with status da_nop

    async def follow(self) -> None:
        assert self.proc.stdout is not None
        loop = asyncio.get_running_loop()
        stdout = self.proc.stdout
        while True:
            line = await loop.run_in_executor(None, stdout.readline)
            if not line:
                return
            stamp, de_an_id, status = line.split()
            if status == "da_nop":
                self.seen.setdefault(de_an_id, int(stamp))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# -- commands ------------------------------------------------------------------------------------------
def draft_body(i: int) -> dict[str, Any]:
    support = 280_000_000
    return {
        "code": f"KCQG-2024-40-B{i:06d}",
        "title": "Hỗ trợ ứng dụng máy móc chế biến chè cho nhóm cơ sở Nghệ An (bench)",
        "level": "quoc_gia",
        "de_an_type": "kcqg_nhom",
        "plan_year": 2024,
        "implementing_unit": "Trung tâm Khuyến công Nghệ An",
        "activity_contents": ["3"],
        "budget_lines": [
            {
                "cost_item": "Máy móc thiết bị tiên tiến",
                "support_item": "may_moc_thiet_bi",
                "content": "3",
                "total_cost_vnd": 3 * support,
                "support_requested_vnd": support,
                "counterpart_vnd": 2 * support,
            }
        ],
    }


SUBMIT = {"submitted_on": "2023-09-25"}


async def prepare_drafts(http: Any, appraisal: str, first: int, count: int, clients: int = 6) -> list[str]:
    ids: list[str] = [""] * count
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            r = await http.post(f"{appraisal}/de-an", json=draft_body(first + i), headers=HEADERS)
            r.raise_for_status()
            ids[i] = r.json()["id"]

    await asyncio.gather(*(worker() for _ in range(clients)))
    return ids


# -- 1. raw JetStream round trip ------------------------------------------------------------------------
async def raw_round_trip(nats_url: str, rate: float, count: int) -> dict[str, Any]:
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = f"BENCH_RTT_{uuid.uuid4().hex[:6].upper()}"
    subject = f"bench.rtt.{stream.lower()}"
    await js.add_stream(StreamConfig(name=stream, subjects=[subject], storage=StorageType.FILE))
    psub = await js.pull_subscribe(
        subject, durable="rtt", stream=stream, config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=1)
    )
    sent: dict[int, int] = {}
    received: dict[int, int] = {}
    done = asyncio.Event()

    async def consume() -> None:
        while len(received) < count:
            try:
                msgs = await psub.fetch(1, timeout=1.0)
            except nats.errors.TimeoutError:
                continue
            for msg in msgs:
                received[int(msg.data)] = time.monotonic_ns()
                await msg.ack()
        done.set()

    consumer = asyncio.create_task(consume())
    began = time.monotonic_ns()
    interval = int(1e9 / rate)
    tasks = []
    for i in range(count):
        scheduled = began + i * interval
        delay = (scheduled - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        sent[i] = scheduled
        tasks.append(asyncio.create_task(js.publish(subject, str(i).encode(), timeout=5)))
    await asyncio.gather(*tasks)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 10)
    consumer.cancel()
    with contextlib.suppress(BaseException):
        await consumer
    await js.delete_stream(stream)
    await nc.close()
    warm = count // 10
    rtt = [received[i] - sent[i] for i in range(warm, count) if i in received]
    return summary(rtt) | {"lost": count - len(received)}


# -- 2. raw: what one-at-a-time consuming (max_ack_pending=1) costs on the bus alone -----------------------
async def raw_consume(nats_url: str, count: int = 3000) -> dict[str, Any]:
    """Messages/s a nats-py pull consumer takes from a file stream, acknowledging each: one at a time
    (``max_ack_pending=1``, fetch 1, ack, as the services' consumers do) and in batches (fetch 256)."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = f"BENCH_CONSUME_{uuid.uuid4().hex[:6].upper()}"
    subject = f"bench.consume.{stream.lower()}"
    await js.add_stream(StreamConfig(name=stream, subjects=[subject], storage=StorageType.FILE))
    body = b"x" * 1200  # about a signed envelope's size
    acks = [js.publish(subject, body) for _ in range(count)]
    for i in range(0, count, 500):
        await asyncio.gather(*acks[i : i + 500])
    out: dict[str, Any] = {"messages": count}
    for label, max_ack, batch in (("one_at_a_time", 1, 1), ("batched", 1000, 256)):
        psub = await js.pull_subscribe(
            subject,
            durable=f"raw-{label}".replace("_", "-"),
            stream=stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=max_ack),
        )
        got, began = 0, time.perf_counter()
        while got < count:
            for msg in await psub.fetch(batch, timeout=5.0):
                json.dumps(msg.metadata.sequence.stream)  # touch the metadata, as the inbox does
                await msg.ack()
                got += 1
        out[f"{label}_per_s"] = round(got / (time.perf_counter() - began))
    await js.delete_stream(stream)
    await nc.close()
    return out


# -- 1. province command → ministry national view --------------------------------------------------------
async def command_to_view(sut: SystemUnderTest, rate: float, seconds: float) -> dict[str, Any]:
    import httpx

    appraisal = sut.url("tinh-40/appraisal")
    warm = int(rate * 2)
    count = int(rate * seconds) + warm
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    # open loop: commands wait for a connection as long as it takes (that wait is part of the latency)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, pool=None), limits=limits) as http:
        prep_began = time.monotonic()
        ids = await prepare_drafts(http, appraisal, 0, count)
        prep_s = time.monotonic() - prep_began
        await asyncio.sleep(2.0)  # let the relay and the consumers settle after the drafts

        if sut.database:
            pg_trigger(sut.database_url)
            watcher = Watcher(sut.database_url)
        else:
            watcher = Watcher(sut.var_dir / "bo" / "planning.sqlite")
        follower = asyncio.create_task(watcher.follow())
        scheduled: dict[str, int] = {}
        answered: dict[str, int] = {}
        failed: list[str] = []
        behind_ns = 0

        async def submit(de_an_id: str) -> None:
            try:
                r = await http.post(f"{appraisal}/de-an/{de_an_id}/submit", json=SUBMIT, headers=HEADERS)
            except httpx.HTTPError as exc:  # an overloaded service: counted, the run goes on
                failed.append(repr(exc))
                return
            answered[de_an_id] = time.monotonic_ns()
            if r.status_code != 200:
                failed.append(f"{r.status_code} {r.text[:200]}")

        interval = int(1e9 / rate)
        cpu_before = sut.cpu_s()
        wall_began = time.time_ns()
        began = time.monotonic_ns()
        tasks = []
        for i, de_an_id in enumerate(ids):
            at = began + i * interval
            delay = (at - time.monotonic_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            behind_ns = max(behind_ns, time.monotonic_ns() - at)
            scheduled[de_an_id] = at
            tasks.append(asyncio.create_task(submit(de_an_id)))
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + 30
        expected = [d for d in ids if d in answered]
        while not all(d in watcher.seen for d in expected) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        cpu_after = sut.cpu_s()
        watcher.stop()
        follower.cancel()
        published = await stored_times(sut.nats_url, "KC_TINH_40", SUBMITTED, wall_began)

    measured = ids[warm:]
    total = [watcher.seen[d] - scheduled[d] for d in measured if d in watcher.seen]
    http_ns = [answered[d] - scheduled[d] for d in measured if d in answered]
    to_bus = [published[d] - scheduled[d] for d in measured if d in published]
    bus_to_view = [watcher.seen[d] - published[d] for d in measured if d in published and d in watcher.seen]
    return {
        "rate_per_s": rate,
        "commands": len(measured),
        "warmup_commands": warm,
        "failed": len(failed),
        "failures": failed[:3],
        "missing_in_view": len([d for d in measured if d not in watcher.seen]),
        "sender_max_behind_ms": ms(behind_ns),
        "drafts_prepared_per_s": round(count / prep_s, 1),
        "cpu_ms_per_command": cpu_per(cpu_before, cpu_after, len(ids)),
        "command_to_view": summary(total),
        "command_http_answer": summary(http_ns),
        "command_to_published": summary(to_bus),
        "published_to_view": summary(bus_to_view),
    }


async def stored_times(nats_url: str, stream: str, subject: str, since_wall_ns: int) -> dict[str, int]:
    """When JetStream stored each event (its own timestamp), on this machine's monotonic clock, by
    originating đề án: the relay's publish, stamped by the server rather than by a busy client."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    offset = time.time_ns() - time.monotonic_ns()
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    start = datetime.fromtimestamp((since_wall_ns - 1_000_000_000) / 1e9, UTC)
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=start.isoformat().replace("+00:00", "Z"),
        ack_policy=AckPolicy.NONE,
        filter_subject=subject,
        inactive_threshold=30.0,
    )
    psub = await js.pull_subscribe(subject, stream=stream, config=config)
    stored: dict[str, int] = {}
    while True:
        try:
            msgs = await psub.fetch(1000, timeout=1.0)
        except nats.errors.TimeoutError:
            break
        for msg in msgs:
            wall = msg.metadata.timestamp
            ns = int(wall.timestamp()) * 1_000_000_000 + wall.microsecond * 1000
            stored.setdefault(json.loads(msg.data)["kcstreamid"], ns - offset)
        if msgs[-1].metadata.num_pending == 0:
            break
    with contextlib.suppress(Exception):
        await js.delete_consumer(stream, (await psub.consumer_info()).name)
    await nc.close()
    return stored


# -- 2. sustained commands/s with consumers keeping up ---------------------------------------------------
async def sustained(sut: SystemUnderTest, seconds: float, clients: int) -> dict[str, Any]:
    import httpx
    import nats

    appraisal = sut.url("tinh-40/appraisal")
    nc = await nats.connect(sut.nats_url)
    js = nc.jetstream()

    async def published_count() -> int:
        info = await js.stream_info("KC_TINH_40", subjects_filter=SUBMITTED)
        return int((info.state.subjects or {}).get(SUBMITTED, 0))

    async def consumer_lag() -> dict[str, int]:
        """Unprocessed messages of every service's durable consumer on the province's stream (named
        ``<instance>--<consumer>``; the bench's own ephemeral readers are left out)."""
        lag = {}
        for stream in ("KC_TINH_40",):
            for c in await js.consumers_info(stream):
                if "--" in c.name:
                    lag[c.name] = int(c.num_pending or 0) + int(c.num_ack_pending or 0)
        return lag

    base_published = await published_count()
    accepted = 0  # submits answered 200
    commands = 0  # drafts + submits answered 2xx
    errors: list[str] = []
    samples: list[dict[str, Any]] = []
    stop_at = time.monotonic() + seconds
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def client() -> None:
            nonlocal accepted, commands
            while time.monotonic() < stop_at:
                i = next(counter)
                try:
                    r = await http.post(f"{appraisal}/de-an", json=draft_body(500_000 + i), headers=HEADERS)
                    if r.status_code != 201:
                        errors.append(f"draft {r.status_code} {r.text[:200]}")
                        continue
                    commands += 1
                    r = await http.post(f"{appraisal}/de-an/{r.json()['id']}/submit", json=SUBMIT, headers=HEADERS)
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                if r.status_code != 200:
                    errors.append(f"submit {r.status_code} {r.text[:200]}")
                    continue
                commands += 1
                accepted += 1

        async def sample() -> None:
            while True:
                relay = accepted - (await published_count() - base_published)
                lag = await consumer_lag()
                samples.append({"t": round(time.monotonic() - began, 2), "relay": relay, "consumers": lag})
                await asyncio.sleep(0.5)

        cpu_before, bench_cpu = sut.cpu_s(), time.process_time()
        began = time.monotonic()
        sampler = asyncio.create_task(sample())
        await asyncio.gather(*(client() for _ in range(clients)))
        sent_s = time.monotonic() - began
        sent_commands, sent_submits = commands, accepted
        # drain: until the relay has published everything and every consumer has caught up
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            relay = accepted - (await published_count() - base_published)
            lag = await consumer_lag()
            if relay <= 0 and not any(lag.values()):
                break
            await asyncio.sleep(0.02)
        drained_s = time.monotonic() - began
        cpu_after, bench_cpu = sut.cpu_s(), time.process_time() - bench_cpu
        sampler.cancel()
        with contextlib.suppress(BaseException):
            await sampler
    await nc.close()
    max_relay = max((s["relay"] for s in samples), default=0)
    during = [sum(s["consumers"].values()) + max(s["relay"], 0) for s in samples if s["t"] <= sent_s]
    half = len(during) // 2
    per_consumer: dict[str, int] = {}
    for s in samples:
        for name, value in s["consumers"].items():
            per_consumer[name] = max(per_consumer.get(name, 0), value)
    # where the CPU went: milliseconds of CPU per accepted command, by process (load-independent)
    cpu_ms = cpu_per(cpu_before, cpu_after | {"bench client": bench_cpu}, sent_commands)
    system_cpu_ms = sum(v for k, v in cpu_ms.items() if k != "bench client")
    return {
        "clients": clients,
        "cpu_ms_per_command": cpu_ms,
        "system_cpu_ms_per_command": round(system_cpu_ms, 2),
        "cpus": os.cpu_count(),
        # what the cores could carry if nothing but the system ran on them (the bench client apart)
        "cpu_bound_commands_per_s": round(1000 * (os.cpu_count() or 1) / system_cpu_ms, 1) if system_cpu_ms else None,
        "send_s": round(sent_s, 2),
        "caught_up_after_s": round(drained_s, 2),
        "drain_s": round(drained_s - sent_s, 2),
        "commands": sent_commands,
        "submits": sent_submits,
        "errors": len(errors),
        "error_examples": errors[:3],
        "commands_per_s_accepted": round(sent_commands / sent_s, 1),
        "commands_per_s_sustained": round(sent_commands / drained_s, 1),
        "events_per_s_sustained": round(sent_submits / drained_s, 1),
        "max_relay_lag": max_relay,
        # bounded: the backlog does not grow through the run, and is gone soon after the load stops
        "max_lag_first_half": max(during[:half], default=0),
        "max_lag_second_half": max(during[half:], default=0),
        "lag_bounded": drained_s - sent_s <= 5.0
        and max(during[half:], default=0) <= max(2 * max(during[:half], default=0), 50),
        "max_consumer_lag": per_consumer,
        "lag_samples": [{"t": s["t"], "relay": s["relay"], "consumers": sum(s["consumers"].values())} for s in samples],
    }


def cpu_per(before: dict[str, float], after: dict[str, float], commands: int) -> dict[str, float]:
    """Milliseconds of CPU each process spent per command between two ``SystemUnderTest.cpu_s()``."""
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    return {
        name: round(1000 * seconds / max(commands, 1), 2)
        for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1])
        if seconds > 0
    }


# -- 2. raw: eventsourcing saves on a SQLite file --------------------------------------------------------
def raw_saves(seconds: float = 3.0, store_dir: Path | None = None, database_url: str | None = None) -> dict[str, Any]:
    """The store's own limit: one aggregate saved per call (a transaction each), in a loop, on a SQLite
    file with the services' settings (``kc_runtime.store.eventstore.sqlite_env``), on the same file system
    — or, given ``database_url``, on that PostgreSQL database with the services' settings (``postgres_env``)."""
    from eventsourcing.application import Application
    from kc_runtime.store.eventstore import postgres_env, sqlite_env

    with tempfile.TemporaryDirectory(dir=store_dir) as tmp:
        env = postgres_env(database_url, "kc_bench_raw") if database_url else sqlite_env(Path(tmp) / "raw.sqlite")
        app: Application[Any] = Application(env=env)
        thing = _trivial_aggregate()
        saved = 0
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            app.save(thing(saved))
            saved += 1
        elapsed = time.monotonic() - began
        app.close()
    return {"saves": saved, "seconds": round(elapsed, 2), "saves_per_s": round(saved / elapsed, 1)}


@functools.cache
def _trivial_aggregate() -> Any:
    from eventsourcing.domain import Aggregate, event

    class Thing(Aggregate):
        @event("Created")
        def __init__(self, n: int) -> None:
            self.n = n

    return Thing


# -- main ------------------------------------------------------------------------------------------------
POSTGRES_SERVER = os.environ.get("KC_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def bench_database() -> Any:
    """A fresh PostgreSQL database of the bench's own on ``KC_BENCH_POSTGRES`` (dropped after): its DSN."""
    import psycopg

    name = f"kc_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_unreachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", connect_timeout=3) as con:
            con.execute("SELECT 1")
    except Exception as exc:
        return f"{POSTGRES_SERVER}: {exc}"
    return None


def run(
    rate: float = 100.0, seconds: float = 20.0, load_seconds: float = 15.0, clients: int = 8, store: str = "sqlite"
) -> dict[str, Any]:
    """One ``make run`` system: cold start and idle RSS first (nothing has run yet), then the raw round
    trip, command → national view at ``rate``, the sustained load; the raw saves once it has stopped.
    ``store``: ``sqlite`` (a file per service, the default) or ``postgres`` (every service in one database
    of the bench's own, a schema each; the raw saves on the same server)."""
    if store == "postgres":
        with bench_database() as dsn:
            return _run(rate, seconds, load_seconds, clients, dsn)
    return _run(rate, seconds, load_seconds, clients, None)


def _run(rate: float, seconds: float, load_seconds: float, clients: int, dsn: str | None) -> dict[str, Any]:
    results: dict[str, Any] = {"store": "postgres" if dsn else "sqlite"}
    with tempfile.TemporaryDirectory() as tmp:
        sut = start_system(Path(tmp) / "var", env={"KC_DATABASE_URL": dsn} if dsn else None)
        if dsn:
            sut.database, sut.database_url = dsn.rsplit("/", 1)[1], dsn
        try:
            results["system"] = measure(sut)  # cold start, idle RSS: before any load
            authorise(sut.var_dir)
            results["raw_round_trip"] = asyncio.run(raw_round_trip(sut.nats_url, rate, int(rate * 10)))
            results["raw_consume"] = asyncio.run(raw_consume(sut.nats_url))
            results["command_to_view"] = asyncio.run(command_to_view(sut, rate, seconds))
            officer = bench_console.signed_in(sut.banner)
            results["console_idle"] = bench_console.work_queue(officer)
            with bench_console.DuringLoad(officer) as during:
                results["sustained"] = asyncio.run(sustained(sut, load_seconds, clients))
            results["console_under_load"] = during.result()
            officer.close()
            results["rss_after_load_mb"] = sut.rss()
        finally:
            sut.stop()
        results["raw_saves"] = raw_saves(store_dir=Path(tmp), database_url=dsn)
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--load-seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--watch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pg-watch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch:
        return watch(args.watch)
    if args.pg_watch:
        return pg_watch(args.pg_watch)
    results = run(args.rate, args.seconds, args.load_seconds, args.clients, args.store)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"flow": results}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
