"""Verifying an instance's bus log, as ``kc audit verify`` and the console's Kiểm toán page do.

Reads every message of the instance's stream in order (an unacknowledged pull consumer read in large
batches) and checks with :func:`kc_contracts.integrity.verify_stream` every signature against the trust
file and every hash link of every publisher's chain, from #1. It also checks that each envelope belongs
where it was found (its instance, its source, its subject). A byte-identical copy of an envelope already
verified (a relay's republish beyond the duplicate window) is counted, not failed. Compared with the
chain heads the publishing services report themselves (``GET /outbox/head``, signed by their instance),
an event missing at the tail of a chain is found too.

Pure checks (:class:`Audit`, :func:`checked_head`) and the replay into them (:func:`replay`, reading
with :mod:`kc_runtime.bus.reader`, the rebuild's reader); what fetches the heads, prints, or shows the
result is the caller's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kc_contracts.envelope import envelope_type
from kc_contracts.integrity import IntegrityError, TrustStore, canonical, envelope_hash, verify_stream
from kc_contracts.subjects import parse_subject, stream_name

from kc_runtime.bus import reader
from kc_runtime.bus.reader import PULL_EXPIRES_S, Stored, StreamInterruptedError


class AuditError(Exception):
    """Something that stops the audit (not a verification failure): one line for the person."""


# -- reading a stream --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamState:
    name: str
    messages: int
    first_seq: int
    last_seq: int


async def _quiet(*_: Any) -> None:
    """nats-py logs connection errors with a traceback unless given callbacks: the CLI reports them itself."""


async def connect(url: str) -> Any:
    import nats

    servers = [u.strip() for u in url.split(",") if u.strip()]
    try:
        return await nats.connect(
            servers,
            connect_timeout=5,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            error_cb=_quiet,
            disconnected_cb=_quiet,
            closed_cb=_quiet,
        )
    except Exception as exc:
        raise AuditError(f"NATS {url} không trả lời / does not answer: {exc or type(exc).__name__}") from exc


async def stream_state(js: Any, stream: str) -> StreamState:
    from nats.js.errors import NotFoundError

    try:
        info = await js.stream_info(stream)
    except NotFoundError as exc:
        raise AuditError(f"không có luồng {stream} trên NATS / no stream {stream}") from exc
    except Exception as exc:
        raise AuditError(f"không đọc được luồng {stream} / cannot read stream {stream}: {exc}") from exc
    return StreamState(stream, int(info.state.messages), int(info.state.first_seq), int(info.state.last_seq))


# -- verification ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    seq: int | None  # stream sequence (None: the bundle as a whole)
    event_id: str
    publisher: str
    reason: str
    message: str

    def line(self) -> str:
        chain_level = self.reason in ("missing_tail", "head_mismatch")
        where = f"#{self.seq}" if self.seq is not None else ("chuỗi/chain" if chain_level else "gói/bundle")
        return f"✘ {where}  {self.event_id}  {self.publisher}  {self.reason}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "event_id": self.event_id,
            "publisher": self.publisher,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass
class Chain:
    """One publisher's envelopes as found in the stream."""

    events: int = 0
    first_seq: int = 0
    last_seq: int = 0
    head: dict[str, Any] | None = None  # the last verified envelope (hashed once, at the end)
    keys: set[str] = field(default_factory=set)

    def head_hash(self) -> str | None:
        return envelope_hash(self.head) if self.head is not None else None

    def length(self) -> int:
        seq = (self.head or {}).get("kcseq")
        return seq if isinstance(seq, int) else 0


@dataclass(frozen=True)
class PublisherHead:
    """What a publishing service says it has published (``GET /outbox/head``), signed by its instance."""

    source: str
    seq: int
    hash: str | None
    at: str
    service: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at, "service": self.service}


def checked_head(doc: Any, instance: str, service: str, trust: TrustStore) -> PublisherHead:
    """A publishing service's ``GET /outbox/head`` answer, checked against ``instance``'s key in the
    trust file and for being of ``instance``: a head that fails is an :class:`AuditError`."""
    try:
        signed = {k: doc[k] for k in ("instance", "source", "seq", "hash", "at")}
        trust.verify_bytes(instance, canonical(signed), str(doc["signature"]), str(doc["key_id"]))
    except (ValueError, KeyError, TypeError, IntegrityError) as exc:
        raise AuditError(
            f"{instance}/{service}: đầu chuỗi không có chữ ký hợp lệ của {instance} / "
            f"the head is not validly signed by {instance}: {exc}"
        ) from exc
    if signed["instance"] != instance or not str(signed["source"]).startswith(f"/kc/{instance}/"):
        raise AuditError(f"{instance}/{service}: đầu chuỗi của nơi khác / a head of another instance")
    return PublisherHead(str(signed["source"]), int(signed["seq"]), signed["hash"], str(signed["at"]), service)


class Audit:
    """Checks a stream's envelopes one at a time, in order, and keeps what the summary needs.

    Signatures and links are :func:`verify_stream`'s (fed one envelope at a time, so a stream of any
    length is checked in constant memory); this adds where an envelope was found (its instance,
    source and subject must be the stream's) and sets byte-identical republishes aside.
    """

    def __init__(self, instance: str, trust: TrustStore) -> None:
        self.instance = instance
        self.trust = trust
        self.messages = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.missing_seqs = 0  # holes in the stream sequence (deleted messages)
        self.failures: list[Failure] = []
        self.duplicates: list[tuple[int, str, str]] = []
        self.chains: dict[str, Chain] = {}
        self.types: Counter[str] = Counter()
        self.keys: Counter[str] = Counter()
        self.key_instance: dict[str, str] = {}
        self._verified: dict[tuple[str, int], bytes] = {}  # (source, kcseq) -> sha256 of the bytes accepted
        self.heads: dict[str, PublisherHead] = {}  # the publishers' own heads, when asked for (compare_heads)
        self._at_head: dict[str, str] = {}  # source -> hash of its verified envelope at its head's position
        self._queue: deque[dict[str, Any]] = deque()
        self._results = iter(verify_stream(self._feed(), trust))

    def _feed(self) -> Iterator[dict[str, Any]]:
        while True:
            yield self._queue.popleft()

    def fail(self, seq: int | None, event_id: str, publisher: str, reason: str, message: str) -> None:
        self.failures.append(Failure(seq, event_id, publisher, reason, message))

    def add(self, seq: int, subject: str, data: bytes, known: dict[str, Any] | None = None) -> None:
        """Check one message; ``known`` is what the bundle's index says about it (names it if unreadable)."""
        known = known or {}
        self.messages += 1
        if self.first_seq is None:
            self.first_seq = seq
        elif self.last_seq is not None and seq > self.last_seq + 1:
            self.missing_seqs += seq - self.last_seq - 1
        self.last_seq = seq
        try:
            body = json.loads(data)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.fail(
                seq,
                str(known.get("id") or "?"),
                str(known.get("source") or "?"),
                "not_json",
                "không phải đối tượng JSON / not a JSON object",
            )
            return
        event_id, source = str(body.get("id") or known.get("id") or "?"), str(body.get("source") or "?")
        kcseq = body.get("kcseq")
        digest = hashlib.sha256(data).digest()
        if isinstance(kcseq, int) and self._verified.get((source, kcseq)) == digest:
            self.duplicates.append((seq, event_id, source))  # a republish: the same bytes, already verified
            return
        self._queue.append(body)
        result: IntegrityError | None = next(self._results)
        placed = self._placement(body, subject)
        if result is not None:
            self.fail(seq, event_id, source, result.reason, result.message)
        for reason, message in placed:
            self.fail(seq, event_id, source, reason, message)

        chain = self.chains.setdefault(source, Chain(first_seq=seq))
        chain.events += 1
        chain.last_seq = seq
        kid = str(body.get("kckeyid") or "")
        if kid:
            chain.keys.add(kid)
            self.keys[kid] += 1
            self.key_instance.setdefault(kid, str(body.get("kcinstance") or "?"))
        self.types[str(body.get("type") or "?")] += 1
        if result is None and not placed and isinstance(kcseq, int):
            chain.head = body  # the chain's head is its last verified link
            self._verified[(source, kcseq)] = digest
            head = self.heads.get(source)
            if head is not None and head.seq == kcseq:
                self._at_head[source] = envelope_hash(body)

    def compare_heads(self) -> None:
        """Each publisher's chain in the stream must reach the head the publisher itself reports (taken
        before the stream was read): an event missing at the tail — deleted, or never stored because
        JetStream took it for a duplicate of another message — leaves no broken link, only a shorter
        chain."""
        for source, head in sorted(self.heads.items()):
            chain = self.chains.get(source)
            found = chain.length() if chain is not None else 0
            if head.seq > found:
                self.fail(
                    None,
                    "(tail)",
                    source,
                    "missing_tail",
                    f"bên phát đã phát {head.seq} sự kiện, luồng chỉ có chuỗi đến #{found}: thiếu "
                    f"{head.seq - found} sự kiện cuối / the publisher has published {head.seq} events, the "
                    f"stream holds its chain up to #{found}",
                )
            elif head.seq and self._at_head.get(source) != head.hash:
                self.fail(
                    None,
                    "(head)",
                    source,
                    "head_mismatch",
                    f"sự kiện #{head.seq} trên luồng khác với đầu chuỗi bên phát báo / event #{head.seq} in the "
                    "stream is not the one the publisher reports as its head",
                )

    def _placement(self, body: dict[str, Any], subject: str) -> list[tuple[str, str]]:
        """Is the envelope where it belongs: its instance's stream, its source, its subject?"""
        out = []
        instance, source = body.get("kcinstance"), str(body.get("source") or "")
        if instance != self.instance:
            out.append(("wrong_instance", f"kcinstance {instance!r} trên luồng của / on the stream of {self.instance}"))
        if not source.startswith(f"/kc/{self.instance}/"):
            out.append(("wrong_source", f"source {source!r} không thuộc / is not of {self.instance}"))
        if subject:
            try:
                inst, type_, version = parse_subject(subject)
                expected = envelope_type(type_, version)
            except ValueError:
                inst, expected = "", ""
            if inst != self.instance or expected != body.get("type"):
                out.append(("wrong_subject", f"subject {subject} không khớp / does not match type {body.get('type')}"))
        return out

    # -- what was found ---------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return not self.failures

    def key_status(self, kid: str) -> str:
        key = self.trust.find(self.key_instance.get(kid, ""), kid)
        if key is None:
            return "không tin cậy / unknown"
        if key.revoked:
            return "thu hồi / revoked"
        if key.valid_until is not None:
            return f"đã thay {key.valid_until:%Y-%m-%d %H:%M} / retired"
        return "hiện hành / current"

    def publishers(self) -> dict[str, dict[str, Any]]:
        return {
            source: {
                "events": c.events,
                "chain_length": c.length(),
                "head_hash": c.head_hash(),
                "first_seq": c.first_seq,
                "last_seq": c.last_seq,
                "keys": sorted(c.keys),
            }
            for source, c in sorted(self.chains.items())
        }

    def key_records(self) -> dict[str, dict[str, Any]]:
        return {
            kid: {"instance": self.key_instance.get(kid), "events": n, "status": self.key_status(kid)}
            for kid, n in sorted(self.keys.items())
        }

    def report(self, **extra: Any) -> dict[str, Any]:
        return extra | {
            "instance": self.instance,
            "messages": self.messages,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "missing_seqs": self.missing_seqs,
            "duplicates": [{"seq": s, "event_id": e, "publisher": p} for s, e, p in self.duplicates],
            "publishers": self.publishers(),
            "event_types": dict(sorted(self.types.items())),
            "keys": self.key_records(),
            "publisher_heads": {k: h.to_json() for k, h in sorted(self.heads.items())},
            "failures": [f.to_json() for f in self.failures],
            "verified": self.ok,
        }


async def read_stream(nc: Any, js: Any, state: StreamState, batch: int = 5000) -> AsyncIterator[list[Stored]]:
    """Every message of the stream up to ``state.last_seq``, in order, in batches of up to ``batch``
    (:func:`kc_runtime.bus.reader.read_stream`); messages published after ``state`` was taken are left
    out (the audit is of the stream as it was then)."""
    if state.messages == 0:
        return
    try:
        async for chunk in reader.read_stream(
            nc, js, state.name, until_seq=state.last_seq, batch=batch, purpose="audit", stall_s=PULL_EXPIRES_S + 25
        ):
            yield chunk
    except TimeoutError as exc:
        raise AuditError(f"NATS ngừng gửi luồng {state.name} / stopped delivering the stream") from exc


async def replay(
    url: str,
    instance: str,
    audit: Audit,
    *,
    batch: int,
    sink: Callable[[Stored], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StreamState:
    """Read the instance's stream from NATS into ``audit`` (and ``sink``); ``progress(done, total)``
    after each batch."""
    nc = await connect(url)
    try:
        js = nc.jetstream()
        state = await stream_state(js, stream_name(instance))
        if progress is not None:
            progress(0, state.messages)
        async for chunk in read_stream(nc, js, state, batch):
            for msg in chunk:
                if sink is not None:
                    sink(msg)
                audit.add(msg.seq, msg.subject, msg.data)
            if progress is not None:
                progress(audit.messages, state.messages)
    except StreamInterruptedError:
        pass  # what was read is verified; the read's end short of the stream's is a failure (below)
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    if audit.last_seq is not None and audit.last_seq < state.last_seq:
        audit.fail(
            None,
            "(stream)",
            "",
            "incomplete",
            f"chỉ đọc được đến #{audit.last_seq} / read only up to #{audit.last_seq}",
        )
    return state
