"""Reading a JetStream stream from its start, in order, fast: the one reader of a whole log.

A view's rebuild (:mod:`kc_runtime.bus.rebuild`) and the audit of an instance's log
(:mod:`kc_runtime.bus.streamaudit`, run by ``kc audit`` and the console) both read every message of a
stream up to a known sequence. They read it here, the same way: an ephemeral, unacknowledged pull
consumer read through a plain subscription, one pull request per batch, the next one sent before the
current batch is handed over (so the server streams while the caller works). nats-py's ``fetch``
waits for each message separately (a task and a timer per message), which costs more than decoding
it; FastStream's subscribers are built for consumers that stay (acknowledged, durable), not for one
pass over a log.

The end is known, never waited for: a consumer with nothing pending (an empty stream, or none of the
subjects) is not read at all, and the read stops at the delivery that reports nothing more pending
or reaches ``until_seq`` (the stream's last sequence when the read began; what is published later is
left out). A pull request that expires while messages are still pending (a slow server) is asked
again; one ended otherwise (the consumer gone) is :class:`StreamInterruptedError`, never a silent end.

The consumer is not deleted: an instance's or an auditor's account may create consumers but not
delete them (``deploy/nats``), and asking would wait for a reply that never comes (a request timeout:
5 s, most of a small read). It is in memory and removed by the server once idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

PULL_EXPIRES_S = 5.0  # one pull request waits this long for messages
IDLE_CONSUMER_S = 60.0  # the server removes a reader's consumer after this long unused
EXPIRED_PULLS_TOLERATED = 3  # pull requests in a row that expire with nothing delivered, messages pending


class Stored(NamedTuple):
    """One message as the stream holds it (a tuple: a rebuild makes a million of them)."""

    seq: int
    subject: str
    data: bytes
    stored_ns: int = 0  # when JetStream stored it (ns since the epoch), 0 if unknown


class StreamInterruptedError(RuntimeError):
    """The stream stopped delivering before the read reached its end (a status other than an expired
    pull request, or pull requests expiring in a row while messages were pending)."""

    def __init__(self, stream: str, status: str, pending: int) -> None:
        super().__init__(f"{stream}: stopped delivering with {pending} messages pending (status {status})")
        self.stream = stream
        self.status = status
        self.pending = pending


def delivery(reply: str) -> tuple[int, int, int]:
    """(stream sequence, storage time ns, messages pending) from a JetStream delivery's reply subject."""
    t = reply.split(".")
    if len(t) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
        return int(t[5]), int(t[7]), int(t[8])
    # $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>...
    return int(t[7]), int(t[9]), int(t[10])


@dataclass
class _Pull:
    pending: int = 0  # messages of the consumer not yet delivered, as of the last delivery
    received: list[Stored] = field(default_factory=list)
    complete: asyncio.Event = field(default_factory=asyncio.Event)
    got: int = 0  # delivered for the current pull request
    status: str | None = None  # the status that ended the current pull request
    ended: bool = False


async def read_stream(
    nc: Any,
    js: Any,
    stream: str,
    *,
    until_seq: int,
    batch: int,
    subjects: Sequence[str] = (),
    purpose: str = "read",
    stall_s: float = PULL_EXPIRES_S + 10,
) -> AsyncIterator[list[Stored]]:
    """Every message of ``stream`` (of ``subjects`` when given) up to ``until_seq``, in order, in batches
    of up to ``batch``. ``purpose`` names the consumer (``<purpose>-<random>``); a batch that does not
    come within ``stall_s`` raises :class:`TimeoutError`."""
    config = ConsumerConfig(
        # named: created through $JS.API.CONSUMER.CREATE.<stream>.<name>, the subject an instance's or an
        # auditor's account may use on the deploy/nats configurations (the unnamed form is not exported)
        name=f"{purpose}-{uuid.uuid4().hex[:16]}",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        filter_subjects=list(subjects) or None,
        inactive_threshold=IDLE_CONSUMER_S,
        max_waiting=1,
        mem_storage=True,
    )
    info = await js.add_consumer(stream, config)
    if not info.num_pending or until_seq <= 0:
        return
    next_subject = f"{getattr(js, '_prefix', '$JS.API')}.CONSUMER.MSG.NEXT.{stream}.{info.name}"
    request = json.dumps({"batch": batch, "expires": int(PULL_EXPIRES_S * 1e9)}).encode()
    state = _Pull(pending=int(info.num_pending))

    async def on_message(msg: Any) -> None:
        if not msg.reply:  # a status: 408 request expired, 404 no messages, 409 consumer gone …: this pull is over
            state.status = str((msg.headers or {}).get("Status") or "?")
            state.complete.set()
            return
        seq, stored_ns, pending = delivery(msg.reply)
        state.pending = pending
        if seq > until_seq:  # published after the read began
            state.ended = True
            state.complete.set()
            return
        state.received.append(Stored(seq, msg.subject, msg.data, stored_ns))
        state.got += 1
        if pending == 0 or seq >= until_seq:
            state.ended = True
            state.complete.set()
        elif state.got >= batch:
            state.complete.set()

    async def ask() -> None:
        state.got, state.status = 0, None
        await nc.publish(next_subject, request, reply=inbox)

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=on_message, pending_msgs_limit=4 * batch + 16, pending_bytes_limit=-1)
    expired_in_a_row = 0
    try:
        await ask()
        while True:
            await asyncio.wait_for(state.complete.wait(), stall_s)
            chunk, state.received = state.received, []
            state.complete.clear()
            ended, status = state.ended, state.status
            if status is not None and not ended:
                expired_in_a_row = expired_in_a_row + 1 if not chunk else 0
                if status != "408" or expired_in_a_row >= EXPIRED_PULLS_TOLERATED:
                    raise StreamInterruptedError(stream, status, state.pending)
            if not ended:
                await ask()  # the next batch (or this one again after an expiry) while this one is used
            if chunk:
                yield chunk
            if ended:
                return
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
