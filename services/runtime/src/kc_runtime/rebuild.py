"""Rebuilding a bus-fed view from the bus log, and the digest that proves it equals the live one.

A view is a set of tables written by one ``apply`` function from contract events. ``rebuild``
replays the source streams from the start (ordered, unacknowledged pull consumers, in batches, so
memory stays flat) into fresh ``<table>__rebuild`` tables. The swap runs in one transaction that
first takes the write lock the live consumers need, applies whatever the live view consumed past
the replay's position, drops the live tables, renames the fresh ones and records the tracking
positions: the live view and the rebuild can never drift apart. The digest is a SHA-256 over every
row in primary-key order.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

import nats
import structlog
from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.base import UnknownContractError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from kc_runtime.inbox import Effect
from kc_runtime.views import ViewCursor, ViewStore

log = structlog.get_logger("kc.rebuild")


class BusView(Protocol):
    """A view fed by contract events: its tables and how one event changes them."""

    tables: ClassVar[dict[str, str]]  # logical name -> CREATE TABLE statement with {t} for the table name
    keys: ClassVar[dict[str, str]]  # logical name -> ORDER BY columns for the digest

    def apply_row(self, cur: ViewCursor, names: dict[str, str], envelope: Envelope, event: ContractEvent) -> None: ...


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


def digest(cur: ViewCursor, view: BusView, names: dict[str, str] | None = None) -> str:
    h = hashlib.sha256()
    for logical in sorted(view.tables):
        table = (names or {}).get(logical, logical)
        h.update(logical.encode())
        cur.execute(f"SELECT * FROM {table} ORDER BY {view.keys[logical]}")
        while chunk := cur.fetchmany(5000):  # streamed: memory stays flat however large the view
            for row in chunk:
                h.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode())
    return h.hexdigest()


def live_digest(store: ViewStore, view: BusView) -> str:
    with store.transaction(commit=False) as cur:
        return digest(cur, view)


def _decode(data: bytes) -> tuple[Envelope, ContractEvent] | None:
    try:
        envelope = Envelope.from_json(data)
        return envelope, envelope.decode()
    except (ValidationError, ValueError, UnknownContractError):
        return None  # it was dead-lettered by the live consumer too: the view never saw it


async def _replay(js: Any, source: Source, until_seq: int, batch: int) -> Any:
    """Yield batches of (stream sequence, data) from the start up to ``until_seq``."""
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        filter_subjects=source.subjects,
        inactive_threshold=60.0,
        max_waiting=1,
    )
    psub = await js.pull_subscribe("", stream=source.stream, config=config)
    try:
        while True:
            try:
                msgs = await psub.fetch(batch, timeout=2.0)
            except nats.errors.TimeoutError:
                return
            out = [(m.metadata.sequence.stream, m.data) for m in msgs if m.metadata.sequence.stream <= until_seq]
            if out:
                yield out
            if not msgs or msgs[-1].metadata.sequence.stream >= until_seq or msgs[-1].metadata.num_pending == 0:
                return
    finally:
        await psub.unsubscribe()


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
) -> RebuildReport:
    """Replay ``sources`` into fresh tables; swap them in (or, for an as-of view, keep them aside)."""
    began = time.perf_counter()
    suffix = "__rebuild" if swap else f"__asof{int(time.time() * 1000) % 10**9}"
    names = {t: f"{t}{suffix}" for t in view.tables}
    report = RebuildReport(tables=dict(names) if not swap else {t: t for t in view.tables})
    with store.transaction() as cur:
        create_tables(cur, view, names, drop=True)
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
            async for chunk in _replay(js, source, heads[source.stream], batch):
                with store.transaction() as cur:
                    for _seq, data in chunk:
                        decoded = _decode(data)
                        if decoded is None or (until is not None and decoded[0].time > until):
                            report.skipped += 1
                            continue
                        view.apply_row(cur, names, *decoded)
                        report.events += 1
                report.positions[source.stream] = chunk[-1][0]
                if progress:
                    progress(report.events + report.skipped, total)
            report.positions.setdefault(source.stream, 0)
        if swap:
            await _swap(js, view, store, sources, names, report)
        else:
            with store.transaction(commit=False) as cur:
                report.digest = digest(cur, view, names)
    finally:
        await nc.close()
    report.seconds = time.perf_counter() - began
    return report


async def _swap(
    js: Any, view: BusView, store: ViewStore, sources: list[Source], names: dict[str, str], report: RebuildReport
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
                if decoded is not None:
                    view.apply_row(cur, names, *decoded)
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
    """The inbox effect of a bus-fed view: the same ``apply_row`` as the rebuild, plus the tracking."""
    names = {t: t for t in view.tables}

    def effect(envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        with store.transaction() as cur:
            view.apply_row(cur, names, envelope, event)
            store.track(cur, tracking)

    return effect


def ensure_tables(store: ViewStore, view: BusView) -> None:
    with store.transaction() as cur:
        create_tables(cur, view, {t: t for t in view.tables}, drop=False)
