"""The bus side of a service's metrics: relay lag, consumer lag per durable, inbox outcomes, dead
letters by reason, projection lag and quarantine.

Relay and projection figures are read at scrape time from the service's own database (the relay's
stored position against the notification log's head: events saved but not yet acknowledged by the
bus). Consumer lag needs JetStream's consumer info, a network call: :class:`ConsumerLag` samples it
every ``metrics_sample_seconds`` (15 s, Prometheus' usual scrape interval) in the background and a
scrape reads the last sample (with its time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from kc_contracts.subjects import stream_name
from nats.js import JetStreamContext

from kc_runtime.bus.deadletters import DeadLetters
from kc_runtime.bus.inbox import Inbox
from kc_runtime.bus.relay import OutboxRelay
from kc_runtime.metrics import Metrics, Samples
from kc_runtime.store.localprojection import LocalProjection

log = structlog.get_logger("kc.metrics")

CONSUMER_SAMPLE_S = 15.0


@dataclass
class ConsumerSample:
    pending: int  # in the stream, not yet delivered to this durable
    ack_pending: int  # delivered, not yet acknowledged
    redelivered: int
    at: float  # time.time() of the sample


class ConsumerLag:
    """The last JetStream consumer info of each durable this service reads, sampled in the background."""

    def __init__(self, jetstream: Callable[[], JetStreamContext | None]) -> None:
        self._jetstream = jetstream
        self.durables: list[tuple[str, str, str]] = []  # (consumer name, stream, durable)
        self.samples: dict[str, ConsumerSample] = {}

    def add(self, consumer: str, source_instance: str, durable: str) -> None:
        self.durables.append((consumer, stream_name(source_instance), durable))

    async def sample(self) -> None:
        js = self._jetstream()
        if js is None:
            return
        for consumer, stream, durable in self.durables:
            try:
                info = await js.consumer_info(stream, durable, timeout=2.0)
            except Exception as exc:  # not created yet (bus starting), NATS away: keep the last sample
                log.debug("consumer info unavailable", consumer=consumer, error=repr(exc))
                continue
            self.samples[consumer] = ConsumerSample(
                pending=int(info.num_pending or 0),
                ack_pending=int(info.num_ack_pending or 0),
                redelivered=int(info.num_redelivered or 0),
                at=time.time(),
            )

    async def run(self, interval_s: float = CONSUMER_SAMPLE_S) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(interval_s)


def register_bus_metrics(
    metrics: Metrics,
    *,
    relay: Callable[[], OutboxRelay | None],
    inboxes: Callable[[], Sequence[Inbox]],
    projections: Callable[[], Sequence[LocalProjection]],
    dead_letters: DeadLetters,
    consumers: ConsumerLag,
) -> None:
    def relay_lag() -> Samples:
        found = relay()
        return [] if found is None else [((), float(found.lag()))]

    def relay_published() -> Samples:
        found = relay()
        return [] if found is None else [((), float(found.published))]

    def relay_quarantined() -> Samples:
        found = relay()
        return [] if found is None else [((), float(found.quarantine_count()))]

    def relay_running() -> Samples:
        found = relay()
        return [] if found is None else [((), 1.0 if found.running else 0.0)]

    metrics.gauge(
        "kc_relay_lag_events",
        "Events saved in the event store but not yet acknowledged by the bus",
        [],
        relay_lag,
    )
    metrics.gauge("kc_relay_running", "1 while the outbox relay runs", [], relay_running)
    metrics.counter(
        "kc_relay_published", "Envelopes the bus acknowledged as new (since the process started)", [], relay_published
    )
    metrics.gauge(
        "kc_relay_quarantined_events",
        "Stored events that could not become their contract (not published; see /readyz)",
        [],
        relay_quarantined,
    )

    def pending(attribute: str) -> Callable[[], Samples]:
        def read() -> Samples:
            return [((name,), float(getattr(s, attribute))) for name, s in sorted(consumers.samples.items())]

        return read

    metrics.gauge(
        "kc_consumer_pending_messages",
        "Messages in the source stream not yet delivered to this durable consumer (JetStream, sampled)",
        ["consumer"],
        pending("pending"),
    )
    metrics.gauge(
        "kc_consumer_ack_pending_messages",
        "Messages delivered to this durable consumer and not yet acknowledged (JetStream, sampled)",
        ["consumer"],
        pending("ack_pending"),
    )
    metrics.gauge(
        "kc_consumer_sample_timestamp_seconds",
        "When the consumer's JetStream info was last sampled (Unix time)",
        ["consumer"],
        pending("at"),
    )

    def inbox_outcomes() -> Samples:
        out: list[tuple[Sequence[str], float]] = []
        for inbox in inboxes():
            stats = inbox.stats
            for outcome in ("applied", "duplicates", "dead_lettered", "retried", "untrusted", "other_versions"):
                out.append(((inbox.name, outcome), float(getattr(stats, outcome))))
        return out

    metrics.counter(
        "kc_inbox_messages",
        "Messages an inbox handled, by consumer and outcome (since the process started)",
        ["consumer", "outcome"],
        inbox_outcomes,
    )

    def dead_lettered() -> Samples:
        return [((c, k), float(n)) for (c, k), n in sorted(dead_letters.by_reason.items())]

    metrics.counter(
        "kc_dead_letters",
        "Messages sent to the instance's dead-letter stream, by consumer and kind of reason (since start)",
        ["consumer", "reason"],
        dead_lettered,
    )

    def projection_figure(read: Callable[[LocalProjection], int]) -> Callable[[], Samples]:
        return lambda: [((p.name,), float(read(p))) for p in projections()]

    metrics.gauge(
        "kc_projection_quarantined_events",
        "Events a local projection set aside (could not apply; see /readyz)",
        ["projection"],
        projection_figure(lambda p: p.quarantine_count()),
    )
    metrics.gauge(
        "kc_projection_lag_events",
        "Events saved but not yet applied to a local projection",
        ["projection"],
        projection_figure(lambda p: p.lag()),
    )
