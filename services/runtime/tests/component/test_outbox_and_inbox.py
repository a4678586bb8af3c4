"""The outbox relay and the inbox against a real nats-server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar
from uuid import UUID

import nats
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.base import ContractRegistry
from kc_contracts.integrity import Signer, canonical, message_id
from kc_contracts.subjects import dead_letter_stream, stream_name
from kc_ops.natsserver import NatsServer
from kc_runtime.bus.deadletters import REASON
from kc_runtime.bus.relay import OutboxRelay
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.keys import rotate
from kc_runtime.service import ServiceRuntime
from kc_runtime.settings import Settings
from kc_runtime.store.eventstore import ServiceApplication, persistence_env
from kc_runtime.store.views import ViewStore
from kc_testing.fixtures import SettingsFactory, SigningPublisher, eventually

# -- a small event-sourced world: counters whose increments are public ---------------------------


class Counter(Aggregate):
    class Started(Aggregate.Created):
        name: str

    @event(Started)
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Incremented")
    def increment(self, by: int) -> None:
        pass

    @event("Renamed")  # private: has no contract, never published
    def rename(self, name: str) -> None:
        self.name = name


class CounterStartedV1(ContractEvent):
    type = "test.counter.started"
    version = 1
    counter_id: UUID
    name: str


class CounterIncrementedV1(ContractEvent):
    type = "test.counter.incremented"
    version = 1
    counter_id: UUID
    by: int


CONTRACTS = ContractRegistry()
CONTRACTS.register(CounterStartedV1)
CONTRACTS.register(CounterIncrementedV1)
FILTER = "kc.tinh-40.test.counter.>"


def translate(domain_event: Any) -> ContractEvent | None:
    if isinstance(domain_event, Counter.Started):
        return CounterStartedV1(counter_id=domain_event.originator_id, name=domain_event.name)
    if isinstance(domain_event, Counter.Incremented):  # type: ignore[attr-defined]
        return CounterIncrementedV1(counter_id=domain_event.originator_id, by=domain_event.by)
    return None


class Counters(ServiceApplication):
    name = "counters"


class AppliedView:
    """Every application of an event is a row (no unique key: a double effect would show)."""

    DDL: ClassVar[list[str]] = [
        "CREATE TABLE IF NOT EXISTS applied (event_id TEXT, stream_id TEXT, version INTEGER, seq INTEGER)"
    ]

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        self.after_commit: Callable[[], None] = lambda: None

    def apply(self, envelope: Envelope, _: ContractEvent, tracking: Tracking) -> None:
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO applied VALUES (?, ?, ?, ?)",
                (
                    envelope.id,
                    envelope.kcstreamid,
                    envelope.kcstreamversion,
                    tracking.notification_id,
                ),
            )
            self.store.track(cur, tracking)
        self.after_commit()

    def rows(self) -> list[dict[str, Any]]:
        with self.store.transaction(commit=False) as cur:
            return cur.execute("SELECT * FROM applied ORDER BY seq").fetchall()


# -- harness -------------------------------------------------------------------------------------


async def ensure(settings: Settings) -> None:
    nc = await nats.connect(settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan((settings.instance,)))
    await nc.close()


@asynccontextmanager
async def producer(settings: Settings) -> AsyncIterator[tuple[Counters, ServiceRuntime]]:
    app = Counters(env=persistence_env(settings))
    runtime = ServiceRuntime(settings)
    runtime.publish_from(app, translate)
    async with runtime.lifespan():
        yield app, runtime
    app.close()


def consumer_runtime(settings: Settings, view: AppliedView) -> ServiceRuntime:
    runtime = ServiceRuntime(settings)
    runtime.consume(
        "counter-view",
        source_instance=settings.instance,
        subjects=[FILTER],
        effect=view.apply,
        is_tracked=view.store.has_tracked,
        contracts=CONTRACTS,
    )
    return runtime


@asynccontextmanager
async def consumer(settings: Settings, view: AppliedView) -> AsyncIterator[ServiceRuntime]:
    runtime = consumer_runtime(settings, view)
    async with runtime.lifespan():
        yield runtime


def make_view(settings: Settings) -> AppliedView:
    return AppliedView(ViewStore(persistence_env(settings), name="counter_views", ddl=AppliedView.DDL))


def make_counters(app: Counters, counters: int, increments: int) -> list[Counter]:
    made = []
    for i in range(counters):
        c = Counter(name=f"bộ đếm {i}")
        for n in range(increments):
            c.increment(by=n + 1)
        c.rename(name=f"đổi tên {i}")
        app.save(c)
        made.append(c)
    return made


async def stream_messages(url: str, stream: str) -> list[Any]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    info = await js.stream_info(stream)
    msgs = (
        [await js.get_msg(stream, seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)]
        if info.state.messages
        else []
    )
    await nc.close()
    return msgs


# -- tests ---------------------------------------------------------------------------------------


class SimulatedCrashError(Exception):
    pass


class CrashBeforePositionIsStored(OutboxRelay):
    def store_position(self, notification_id: int) -> None:
        raise SimulatedCrashError(f"crash before storing position {notification_id}")


async def test_relay_crash_after_ack_before_position_republishes_without_duplicates(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("relaytest")
    await ensure(settings)
    app = Counters(env=persistence_env(settings))
    make_counters(app, counters=3, increments=3)  # 3 x (1 started + 3 incremented) public events

    nc = await nats.connect(settings.nats_url)
    crashing = CrashBeforePositionIsStored(
        app, translate, instance="tinh-40", service="relaytest", jetstream=nc.jetstream
    )
    with pytest.raises(SimulatedCrashError):
        await crashing.drain()
    assert crashing.published == 12
    assert crashing.stored_position() == 0

    restarted = OutboxRelay(app, translate, instance="tinh-40", service="relaytest", jetstream=nc.jetstream)
    await restarted.drain()
    await nc.close()

    assert restarted.published == 0  # every republish was a duplicate JetStream dropped
    assert restarted.alarms == 0  # and each was checked: the stored message is the relay's own bytes
    assert restarted.stored_position() == app.recorder.max_notification_id()
    msgs = await stream_messages(settings.nats_url, stream_name("tinh-40"))
    ids = [m.headers["Nats-Msg-Id"] for m in msgs]
    assert len(ids) == 12
    assert len(set(ids)) == 12
    assert all(message_id(m.data) == m.headers["Nats-Msg-Id"] for m in msgs)  # the hash of the very bytes
    app.close()


async def test_consumer_crash_after_commit_before_ack_applies_the_effect_once(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("consumertest")
    await ensure(settings)
    view = make_view(settings)
    committed = threading.Event()
    hold = threading.Event()

    def die_before_ack() -> None:  # the first effect commits, then the process "dies"
        if not committed.is_set():
            committed.set()
            hold.wait(10)

    view.after_commit = die_before_ack
    async with producer(make_settings("relaytest")) as (app, _):
        make_counters(app, counters=1, increments=2)
        first = consumer_runtime(settings, view)
        lifespan = first.lifespan()
        await lifespan.__aenter__()
        await eventually(committed.is_set)
        # the process "dies" after the commit: its connection goes, the ack can never be sent
        assert first.broker._connection is not None
        await first.broker._connection.close()
        hold.set()
        await lifespan.__aexit__(None, None, None)
        view.after_commit = lambda: None

        async with consumer(settings, view) as second:
            inbox = second.subscriptions[0].inbox
            try:
                await eventually(lambda: len(view.rows()) >= 3 and inbox.stats.duplicates >= 1)
            except AssertionError:
                raise AssertionError(f"{inbox.stats} {view.rows()}") from None
            await asyncio.sleep(0.3)

    rows = view.rows()
    assert [r["version"] for r in rows] == [1, 2, 3]
    assert len({r["event_id"] for r in rows}) == len(rows) == 3
    view.store.close()


async def test_commands_accepted_while_nats_is_down_arrive_in_order_after_restart(
    make_settings: SettingsFactory, nats_server: NatsServer
) -> None:
    settings = make_settings("consumertest")
    await ensure(settings)
    view = make_view(settings)
    async with producer(make_settings("relaytest")) as (app, runtime), consumer(settings, view):
        await eventually(lambda: runtime.bus_started)
        before = make_counters(app, counters=2, increments=2)
        await eventually(lambda: len(view.rows()) == 6)

        nats_server.stop()
        during = make_counters(app, counters=3, increments=4)  # accepted: they land in the store
        for c in before:
            c.increment(by=100)
            app.save(c)
        await asyncio.sleep(1.5)
        nats_server.start()

        await eventually(lambda: len(view.rows()) == 6 + 3 * 5 + 2, timeout=40)

        public = {
            c.id: [e.originator_version for e in app.events.get(c.id) if translate(e) is not None]
            for c in before + during
        }

    rows = view.rows()
    assert len({r["event_id"] for r in rows}) == len(rows)
    for c in before + during:
        versions = [r["version"] for r in rows if r["stream_id"] == str(c.id)]
        assert versions == public[c.id]  # every public event, once, in stream order
    assert public[before[0].id] == [1, 2, 3, 5]  # v4 (renamed) is private
    view.store.close()


async def test_malformed_and_unknown_version_messages_are_dead_lettered_and_consumption_goes_on(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("consumertest")
    await ensure(settings)
    view = make_view(settings)
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    good = Envelope.wrap(
        CounterIncrementedV1(counter_id=UUID(int=7), by=1),
        instance="tinh-40",
        service="x",
        stream_id=UUID(int=7),
        stream_version=2,
        time=__import__("datetime").datetime(2024, 1, 1, tzinfo=__import__("datetime").UTC),
    )
    unknown = json.loads(good.to_json())
    unknown["type"] = "kc.test.counter.incremented.v9"
    invalid = json.loads(good.to_json())
    invalid["data"]["by"] = "một"

    stream = stream_name("tinh-40")
    signed = SigningPublisher.of(settings)
    await js.publish("kc.tinh-40.test.counter.incremented.v1", b"\xff not json", stream=stream)
    await js.publish("kc.tinh-40.test.counter.incremented.v9", signed.sign(unknown), stream=stream)
    await js.publish("kc.tinh-40.test.counter.incremented.v1", signed.sign(invalid), stream=stream)
    await js.publish("kc.tinh-40.test.counter.incremented.v1", signed.sign(good), stream=stream)
    await nc.close()

    async with consumer(settings, view) as runtime:
        await eventually(lambda: len(view.rows()) == 1)
        inbox = runtime.subscriptions[0].inbox
        await eventually(lambda: inbox.stats.dead_lettered == 3)

    assert view.rows()[0]["event_id"] == good.id
    letters = await stream_messages(settings.nats_url, dead_letter_stream("tinh-40"))
    reasons = [str(m.headers[REASON]) for m in letters]
    assert reasons[0].startswith("not a khuyencong CloudEvents envelope")
    assert reasons[1] == "unknown contract version: unknown contract test.counter.incremented v9"
    assert reasons[2].startswith("data does not match its contract kc.test.counter.incremented.v1")
    assert letters[0].data == b"\xff not json"  # the original bytes, unchanged
    assert [m.headers["Kc-Original-Sequence"] for m in letters] == ["1", "2", "3"]
    view.store.close()


async def test_a_failing_effect_is_retried_with_delay_then_dead_lettered(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("consumertest")
    await ensure(settings)
    view = make_view(settings)
    attempts: list[str] = []
    real_apply = view.apply

    def flaky(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        if envelope.kcstreamversion == 1:  # the Started event: fails every time
            attempts.append(envelope.id)
            raise RuntimeError("kho dữ liệu tạm thời không sẵn sàng")
        real_apply(envelope, event, tracking)

    async with producer(make_settings("relaytest")) as (app, _):
        make_counters(app, counters=1, increments=1)
        runtime = ServiceRuntime(settings)
        inbox = runtime.consume(
            "counter-view",
            source_instance="tinh-40",
            subjects=[FILTER],
            effect=flaky,
            is_tracked=view.store.has_tracked,
            contracts=CONTRACTS,
        )
        async with runtime.lifespan():
            await eventually(lambda: inbox.stats.dead_lettered == 1 and len(view.rows()) == 1)

    assert len(attempts) == settings.max_deliver
    assert inbox.stats.retried == settings.max_deliver - 1
    letters = await stream_messages(settings.nats_url, dead_letter_stream("tinh-40"))
    assert str(letters[0].headers[REASON]).startswith(f"gave up after {settings.max_deliver} deliveries")
    assert [r["version"] for r in view.rows()] == [2]
    view.store.close()


def counter_envelope(n: int, by: int = 1) -> Envelope:
    return Envelope.wrap(
        CounterIncrementedV1(counter_id=UUID(int=n), by=by),
        instance="tinh-40",
        service="x",
        stream_id=UUID(int=n),
        stream_version=2,
        time=__import__("datetime").datetime(2024, 1, 1, tzinfo=__import__("datetime").UTC),
    )


async def test_forged_unknown_key_replayed_and_unlinked_events_are_dead_lettered_and_change_nothing(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("consumertest")
    await ensure(settings)
    view = make_view(settings)
    signed = SigningPublisher.of(settings)
    first = signed.sign(counter_envelope(1))
    forged = json.loads(signed.sign(counter_envelope(2)))
    forged["data"]["by"] = 1000  # one changed value under a valid-looking signature
    stranger = Signer.generate("tinh-40")  # a key nobody trusts
    # validly signed by the instance, numbered to follow `first`, but not linked to it
    unlinked = signed.signer("tinh-40").sign(counter_envelope(4).body(), seq=2, prev_hash="sha256:" + "0" * 64)
    last = signed.sign(counter_envelope(5))

    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    stream = stream_name("tinh-40")
    subject = "kc.tinh-40.test.counter.incremented.v1"
    await js.publish(subject, first, stream=stream)
    await js.publish(subject, canonical(forged), stream=stream)
    await js.publish(subject, SigningPublisher(settings).sign(counter_envelope(3), signer=stranger), stream=stream)
    await js.publish(subject, first, stream=stream, headers={"Nats-Msg-Id": "replayed-later"})
    await js.publish(subject, canonical(unlinked), stream=stream)
    await js.publish(subject, last, stream=stream)
    await nc.close()

    async with consumer(settings, view) as runtime:
        inbox = runtime.subscriptions[0].inbox
        await eventually(lambda: inbox.stats.applied + inbox.stats.dead_lettered == 6)
        assert inbox.stats.untrusted == 4

    assert [r["event_id"] for r in view.rows()] == [
        Envelope.from_json(first).id,
        Envelope.from_json(last).id,
    ]
    letters = await stream_messages(settings.nats_url, dead_letter_stream("tinh-40"))
    reasons = [str(m.headers[REASON]) for m in letters]
    assert reasons[0].startswith("integrity: bad_signature"), reasons
    assert reasons[1].startswith("integrity: unknown_key"), reasons
    assert reasons[2].startswith("integrity: replayed"), reasons
    assert reasons[3].startswith("integrity: broken_chain"), reasons
    assert letters[0].data == canonical(forged)  # the original bytes, for the report
    view.store.close()


async def test_a_rotated_key_keeps_old_events_verifiable_and_signs_new_ones(make_settings: SettingsFactory) -> None:
    settings = make_settings("consumertest")
    await ensure(settings)
    view = make_view(settings)
    signed = SigningPublisher.of(settings)
    before = signed.sign(counter_envelope(1))
    old_id, new_id = rotate(settings.key_folder, "tinh-40", settings.trust_path)
    after = signed.sign(counter_envelope(2))
    assert json.loads(before)["kckeyid"] == old_id and json.loads(after)["kckeyid"] == new_id

    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    for payload in (before, after):
        await js.publish("kc.tinh-40.test.counter.incremented.v1", payload, stream=stream_name("tinh-40"))
    await nc.close()
    async with consumer(settings, view):
        await eventually(lambda: len(view.rows()) == 2)
    view.store.close()


async def test_the_publishers_chain_link_commits_with_the_effect_in_one_transaction(
    make_settings: SettingsFactory,
) -> None:
    """The inbox records each publisher's new chain link in the effect's own transaction (with its
    tracking), not in a second one after it: the chains' store never opens a write transaction of its own
    while the effect's store is on the same database, and the link it holds is the last applied."""
    settings = make_settings("consumertest")
    await ensure(settings)
    view = make_view(settings)
    async with producer(make_settings("relaytest")) as (app, _):
        make_counters(app, counters=2, increments=2)
        runtime = consumer_runtime(settings, view)
        chains = runtime._chains
        assert chains is not None
        opened = []
        plain = chains.store.transaction

        def spied(*, commit: bool = True) -> Any:
            opened.append(commit)
            return plain(commit=commit)

        chains.store.transaction = spied  # type: ignore[method-assign]
        async with runtime.lifespan():
            await eventually(lambda: len(view.rows()) >= 6)
    with view.store.transaction(commit=False) as cur:
        links = cur.execute("SELECT consumer, seq FROM kc_inbox_chain").fetchall()
    assert links == [{"consumer": "counter-view", "seq": 6}]
    assert True not in opened, opened  # no write transaction of the chains' own
    view.store.close()
