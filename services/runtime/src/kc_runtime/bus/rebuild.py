"""Rebuilding a bus-fed view from the bus log, and the digest that proves it equals the live one.

A view is a set of tables written by one ``apply_rows`` function from contract events (the live
consumer applies a batch of one). ``rebuild`` replays the source streams from the start (an
unacknowledged pull consumer read in large batches, one batch in memory at a time so memory stays
flat; each batch is applied in one transaction) into fresh ``<table>__rebuild`` tables. The swap
runs in one transaction that first takes the write lock the live consumers need, applies whatever
the live view consumed past the replay's position, drops the live tables, renames the fresh ones and
records the tracking positions: the live view and the rebuild can never drift apart. The digest is a
SHA-256 over every row in primary-key order.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Protocol, Union

import nats
import structlog
from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.base import UnknownContractError, registry
from kc_contracts.envelope import envelope_type
from kc_contracts.integrity import ChainCheck, IntegrityError, Link, envelope_hash
from pydantic import Field, TypeAdapter, ValidationError, create_model

from kc_runtime.bus.inbox import Effect, placement
from kc_runtime.bus.reader import Stored, StreamInterruptedError, read_stream
from kc_runtime.store.views import ViewCursor, ViewStore

log = structlog.get_logger("kc.rebuild")


class BusView(Protocol):
    """A view fed by contract events: its tables and how a sequence of events changes them."""

    tables: ClassVar[dict[str, str]]  # logical name -> CREATE TABLE statement with {t} for the table name
    keys: ClassVar[dict[str, str]]  # logical name -> its primary key's columns: the digest's ORDER BY

    def apply_rows(
        self, cur: ViewCursor, names: dict[str, str], events: Sequence[tuple[Envelope, ContractEvent]]
    ) -> None:
        """Apply ``events`` in order, as if one at a time (the live consumer passes one)."""
        ...


@dataclass(frozen=True)
class Source:
    """A stream to replay, the subjects of it the view reads, and the live consumer's tracking name."""

    stream: str
    subjects: list[str]
    tracking_name: str


@dataclass
class RebuildReport:
    events: int = 0
    skipped: int = 0
    seconds: float = 0.0
    digest: str = ""
    positions: dict[str, int] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)  # where the rows are (as-of rebuilds keep them aside)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def create_tables(cur: ViewCursor, view: BusView, names: dict[str, str], *, drop: bool) -> None:
    for logical, ddl in view.tables.items():
        if drop:
            cur.execute(f"DROP TABLE IF EXISTS {names[logical]}")
        cur.execute(ddl.format(t=names[logical]))


# ``json.dumps(row, sort_keys=True, default=str, ensure_ascii=False)``, built once instead of per row
_row_json = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False).encode


def digest(cur: ViewCursor, view: BusView, names: dict[str, str] | None = None) -> str:
    """SHA-256 over each table's name and then its rows as sorted-key JSON, in primary-key order."""
    h = hashlib.sha256()
    for logical in sorted(view.tables):
        table = (names or {}).get(logical, logical)
        h.update(logical.encode())
        cur.execute(f"SELECT * FROM {table} ORDER BY {view.keys[logical]}")
        while chunk := cur.fetchmany(5000):  # streamed: memory stays flat however large the view
            h.update("".join(map(_row_json, chunk)).encode())  # = one update per row, in order
    return h.hexdigest()


def live_digest(store: ViewStore, view: BusView) -> str:
    with store.transaction(commit=False) as cur:
        return digest(cur, view)


class ReplayVerifier(Protocol):
    """The trust file, as the live inboxes use it (:class:`kc_runtime.keys.TrustFile`)."""

    def verify(self, body: Mapping[str, Any]) -> None: ...

    def admit(self, body: Mapping[str, Any]) -> None: ...


class ReplayTrust:
    """The live inboxes' trust decisions, taken again over the replayed log: an envelope is applied
    only if signed by a trusted key of its instance and continuing its publisher's chain as far as
    it is seen (a partial :class:`~kc_contracts.integrity.ChainCheck`), so a forged or replayed
    message the live view refused is left out of the rebuild too and the digests stay comparable.

    Verifying one Ed25519 signature costs ~60-110 µs here, more than the rest of a replayed event,
    so a batch takes a shortcut that decides the same: within a publisher's run of consecutive
    envelopes, each one's bytes are authenticated by its successor's ``kcprevhash`` (the SHA-256 of
    exactly those bytes, which the relay publishes canonically), so only the last of each run needs
    its signature checked; every envelope's key is still checked (revoked, retired). Any doubt in a
    batch (a failed signature, a break in a chain, bytes not canonical) and the batch is decided
    again one envelope at a time, exactly as the live inbox does.
    """

    def __init__(self, trust: ReplayVerifier | None) -> None:
        self.trust = trust
        self.chains = ChainCheck(complete=False)
        self.refused = 0

    def accepted(self, batch: Sequence[tuple[bytes, Envelope]]) -> list[bool]:
        """For each (bytes, envelope) in stream order: whether the live inbox would have applied it."""
        if self.trust is None:
            return [True] * len(batch)
        quick = self._by_links(self.trust, batch)
        if quick is not None:
            return quick
        return [self._one(self.trust, data) for data, _ in batch]

    def _by_links(self, trust: ReplayVerifier, batch: Sequence[tuple[bytes, Envelope]]) -> list[bool] | None:
        heads = dict(self.chains.heads)
        hashes = ["sha256:" + hashlib.sha256(data).hexdigest() for data, _ in batch]
        linked = [False] * len(batch)
        last: dict[str, int] = {}
        try:
            for i, (_data, envelope) in enumerate(batch):
                seq, head = envelope.kcseq, heads.get(envelope.source)
                if seq is None or (
                    head is not None
                    and (seq <= head.seq or (seq == head.seq + 1 and head.hash and envelope.kcprevhash != head.hash))
                ):
                    return None
                before = last.get(envelope.source)
                if (
                    before is not None
                    and seq == heads[envelope.source].seq + 1
                    and envelope.kcprevhash == hashes[before]
                ):
                    linked[before] = True
                last[envelope.source] = i
                heads[envelope.source] = Link(seq, hashes[i])
                trust.admit(_key_facts(envelope))
            for i, (data, _envelope) in enumerate(batch):
                if not linked[i]:
                    body = json.loads(data)
                    trust.verify(body)
                    if envelope_hash(body) != hashes[i]:  # not canonical bytes: its successor would not link
                        return None
        except IntegrityError:
            return None
        self.chains.heads = heads
        return [True] * len(batch)

    def _one(self, trust: ReplayVerifier, data: bytes) -> bool:
        body = json.loads(data)
        try:
            trust.verify(body)
            link = self.chains.check(body)
        except IntegrityError:
            self.refused += 1
            return False
        self.chains.advance(body, link)
        return True


def _key_facts(envelope: Envelope) -> dict[str, Any]:
    """What :meth:`ReplayVerifier.admit` reads of an envelope."""
    return {
        "id": envelope.id,
        "kcinstance": envelope.kcinstance,
        "kcsig": envelope.kcsig,
        "kckeyid": envelope.kckeyid,
        "time": envelope.time.isoformat(),
    }


def _decode(data: bytes, typed_envelopes: Any = None) -> tuple[Envelope, ContractEvent] | None:
    """The envelope and its event, or None where the live consumer dead-lettered the message."""
    try:
        typed = (typed_envelopes or typed_envelope_validator()).validate_json(data)
        if typed.kcversions:  # published in several versions: is this the copy the live inbox took?
            type_, version = typed.contract_key
            if not registry.takes(type_, version, typed.published_versions()):
                return None
        return typed, typed.data
    except ValidationError:
        pass  # an older version (upcast), an unknown one, or bad: decide exactly as the live inbox
    try:
        envelope = Envelope.from_json(data)
        if not registry.takes(*envelope.contract_key, envelope.published_versions()):
            return None  # the event's copy in another version it was published in is the one applied
        return envelope, envelope.decode()
    except (ValidationError, ValueError, UnknownContractError):
        return None  # it was dead-lettered by the live consumer too: the view never saw it


def typed_envelope_validator() -> Any:
    """The validator for the contracts registered now (built once for each set of contracts)."""
    return _typed_envelopes(tuple(registry.models.items()))


@functools.cache
def _typed_envelopes(models: tuple[tuple[tuple[str, int], type[ContractEvent]], ...]) -> Any:
    """One validator, from the JSON bytes, for "an envelope whose ``data`` is the newest version of its
    contract" (tagged by ``type``): what ``Envelope.from_json`` then ``envelope.decode()`` accept and
    give for such a message, in one pass instead of two. Its ``data`` is the contract event itself."""
    newest: dict[str, tuple[int, type[ContractEvent]]] = {}
    for (type_, version), model in models:
        if type_ not in newest or version > newest[type_][0]:
            newest[type_] = (version, model)
    variants: list[Any] = [
        create_model(
            f"Typed_{model.__name__}",
            __base__=Envelope,
            type=(Literal[envelope_type(type_, version)], ...),  # type: ignore[arg-type]
            data=(model, ...),
        )
        for type_, (version, model) in sorted(newest.items())
    ]
    if len(variants) < 2:
        adapter: TypeAdapter[Any] = TypeAdapter(variants[0] if variants else Envelope)
    else:
        adapter = TypeAdapter(Annotated[Union[tuple(variants)], Field(discriminator="type")])  # type: ignore[arg-type]  # noqa: UP007
    return adapter.validator  # the core validator: TypeAdapter.validate_json adds a few µs per call


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one batch (synchronous code, no await inside).

    A batch holds thousands of freshly decoded events at once; each of them would count towards the
    collector's thresholds, and its passes over them doubled the cost of decoding. They hold no
    reference cycles: reference counting frees them when the batch is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def _replay(nc: Any, js: Any, source: Source, until_seq: int, batch: int) -> AsyncIterator[list[Stored]]:
    """The source's messages up to ``until_seq`` (:func:`kc_runtime.bus.reader.read_stream`); a stream that
    stops delivering before the end is :class:`ReplayInterruptedError`, never a view from part of the log."""
    try:
        async for chunk in read_stream(
            nc, js, source.stream, until_seq=until_seq, batch=batch, subjects=source.subjects, purpose="rebuild"
        ):
            yield chunk
    except StreamInterruptedError as exc:
        raise ReplayInterruptedError(exc.stream, exc.status, exc.pending) from exc


class ReplayInterruptedError(RuntimeError):
    """The stream stopped delivering before the replay reached its end: the rebuild is not finished."""

    def __init__(self, stream: str, status: str, pending: int) -> None:
        super().__init__(
            f"Luồng {stream} ngừng gửi khi còn {pending} thông điệp (trạng thái {status}); chưa dựng lại xong / "
            f"the stream stopped delivering with {pending} messages pending (status {status})"
        )


class RebuildInProgressError(RuntimeError):
    """A rebuild of this view store is already running in this process: one at a time (a swap
    replays into the view's side tables; an as-of rebuild costs a whole replay)."""

    def __init__(self) -> None:
        super().__init__(
            "Đang dựng lại báo cáo; thử lại khi xong / a rebuild of these views is running; retry when it is done"
        )


_rebuilding: set[int] = set()  # id() of the view stores being rebuilt in this process


@contextlib.contextmanager
def _one_at_a_time(store: ViewStore) -> Iterator[None]:
    if id(store) in _rebuilding:
        raise RebuildInProgressError
    _rebuilding.add(id(store))
    try:
        yield
    finally:
        _rebuilding.discard(id(store))


async def rebuild(
    view: BusView,
    store: ViewStore,
    nats_url: str | list[str],
    sources: list[Source],
    *,
    batch: int = 2000,
    until: datetime | None = None,
    swap: bool = True,
    progress: Callable[[int, int], None] | None = None,
    trust: ReplayVerifier | None = None,
) -> RebuildReport:
    """Replay ``sources`` into fresh tables; swap them in (or, for an as-of view, keep them aside).

    One at a time per view store: another asked meanwhile raises :class:`RebuildInProgressError`
    (a 409 over HTTP) instead of replaying into the same side tables under the first."""
    with _one_at_a_time(store):
        began = time.perf_counter()
        suffix = "__rebuild" if swap else f"__asof{uuid.uuid4().hex[:12]}"
        names = {t: f"{t}{suffix}" for t in view.tables}
        report = RebuildReport(tables=dict(names) if not swap else {t: t for t in view.tables})
        with store.transaction() as cur:
            create_tables(cur, view, names, drop=True)
        typed = typed_envelope_validator()
        checks = ReplayTrust(trust)
        nc = await nats.connect(nats_url, connect_timeout=5)
        js = nc.jetstream()
        try:
            total = 0
            heads = {}
            for source in sources:
                info = await js.stream_info(source.stream)
                heads[source.stream] = info.state.last_seq
                total += info.state.messages
            for source in sources:
                async for chunk in _replay(nc, js, source, heads[source.stream], batch):
                    with _collector_paused():
                        readable = []
                        for msg in chunk:
                            decoded = _decode(msg.data, typed)
                            # refused as the live inbox refuses it: unreadable, or not on its instance's subject
                            if decoded is None or placement(decoded[0], msg.subject, source.stream) is not None:
                                report.skipped += 1
                            else:
                                readable.append((msg.data, decoded))
                        verdicts = checks.accepted([(data, decoded[0]) for data, decoded in readable])
                        events = []
                        for (_data, decoded), ok in zip(readable, verdicts, strict=True):
                            if not ok or (until is not None and decoded[0].time > until):
                                report.skipped += 1
                            else:
                                events.append(decoded)
                        del readable
                        if events:
                            with store.transaction() as cur:
                                view.apply_rows(cur, names, events)
                        report.events += len(events)
                        del events
                    report.positions[source.stream] = chunk[-1].seq
                    if progress:
                        progress(report.events + report.skipped, total)
                report.positions.setdefault(source.stream, 0)
            if swap:
                await _swap(js, view, store, sources, names, report, checks)
            else:
                with store.transaction(commit=False) as cur:
                    report.digest = digest(cur, view, names)
        finally:
            await nc.close()
        report.seconds = time.perf_counter() - began
        return report


async def _swap(
    js: Any,
    view: BusView,
    store: ViewStore,
    sources: list[Source],
    names: dict[str, str],
    report: RebuildReport,
    checks: ReplayTrust,
) -> None:
    with store.transaction() as cur:
        _lock(cur, store)
        for source in sources:
            live = _max_tracking(cur, store, source.tracking_name)
            position = report.positions.get(source.stream, 0)
            for seq in range(position + 1, (live or 0) + 1):  # what the live view consumed past the replay
                try:
                    msg = await js.get_msg(source.stream, seq)
                except Exception:
                    continue
                if not any(_matches(msg.subject, s) for s in source.subjects):
                    continue
                decoded = _decode(msg.data)
                if (
                    decoded is not None
                    and placement(decoded[0], msg.subject, source.stream) is None
                    and checks.accepted([(msg.data, decoded[0])])[0]
                ):
                    view.apply_rows(cur, names, [decoded])
                    report.events += 1
            final = max(position, live or 0)
            report.positions[source.stream] = final
            if final and (live or 0) < final:
                store.track(cur, Tracking(source.tracking_name, final))
        for logical in view.tables:
            cur.execute(f"DROP TABLE IF EXISTS {logical}")
            cur.execute(f"ALTER TABLE {names[logical]} RENAME TO {logical}")
        report.digest = digest(cur, view)


def _lock(cur: ViewCursor, store: ViewStore) -> None:
    """Block the live consumers (they write tracking rows) for the length of the swap."""
    if store.postgres:
        cur.execute(f"LOCK TABLE {store.tracking_table} IN EXCLUSIVE MODE")
    else:
        cur.execute(f"UPDATE {store.tracking_table} SET notification_id = notification_id WHERE 1 = 0")


def _max_tracking(cur: ViewCursor, store: ViewStore, name: str) -> int:
    row = cur.execute(
        f"SELECT MAX(notification_id) AS n FROM {store.tracking_table} WHERE application_name = ?", (name,)
    ).fetchone()
    return int(row["n"]) if row and row["n"] is not None else 0


def _matches(subject: str, pattern: str) -> bool:
    s, p = subject.split("."), pattern.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(s) == len(p)


def live_effect(view: BusView, store: ViewStore) -> Effect:
    """The inbox effect of a bus-fed view: the same ``apply_rows`` as the rebuild, plus the tracking."""
    names = {t: t for t in view.tables}

    def effect(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        with store.transaction() as cur:
            view.apply_rows(cur, names, [(envelope, event)])
            store.track(cur, tracking)

    return effect


def ensure_tables(store: ViewStore, view: BusView) -> None:
    """Create the view's tables where missing; a table made before the view gained a column gets it
    (empty until a rebuild); one made when the view was keyed otherwise (by id alone, before records
    were keyed by (instance, id)) is re-keyed in place, its rows kept."""
    with store.transaction() as cur:
        create_tables(cur, view, {t: t for t in view.tables}, drop=False)
    for logical, ddl in view.tables.items():
        store.widen(logical, ddl)  # columns the view gained since the table was made
        store.rekey(logical, ddl, [c.strip() for c in view.keys[logical].split(",")])
