"""The dead-letter stream: a message no consumer can ever handle, kept with the reason.

The original bytes go unchanged into ``kcdlq.<instance>.<consumer>``; headers carry the reason and
where the message came from. Dead-lettering happens before the ack, so if it fails the message is
redelivered rather than lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping

import structlog
from kc_contracts.subjects import dead_letter_stream, dead_letter_subject
from nats.js import JetStreamContext

log = structlog.get_logger("kc.deadletters")

REASON = "Kc-Dead-Letter-Reason"
ORIGINAL_SUBJECT = "Kc-Original-Subject"
ORIGINAL_STREAM = "Kc-Original-Stream"
ORIGINAL_SEQUENCE = "Kc-Original-Sequence"
CONSUMER = "Kc-Consumer"


# why a message was dead-lettered, in a few words (a metric's label: bounded, unlike the reason itself)
REASON_KINDS = (
    ("not a khuyencong CloudEvents envelope", "envelope"),
    ("integrity:", "integrity"),
    ("misplaced:", "misplaced"),
    ("unknown contract version", "unknown_contract"),
    ("data does not match its contract", "contract_mismatch"),
    ("gave up after", "gave_up"),
    ("duplicate ack for a message that is not ours", "foreign_duplicate"),
)


def reason_kind(reason: str) -> str:
    """The kind of a dead letter's reason (``other`` for one no kind names)."""
    return next((kind for prefix, kind in REASON_KINDS if reason.startswith(prefix)), "other")


def _header_safe(text: str, limit: int = 900) -> str:
    return " ".join(text.split())[:limit]


class DeadLetters:
    def __init__(self, instance: str, jetstream: Callable[[], JetStreamContext | None]) -> None:
        self.instance = instance
        self._jetstream = jetstream
        self.sent = 0
        self.by_reason: Counter[tuple[str, str]] = Counter()  # (consumer, reason kind) -> sent

    async def send(
        self,
        *,
        consumer: str,
        data: bytes,
        subject: str,
        stream: str,
        sequence: int,
        reason: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        js = self._jetstream()
        if js is None:
            raise ConnectionError("NATS is not connected")
        out = {k: v for k, v in (headers or {}).items() if k != "Nats-Msg-Id"}
        out |= {
            "Nats-Msg-Id": f"dlq:{consumer}:{stream}:{sequence}",
            REASON: _header_safe(reason),
            ORIGINAL_SUBJECT: subject,
            ORIGINAL_STREAM: stream,
            ORIGINAL_SEQUENCE: str(sequence),
            CONSUMER: consumer,
        }
        await js.publish(
            dead_letter_subject(self.instance, consumer),
            data,
            stream=dead_letter_stream(self.instance),
            headers=out,
            timeout=5.0,
        )
        self.sent += 1
        self.by_reason[(consumer, reason_kind(reason))] += 1
        log.warning("dead-lettered", consumer=consumer, subject=subject, sequence=sequence, reason=reason)
