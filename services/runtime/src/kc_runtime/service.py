"""What every service process runs on: the bus connection, the outbox relay, the inboxes.

A service's ``main.create_app(settings)`` builds one :class:`ServiceRuntime` and hands its
:meth:`lifespan` to FastAPI. Nothing connects before the lifespan starts. The NATS connection is
made in the background so HTTP commands are accepted (and land in the event store) even while
NATS is down; ``/readyz`` says when the bus side is running.

What FastStream does here, and why no more. FastStream (``NatsBroker``) holds the connection (in the
background, reconnecting for ever, with the instance's credentials) and runs each inbox as a durable
JetStream pull subscriber: consumer configuration, one message at a time, manual acknowledgement,
``NatsMessage.ack``/``nack(delay)``, a bounded stop. It is deliberately not used for the rest, where it
would weaken a guarantee:

- *Typed subscribers* (the body decoded into a model before the handler): the inbox must check the
  signature over the exact bytes published and the publisher's hash chain before it trusts anything,
  and a message that does not decode must go to the dead-letter stream with the reason and be acked.
  A decoding failure in FastStream is an exception before the handler: redelivered until the
  consumer's ``max_deliver``, then passed over by the consumer with no reason recorded anywhere. One
  subscriber per contract type would also mean one consumer per subject, losing the order a consumer
  keeps across its subjects (``max_ack_pending=1``).
- *Middleware for verification and dead letters*: the inbox's steps are one unit — decode, verify,
  placement, duplicate by tracking, chain, the effect with its tracking in one transaction, ack; a
  dead letter is acked only after the dead-letter stream acknowledged it, else nak. Split between a
  middleware and a handler they would be the same code with the ack order left to the middleware
  stack; :class:`~kc_runtime.bus.inbox.Inbox` keeps them in one place, tested on a real nats-server.
- *Declared publishers*: the relay publishes the bytes it signed and chained with
  ``Nats-Msg-Id`` = their hash, and needs JetStream's acknowledgement itself (the stream sequence and
  the ``duplicate`` flag, to compare a duplicate with the stored message) before it stores its
  position; FastStream's publishers add headers of their own and would document in AsyncAPI the
  channels ``docs/asyncapi.json`` already documents from ``kc_contracts``, the one source of the
  contracts. The relay and the dead letters therefore publish through the broker's JetStream context
  (:meth:`ServiceRuntime.jetstream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats.js.errors as jserr
import structlog
from eventsourcing.persistence import Tracking
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub
from faststream.security import SASLPlaintext
from kc_contracts.base import ContractRegistry, registry
from kc_contracts.integrity import canonical
from kc_contracts.subjects import dead_letter_stream, stream_name
from kc_kernel.vocabulary import use_admin_units
from nats.js import JetStreamContext

from kc_runtime import tracing
from kc_runtime.adminunits import load_catalogue
from kc_runtime.bus.deadletters import DeadLetters
from kc_runtime.bus.inbox import Effect, Inbox, InboxChains
from kc_runtime.bus.metrics import ConsumerLag, register_bus_metrics
from kc_runtime.bus.relay import OutboxRelay, Translate
from kc_runtime.keys import TrustFile, ensure_instance_key
from kc_runtime.metrics import Metrics
from kc_runtime.settings import Settings
from kc_runtime.store.eventstore import ServiceApplication, persistence_env
from kc_runtime.store.localprojection import LocalProjection
from kc_runtime.store.views import ViewStore

log = structlog.get_logger("kc.service")

STOP_TIMEOUT_S = 5.0


@dataclass
class Subscription:
    inbox: Inbox
    source_instance: str
    subjects: list[str]


class ServiceRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # communes are named (in e-mails, exports, messages) from the catalogue, loaded on first use
        use_admin_units(load_catalogue)
        servers, user, password = settings.nats_credentials
        self.broker = NatsBroker(
            servers,
            security=SASLPlaintext(username=user, password=password or "") if user else None,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            connect_timeout=2,
            # routine "Received/Processed" lines at DEBUG; handler errors still logged at ERROR
            logger=logging.getLogger("kc.faststream"),
            log_level=logging.DEBUG,
        )
        self.dead_letters = DeadLetters(settings.instance, self.jetstream)
        # the instance's signing key (created on first start when missing) and the keys it trusts
        self.signer = ensure_instance_key(settings.key_folder, settings.instance, settings.trust_path)
        self.trust = TrustFile(settings.trust_path)
        self._chains: InboxChains | None = None
        self.relay: OutboxRelay | None = None
        self.subscriptions: list[Subscription] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._closers: list[Callable[[], None]] = []
        self._background: list[tuple[Callable[[], Coroutine[Any, Any, None]], str]] = []
        self.projections: list[LocalProjection] = []
        self.bus_started = False
        # GET /metrics (kc_runtime.web.metrics.install_metrics); a service adds its own gauges to it
        self.metrics = Metrics(service=settings.service, instance=settings.instance)
        # OpenTelemetry spans, exported by OTLP when KC_OTLP_ENDPOINT is set; None (nothing loaded) when not
        self.spans = tracing.exporting(settings)
        self.consumer_lag = ConsumerLag(self.jetstream)
        register_bus_metrics(
            self.metrics,
            relay=lambda: self.relay,
            inboxes=lambda: [s.inbox for s in self.subscriptions],
            projections=lambda: self.projections,
            dead_letters=self.dead_letters,
            consumers=self.consumer_lag,
        )

    def run_in_background(self, work: Callable[[], Coroutine[Any, Any, None]], name: str) -> None:
        """Start ``work()`` with the lifespan (e.g. a projection's follower) and cancel it on stop."""
        self._background.append((work, name))

    def follow(self, projection: LocalProjection) -> None:
        """Keep a local projection caught up in the background; its quarantine shows on ``/readyz``."""
        self.projections.append(projection)
        self.run_in_background(projection.follow, f"projection {projection.name}")

    async def degradation(self) -> dict[str, Any]:
        """What works but not fully (``/readyz`` adds it): events the local projections set aside."""
        quarantine: list[dict[str, Any]] = []
        for projection in self.projections:
            quarantine += await asyncio.to_thread(projection.quarantined)
        if self.relay is not None:  # events that could not become their contract: not published
            quarantine += await asyncio.to_thread(self.relay.quarantined)
        return {"quarantine": quarantine} if quarantine else {}

    def close(self) -> None:
        """Close the stores without a lifespan (tests and tools that built the app but never ran it)."""
        for closer in self._closers:
            closer()
        self._closers.clear()

    def close_on_stop(self, closer: Callable[[], None]) -> None:
        """Close a store when the service stops (after the bus, so no handler is mid-transaction)."""
        self._closers.append(closer)

    # -- wiring (called by the service's main before the lifespan starts) -------------------------
    def publish_from(self, app: ServiceApplication, translate: Translate) -> OutboxRelay:
        self.relay = OutboxRelay(
            app,
            translate,
            instance=self.settings.instance,
            service=self.settings.service,
            jetstream=self.jetstream,
            signer=self.signer,
            alarms=self.dead_letters,
        )
        return self.relay

    def consume(
        self,
        name: str,
        *,
        source_instance: str,
        subjects: list[str],
        effect: Effect,
        is_tracked: Callable[[Tracking], bool],
        contracts: ContractRegistry = registry,
    ) -> Inbox:
        """A durable consumer ``name`` on ``source_instance``'s stream, filtered to ``subjects``."""
        if self._chains is None:
            store = ViewStore(persistence_env(self.settings), name="inbox_chains")
            self._chains = InboxChains(store)
            self.close_on_stop(store.close)
        inbox = Inbox(
            name=name,
            effect=effect,
            is_tracked=is_tracked,
            dead_letters=self.dead_letters,
            max_deliver=self.settings.max_deliver,
            nak_delay_s=self.settings.nak_delay_seconds,
            contracts=contracts,
            trust=self.trust,
            chains=self._chains,
            spans=self.spans,
        )
        self.subscriptions.append(Subscription(inbox, source_instance, subjects))
        return inbox

    # -- running ----------------------------------------------------------------------------------
    def jetstream(self) -> JetStreamContext | None:
        connection = self.broker._connection
        if connection is None or not connection.is_connected:
            return None
        js: JetStreamContext = self.broker.config.connection_state.stream
        return js

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any = None) -> AsyncIterator[None]:
        self._tasks.append(self._spawn(self._start_bus(), "bus"))
        for work, name in self._background:
            self._tasks.append(self._spawn(work(), name))
        try:
            yield
        finally:
            await self.stop()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)

        def report(done: asyncio.Task[None]) -> None:
            if not done.cancelled() and done.exception() is not None:
                log.error("background task failed", task=name, exc_info=done.exception())

        task.add_done_callback(report)
        return task

    async def _start_bus(self) -> None:
        await self.broker.connect()  # retries for ever: NATS may come up after us
        await self._wait_for_streams()
        for sub in self.subscriptions:
            await self._align_filter(sub)
            self._subscribe(sub)
        await self.broker.start()
        if self.relay is not None:
            self._tasks.append(self._spawn(self.relay.run(), "relay"))
        if self.consumer_lag.durables:
            self._tasks.append(self._spawn(self.consumer_lag.run(self.settings.metrics_sample_seconds), "consumer lag"))
        self.bus_started = True
        log.info("bus started", subscriptions=[s.inbox.name for s in self.subscriptions])

    async def _wait_for_streams(self) -> None:
        """Streams are declared by ``kc_ops.streams ensure``, never by a service start."""
        wanted = {stream_name(self.settings.instance), dead_letter_stream(self.settings.instance)}
        wanted |= {stream_name(s.source_instance) for s in self.subscriptions}
        warned = False
        while True:
            js = self.jetstream()
            missing = []
            for name in sorted(wanted):
                try:
                    if js is None:
                        raise ConnectionError
                    await js.stream_info(name)
                except (jserr.NotFoundError, ConnectionError, TimeoutError):
                    missing.append(name)
            if not missing:
                return
            if not warned:
                log.warning(
                    "waiting for streams (run: python -m kc_ops.streams ensure)",
                    missing=missing,
                )
                warned = True
            await asyncio.sleep(1.0)

    def _durable(self, sub: Subscription) -> str:
        # several instances read one stream (the ministry reads every province): the durable consumer
        # belongs to the reading instance, or they would share — and split — its messages
        return f"{self.settings.instance}--{sub.inbox.name}"

    async def _align_filter(self, sub: Subscription) -> None:
        """A durable consumer keeps the subjects it was created with (nats-py binds to an existing one as it
        is): when this version of the service lists others — a consumer upgraded to read a contract's new
        version beside the old — the durable's filter is updated in place, keeping its position."""
        js, durable, stream = self.jetstream(), self._durable(sub), stream_name(sub.source_instance)
        if js is None:
            return
        try:
            info = await js.consumer_info(stream, durable)
        except jserr.NotFoundError:
            return  # created by the subscription, with the subjects of this version
        config = info.config
        have = list(config.filter_subjects or ([config.filter_subject] if config.filter_subject else []))
        if sorted(have) == sorted(sub.subjects):
            return
        single = len(sub.subjects) == 1
        config.filter_subject = sub.subjects[0] if single else None
        config.filter_subjects = None if single else list(sub.subjects)
        try:
            await js.add_consumer(stream, config)
        except Exception as exc:
            log.error("durable consumer's subjects not updated", consumer=durable, error=repr(exc), have=have)
            return
        log.info("durable consumer's subjects updated", consumer=durable, before=have, now=sub.subjects)

    def _subscribe(self, sub: Subscription) -> None:
        settings = self.settings
        durable = self._durable(sub)
        self.consumer_lag.add(sub.inbox.name, sub.source_instance, durable)
        subscriber = self.broker.subscriber(
            sub.subjects[0] if len(sub.subjects) == 1 else "",
            stream=JStream(stream_name(sub.source_instance), declare=False),
            durable=durable,  # the reading instance's (see _durable)
            pull_sub=PullSub(batch_size=1, timeout=5.0),
            config=ConsumerConfig(
                filter_subjects=sub.subjects if len(sub.subjects) > 1 else None,
                # our own give-up (dead letter) comes first; the slack covers crashes mid-attempt
                max_deliver=settings.max_deliver + 3,
                ack_wait=settings.ack_wait_seconds,
                max_ack_pending=1,
            ),
            ack_policy=AckPolicy.MANUAL,
            decoder=_undecoded,
        )

        async def handle(body: bytes, msg: NatsMessage) -> None:
            await sub.inbox.receive(msg)

        subscriber(handle)

    async def outbox_head(self) -> dict[str, Any] | None:
        """The head of this service's published chain — how many envelopes its relay has had
        acknowledged and the hash of the last — signed with the instance's key. An auditor compares it
        with the chain found in the stream: an event missing at the chain's tail (deleted, or dropped
        as a duplicate of a message it never was) shows only against the publisher's own count."""
        if self.relay is None:
            return None
        seq, head = await asyncio.to_thread(self.relay.load_chain)
        doc = {
            "instance": self.settings.instance,
            "source": self.relay.source,
            "seq": seq,
            "hash": head,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return doc | {"key_id": self.signer.key_id, "signature": self.signer.sign_bytes(canonical(doc))}

    async def readiness(self) -> dict[str, bool]:
        checks = {"nats": self.jetstream() is not None, "bus_started": self.bus_started}
        if self.relay is not None:
            checks["relay"] = self.relay.running
        return checks

    async def stop(self) -> None:
        """Cancel the background work, close the bus, then the stores — each step bounded in time."""
        # Cancel again until done: on Python 3.11, asyncio.wait_for (used by nats-py and the relay)
        # swallows a cancellation that arrives as its inner future completes (CPython gh-86296).
        deadline = asyncio.get_running_loop().time() + STOP_TIMEOUT_S
        pending = set(self._tasks)
        while pending and asyncio.get_running_loop().time() < deadline:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.25)
        if pending:
            log.error("tasks did not stop in time", tasks=[t.get_name() for t in pending])
        self._tasks.clear()
        try:
            await asyncio.wait_for(self.broker.stop(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.error("the NATS broker did not stop in time")
        except Exception as exc:
            log.warning("stopping the NATS broker failed", error=repr(exc))
        self.bus_started = False
        for closer in self._closers:
            closer()
        self._closers.clear()
        if self.spans is not None:  # the spans still in the batch are exported before the process ends
            await asyncio.to_thread(self.spans.shutdown)


async def _undecoded(msg: Any) -> bytes:
    """The inbox decodes and validates itself (bad bytes go to dead letters, not into a loop)."""
    body: bytes = msg.body
    return body
