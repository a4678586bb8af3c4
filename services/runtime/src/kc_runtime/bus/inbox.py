"""The inbox: exactly-once consumption of contract events from a durable JetStream pull consumer.

For each message: decode the envelope and its contract (undecodable, invalid or unknown version ->
dead letter, ack, move on); skip it if its tracking (consumer @ stream, stream sequence) is already
recorded; otherwise apply the effect, which commits its rows *and* the tracking in one transaction;
then ack. A transient failure naks with a delay; after ``max_deliver`` attempts the message is
dead-lettered with the last error. Consumers take one message at a time (``max_ack_pending=1``), so
each stream is applied in order and "already recorded" means "sequence <= the highest recorded".

An event published in several versions at once (a migration between two versions of its contract:
``kcversions``) is taken once, from the copy in the oldest of those versions this consumer's contracts
know (:meth:`~kc_contracts.base.ContractRegistry.takes`), upcast to the newest it knows; the other copies
are verified like any message, then acknowledged without effect (``other_versions``). A consumer not yet
upgraded does not dead-letter the copy in the version it does not know; an upgraded one takes the same
copy its old version took, so an upgrade in the middle of the stream misses nothing and doubles nothing.

Every envelope must have arrived where its instance publishes: the subject ``kc.<its instance>.…``
on that instance's stream (:func:`~kc_contracts.subjects.misplaced`); a validly signed event of one
instance replayed under another's subject is dead-lettered with the reason, unapplied. With a trust
store, every envelope must be signed by a trusted key of the instance it names, and
must continue its publisher's chain (:class:`~kc_contracts.integrity.ChainCheck`, the heads kept
per consumer in :class:`InboxChains`); anything else is dead-lettered and reported, unapplied.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from eventsourcing.persistence import Tracking
from faststream.nats import NatsMessage
from kc_contracts import ContractEvent, Envelope
from kc_contracts.base import ContractRegistry, UnknownContractError, registry
from kc_contracts.integrity import ChainCheck, IntegrityError, Link
from kc_contracts.subjects import misplaced
from pydantic import ValidationError

from kc_runtime import tracing
from kc_runtime.bus.deadletters import DeadLetters
from kc_runtime.store.views import ViewCursor, ViewStore

log = structlog.get_logger("kc.inbox")


class Verifier(Protocol):
    """Raises :class:`IntegrityError` unless the envelope is signed by a trusted key of its instance."""

    def verify(self, body: Mapping[str, Any]) -> None: ...


class Effect(Protocol):
    """What a consumer does with one event; must record ``tracking`` in the same transaction."""

    def __call__(self, envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None: ...


class UndeliverableMessageError(Exception):
    """The message can never be handled (bad bytes, bad contract, bad signature): dead-letter it."""


@dataclass
class InboxStats:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retried: int = 0
    untrusted: int = 0
    other_versions: int = 0  # copies of an event taken in another version (a migration), passed over


CHAIN_DDL = (
    "CREATE TABLE IF NOT EXISTS kc_inbox_chain ("
    " consumer TEXT NOT NULL, source TEXT NOT NULL, seq BIGINT NOT NULL, head TEXT NOT NULL,"
    " PRIMARY KEY (consumer, source))"
)


_DUPLICATE = "duplicate"  # already applied: tracked at this position


class InboxChains:
    """The last accepted link of each publisher, per consumer, kept in the service's database.

    Written after the effect commits: a crash in between only means the redelivered message is a
    tracked duplicate, and the next new one is checked against the link before it.
    """

    def __init__(self, store: ViewStore) -> None:
        self.store = store
        with store.transaction() as cur:
            cur.execute(store.dialect(CHAIN_DDL))
        self._checks: dict[str, ChainCheck] = {}

    def chain(self, consumer: str) -> ChainCheck:
        if consumer not in self._checks:
            with self.store.transaction(commit=False) as cur:
                rows = cur.execute("SELECT source, seq, head FROM kc_inbox_chain WHERE consumer = ?", (consumer,))
                heads = {r["source"]: Link(int(r["seq"]), r["head"]) for r in rows.fetchall()}
            self._checks[consumer] = ChainCheck(complete=False, heads=heads)
        return self._checks[consumer]

    def advance(self, consumer: str, body: Mapping[str, Any], link: Link) -> None:
        with self.store.transaction() as cur:
            self._write(cur, consumer, body, link)
        self.chain(consumer).advance(body, link)

    @staticmethod
    def _write(cur: ViewCursor, consumer: str, body: Mapping[str, Any], link: Link) -> None:
        cur.execute(
            "INSERT INTO kc_inbox_chain (consumer, source, seq, head) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (consumer, source) DO UPDATE SET seq = excluded.seq, head = excluded.head",
            (consumer, str(body.get("source", "")), link.seq, link.hash),
        )

    @contextmanager
    def advancing(self, consumer: str, body: Mapping[str, Any], link: Link) -> Iterator[None]:
        """Around an effect: its transaction records the publisher's new link with its tracking when the
        effect's store is this one's database (one commit, not two); else the link is written after it."""

        def write(store: ViewStore, cur: ViewCursor) -> bool:
            if store.location != self.store.location:
                return False
            self._write(cur, consumer, body, link)
            return True

        with ViewStore.with_tracking(write) as pending:
            yield
        if pending:  # the effect recorded its tracking elsewhere (its application's own store)
            self.advance(consumer, body, link)
        else:
            self.chain(consumer).advance(body, link)


class Inbox:
    def __init__(
        self,
        *,
        name: str,
        effect: Effect,
        is_tracked: Callable[[Tracking], bool],
        dead_letters: DeadLetters,
        max_deliver: int,
        nak_delay_s: float,
        contracts: ContractRegistry = registry,
        trust: Verifier | None = None,
        chains: InboxChains | None = None,
        spans: tracing.Spans | None = None,
    ) -> None:
        self.name = name
        self.effect = effect
        self.is_tracked = is_tracked
        self.dead_letters = dead_letters
        self.max_deliver = max_deliver
        self.nak_delay_s = nak_delay_s
        self.contracts = contracts
        self.trust = trust
        self.chains = chains
        self.spans = spans  # tracing exported: each applied event is a consumer span
        self.stats = InboxStats()

    def decode(self, data: bytes) -> tuple[Envelope, ContractEvent | None]:
        """The envelope and its contract event (upcast to the newest version known here); the event is
        None for a copy of an event this consumer takes in another version it was published in."""
        try:
            envelope = Envelope.from_json(data)
        except ValidationError as exc:
            raise UndeliverableMessageError(f"not a khuyencong CloudEvents envelope: {_first_error(exc)}") from exc
        if self.trust is not None:
            try:
                self.trust.verify(json.loads(data))
            except IntegrityError as exc:
                self._report(envelope, exc)
                raise UndeliverableMessageError(f"integrity: {exc}") from exc
        try:
            if not self.contracts.takes(*envelope.contract_key, envelope.published_versions()):
                return envelope, None
            return envelope, envelope.decode(self.contracts)
        except UnknownContractError as exc:
            raise UndeliverableMessageError(f"unknown contract version: {exc}") from exc
        except (ValidationError, ValueError) as exc:
            raise UndeliverableMessageError(f"data does not match its contract {envelope.type}: {exc}") from exc

    def check_placement(self, envelope: Envelope, subject: str, stream: str) -> None:
        """Refuse an envelope that is not on its own instance's subject and stream."""
        wrong = placement(envelope, subject, stream)
        if wrong is not None:
            self._report(envelope, IntegrityError("misplaced", wrong))
            raise UndeliverableMessageError(f"misplaced: {wrong}")

    async def receive(self, msg: NatsMessage) -> None:
        raw = msg.raw_message
        meta = raw.metadata
        sequence = int(meta.sequence.stream)
        stream = str(meta.stream)
        tracking = Tracking(f"{self.name}@{stream}", sequence)
        bound = structlog.contextvars.bound_contextvars(consumer=self.name, subject=raw.subject, sequence=sequence)
        with bound:
            try:
                envelope, event = self.decode(raw.data)
                self.check_placement(envelope, raw.subject, stream)
            except UndeliverableMessageError as exc:
                await self._dead_letter(msg, stream, sequence, str(exc))
                return
            if event is None:  # this event's copy in the version this consumer takes is its own message
                self.stats.other_versions += 1
                log.debug("copy of an event taken in another version", event_id=envelope.id, type=envelope.type)
                await msg.ack()
                return
            with structlog.contextvars.bound_contextvars(event_id=envelope.id, correlation_id=envelope.correlationid):
                await self._apply(msg, envelope, event, stream, tracking, int(meta.num_delivered))

    async def _apply(
        self,
        msg: NatsMessage,
        envelope: Envelope,
        event: ContractEvent,
        stream: str,
        tracking: Tracking,
        delivered: int,
    ) -> None:
        try:
            refusal = await asyncio.to_thread(
                self._apply_in_thread, msg.raw_message.data, envelope, event, tracking, msg.raw_message.subject
            )
            if refusal is _DUPLICATE:
                self.stats.duplicates += 1
                await msg.ack()
                return
            if refusal is not None:
                await self._dead_letter(msg, stream, tracking.notification_id, refusal)
                return
        except Exception as exc:
            if delivered >= self.max_deliver:
                reason = f"gave up after {delivered} deliveries: {exc!r}"
                await self._dead_letter(msg, stream, tracking.notification_id, reason)
                return
            self.stats.retried += 1
            log.warning("effect failed; will retry", error=repr(exc), delivered=delivered)
            await msg.nack(delay=self.nak_delay_s)
            return
        self.stats.applied += 1
        await msg.ack()

    def _apply_in_thread(
        self, data: bytes, envelope: Envelope, event: ContractEvent, tracking: Tracking, subject: str = ""
    ) -> str | None:
        """Everything blocking about one message, in one worker-thread hand-off: ``None`` once applied,
        :data:`_DUPLICATE` if already tracked, or why it was refused (it breaks its chain)."""
        if self.is_tracked(tracking):
            return _DUPLICATE
        body, link = self._check_chain(data, envelope)
        if link is None:
            return f"integrity: {body['error']}"
        # what it causes joins the trace (recorded as a consumer span when tracing is exported); the
        # publisher's new chain link commits in the effect's own transaction (InboxChains.advancing)
        with (
            tracing.continued(
                envelope.traceparent,
                envelope.tracestate,
                spans=self.spans,
                name=f"process {envelope.type}",
                kind="consumer",
                attributes=None if self.spans is None else _message_attributes(self.name, subject, envelope, tracking),
            ),
            self.chains.advancing(self.name, body, link) if self.chains is not None else contextlib.nullcontext(),
        ):
            self.effect(envelope, event, tracking)
        return None

    def _check_chain(self, data: bytes, envelope: Envelope) -> tuple[dict[str, Any], Link | None]:
        """The envelope's new chain link, or (``{"error": ...}``, None) if it breaks its chain."""
        if self.chains is None:
            return {}, Link(0, "")
        body: dict[str, Any] = json.loads(data)
        try:
            return body, self.chains.chain(self.name).check(body)
        except IntegrityError as exc:
            self._report(envelope, exc)
            return {"error": str(exc)}, None

    def _report(self, envelope: Envelope, exc: IntegrityError) -> None:
        self.stats.untrusted += 1
        log.error(
            "untrusted event refused; dead-lettered, not applied",
            reason=exc.reason,
            detail=exc.message,
            event_id=envelope.id,
            publisher=envelope.source,
        )

    async def _dead_letter(self, msg: NatsMessage, stream: str, sequence: int, reason: str) -> None:
        raw = msg.raw_message
        try:
            await self.dead_letters.send(
                consumer=self.name,
                data=raw.data,
                subject=raw.subject,
                stream=stream,
                sequence=sequence,
                reason=reason,
                headers=dict(raw.headers or {}),
            )
        except Exception as exc:
            log.error("dead-lettering failed; message will be redelivered", error=repr(exc))
            await msg.nack(delay=self.nak_delay_s)
            return
        self.stats.dead_lettered += 1
        await msg.ack()


def _message_attributes(consumer: str, subject: str, envelope: Envelope, tracking: Tracking) -> dict[str, Any]:
    """OpenTelemetry's messaging and CloudEvents attributes of one consumed event."""
    return {
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.destination.name": subject,
        "messaging.consumer.group.name": consumer,
        "messaging.message.id": envelope.id,
        "kc.stream_sequence": tracking.notification_id,
        "cloudevents.event_id": envelope.id,
        "cloudevents.event_source": envelope.source,
        "cloudevents.event_type": envelope.type,
        "kc.correlation_id": envelope.correlationid,
        "kc.causation_id": envelope.causationid,
    }


def placement(envelope: Envelope, subject: str, stream: str) -> str | None:
    """Why ``envelope`` does not belong on ``subject`` of ``stream`` (None if it does)."""
    return misplaced(
        instance=envelope.kcinstance, source=envelope.source, type_=envelope.type, subject=subject, stream=stream
    )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "(document)"
    return f"{where}: {err.get('msg')}"
