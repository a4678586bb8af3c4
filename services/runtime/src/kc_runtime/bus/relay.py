"""The outbox relay: the event store *is* the outbox.

It follows the application's notification log from its stored position, translates each domain
event that has a public contract, publishes the envelope to JetStream with
``Nats-Msg-Id = sha256:<hex of the published bytes>`` (:func:`~kc_contracts.integrity.message_id`)
and waits for the ack, then stores the position (a tracking row in the same database). A crash
between ack and position write republishes the same bytes; JetStream drops the copy by message id.
A save wakes the relay at once; NATS being down only delays it: it retries from the same position,
so order is kept.

The id cannot be taken in advance by anyone who cannot produce the same signed bytes. Still, a
``duplicate`` ack is checked: the relay fetches the stored message (by the sequence in the ack) and
compares it with its own bytes. Anything else is an alarm — logged as an error, recorded with the
relay's own bytes in the instance's dead-letter stream (``kcdlq.<instance>.relay-<service>``),
counted in ``alarms`` — and never counted as published.

During a migration between two versions of a contract the translator returns the event in both (the
new and the old), and the relay publishes one envelope per version, one after the other, each naming
the versions the event went out in (``kcversions``): each reader takes one copy
(:meth:`~kc_contracts.base.ContractRegistry.takes`), consumers not yet upgraded go on with the old one,
and integrators choose theirs by subject.

With a :class:`~kc_contracts.integrity.Signer`, each envelope is signed and chained: it carries its
number in this publisher's chain and the hash of the previous envelope. The chain head is stored
with the position, in one transaction, so a republish after a crash produces the very same bytes.

Why it pages ``select_notifications`` itself rather than iterating eventsourcing's
``ApplicationSubscription`` (9.5): the subscription needs the recorder's ``subscribe()``, which the
SQLite recorder (every service's default store) does not implement; it is a blocking iterator that
cannot be rewound, while a failed publish must start again from the stored position with the chain
head as it was (a rewind of both, above); and the position may only move after JetStream acked, in
the transaction that stores the chain head. A save wakes the relay (``ServiceApplication.on_saved``),
which is what a LISTEN/NOTIFY subscription would give on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, cast

import structlog
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification, Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.integrity import Signer, canonical, message_id
from kc_contracts.subjects import stream_name, subject_for
from nats.js import JetStreamContext

from kc_runtime import tracing
from kc_runtime.bus.deadletters import DeadLetters
from kc_runtime.store.eventstore import ServiceApplication
from kc_runtime.store.localprojection import QUARANTINE_DDL, TRANSIENT, quarantine, quarantine_count, quarantined
from kc_runtime.store.views import ViewStore

# a domain event's public contract (None: private), or the same event in several versions (a migration)
Translate = Callable[[DomainEventProtocol[Any]], ContractEvent | Sequence[ContractEvent] | None]
log = structlog.get_logger("kc.relay")

PUBLISH_TIMEOUT_S = 5.0
IDLE_POLL_S = 1.0
CHAIN_DDL = (
    "CREATE TABLE IF NOT EXISTS kc_outbox_chain ("
    " source TEXT PRIMARY KEY, position BIGINT NOT NULL, seq BIGINT NOT NULL, head TEXT)"
)


class OutboxRelay:
    def __init__(
        self,
        app: ServiceApplication,
        translate: Translate,
        *,
        instance: str,
        service: str,
        jetstream: Callable[[], JetStreamContext | None],
        batch_size: int = 200,
        signer: Signer | None = None,
        alarms: DeadLetters | None = None,
    ) -> None:
        self.app = app
        self.translate = translate
        self.instance = instance
        self.service = service
        self.tracking_name = f"outbox:{service}"
        self._jetstream = jetstream
        self._batch_size = batch_size
        self._stream = stream_name(instance)
        self._wake = asyncio.Event()
        self._position: int | None = None
        self.signer = signer
        self.source = f"/kc/{instance}/{service}"
        self._chain = ViewStore.sharing(app.recorder, app.env, ddl=[CHAIN_DDL, QUARANTINE_DDL])
        self._seq = 0
        self._head: str | None = None
        self.published = 0
        self.alarms = 0  # duplicate acks for a message that is not ours (see the module's docstring)
        self._alarm_letters = alarms or DeadLetters(instance, jetstream)
        self.running = False

    # -- position ---------------------------------------------------------------------------------
    def stored_position(self) -> int:
        return int(self.app.process_recorder.max_tracking_id(self.tracking_name) or 0)

    def load_chain(self) -> tuple[int, str | None]:
        with self._chain.transaction(commit=False) as cur:
            row = cur.execute("SELECT seq, head FROM kc_outbox_chain WHERE source = ?", (self.source,)).fetchone()
        return (int(row["seq"]), row["head"]) if row else (0, None)

    def store_position(self, notification_id: int) -> None:
        """The position and the chain head, in one transaction."""
        with self._chain.transaction() as cur:
            self._chain.track(cur, Tracking(self.tracking_name, notification_id))
            cur.execute(
                "INSERT INTO kc_outbox_chain (source, position, seq, head) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (source) DO UPDATE SET position = excluded.position, seq = excluded.seq,"
                " head = excluded.head",
                (self.source, notification_id, self._seq, self._head),
            )

    def lag(self) -> int:
        head = self.app.recorder.max_notification_id() or 0
        return int(head) - (self._position if self._position is not None else self.stored_position())

    # -- loop -------------------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()

        def wake() -> None:  # called from whichever thread saved
            loop.call_soon_threadsafe(self._wake.set)

        self.app.on_saved(wake)
        self.running = True
        backoff = 0.2
        try:
            while True:
                self._wake.clear()
                try:
                    moved = await self.drain()
                    backoff = 0.2
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # NATS down, timeouts: retry from the same position
                    log.warning("relay publish failed; retrying", error=repr(exc), backoff_s=backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if moved:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_S)
        finally:
            self.running = False

    async def drain(self) -> int:
        """Publish everything after the stored position; return how many notifications it passed."""
        passed = 0
        while True:
            if self._position is None:
                self._position = await asyncio.to_thread(self.stored_position)
                self._seq, self._head = await asyncio.to_thread(self.load_chain)
            chain_before = (self._seq, self._head)
            notifications = await asyncio.to_thread(
                self.app.recorder.select_notifications,
                self._position,
                self._batch_size,
                inclusive_of_start=False,
            )
            if not notifications:
                return passed
            js = self._jetstream()
            if js is None:
                raise ConnectionError("NATS is not connected")
            try:
                for notification in notifications:
                    for message in await self._messages_or_quarantine(notification):
                        await self._send(js, message)
                last = notifications[-1].id
                await asyncio.to_thread(self.store_position, last)
            except BaseException:
                self._seq, self._head = chain_before  # the retry republishes the same bytes
                raise
            self._position = last
            passed += len(notifications)

    async def _messages_or_quarantine(self, notification: Notification) -> list[tuple[Envelope, str, bytes]]:
        """The messages for a stored event (one per version it is published in); none for a private one —
        or for one that cannot become its contract (a number beyond the contract's bounds, saved before
        they existed; a stored event that no longer decodes): that one is quarantined with the reason
        (``/readyz`` shows it) and the relay goes on, instead of retrying it for ever while nothing after
        it is published. Translation is deterministic, so a republish after a crash skips the same event
        and signs the same chain."""
        try:
            return self.messages(self.app.mapper.to_domain_event(notification))
        except TRANSIENT:
            raise
        except Exception as exc:
            await asyncio.to_thread(self._quarantine, notification, exc)
            return []

    def _quarantine(self, notification: Notification, exc: Exception) -> None:
        with self._chain.transaction() as cur:
            quarantine(cur, self.tracking_name, notification, exc)

    def quarantined(self) -> list[dict[str, Any]]:
        return quarantined(self._chain, self.tracking_name)

    def quarantine_count(self) -> int:
        return quarantine_count(self._chain, self.tracking_name)

    async def _send(self, js: JetStreamContext, message: tuple[Envelope, str, bytes]) -> None:
        envelope, subject, payload = message
        ack = await js.publish(
            subject,
            payload,
            timeout=PUBLISH_TIMEOUT_S,
            stream=self._stream,
            headers={"Nats-Msg-Id": message_id(payload), "Content-Type": "application/cloudevents+json"},
        )
        if not ack.duplicate:
            self.published += 1
        elif not await self._is_ours(js, ack.seq, subject, payload):
            await self._alarm(envelope, subject, payload, ack.seq)

    def messages(self, domain_event: DomainEventProtocol[Any]) -> list[tuple[Envelope, str, bytes]]:
        """The envelopes, subjects and exact bytes this relay publishes for ``domain_event`` next (each
        signed as the next link of its chain): one per version of its contract it is published in, none
        for a private event. All are made before any is signed, so one that cannot be made signs none."""
        translated = self.translate(domain_event)
        if translated is None:
            return []
        contracts = [translated] if isinstance(translated, ContractEvent) else list(translated)
        if len({c.type for c in contracts}) > 1 or len({c.version for c in contracts}) < len(contracts):
            raise ValueError(f"one event, one contract in distinct versions: {[c.schema_name() for c in contracts]}")
        versions = [c.version for c in contracts]
        traceparent, tracestate = tracing.of(domain_event)
        envelopes = [
            Envelope.wrap(
                contract,
                instance=self.instance,
                service=self.service,
                stream_id=domain_event.originator_id,
                stream_version=domain_event.originator_version,
                time=cast(Any, domain_event).timestamp,
                correlation_id=getattr(domain_event, "correlation_id", None),
                causation_id=getattr(domain_event, "causation_id", None),
                traceparent=traceparent,
                tracestate=tracestate,
                versions=versions,
            )
            for contract in contracts
        ]
        return [
            (envelope, subject_for(self.instance, contract), self._signed(envelope))
            for envelope, contract in zip(envelopes, contracts, strict=True)
        ]

    def _signed(self, envelope: Envelope) -> bytes:
        if self.signer is None:
            return envelope.to_json()
        body = self.signer.sign(envelope.body(), seq=self._seq + 1, prev_hash=self._head)
        payload = canonical(body)
        # the published bytes are the canonical body: their hash is its envelope_hash (the next link's
        # kcprevhash) and the message id, computed once
        self._seq, self._head = self._seq + 1, message_id(payload)
        return payload

    async def _is_ours(self, js: JetStreamContext, seq: int, subject: str, payload: bytes) -> bool:
        """Whether the message JetStream kept under our id (a republish after a crash) is our very bytes."""
        try:
            stored = await js.get_msg(self._stream, seq)
        except Exception as exc:  # gone (deleted) or unreadable: it cannot be shown to be ours
            log.error("cannot fetch the message a duplicate ack points to", seq=seq, error=repr(exc))
            return False
        return bool(stored.data == payload and stored.subject == subject)

    async def _alarm(self, envelope: Envelope, subject: str, payload: bytes, seq: int) -> None:
        reason = (
            f"duplicate ack for a message that is not ours: {self._stream} #{seq} holds other bytes under our "
            f"Nats-Msg-Id {message_id(payload)}; event {envelope.id} is not on the bus"
        )
        log.error("message id taken by a foreign message; event not published", event_id=envelope.id, seq=seq)
        self.alarms += 1
        # our own bytes, kept beside the reason: nothing is lost, and an operator can publish them again
        await self._alarm_letters.send(
            consumer=f"relay-{self.service}",
            data=payload,
            subject=subject,
            stream=self._stream,
            sequence=seq,
            reason=reason,
            headers={"Content-Type": "application/cloudevents+json"},
        )
