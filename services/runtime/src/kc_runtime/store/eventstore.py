"""Event store wiring: one store per service per instance, SQLite by default, PostgreSQL by DSN.

Services subclass :class:`ServiceApplication`. Its recorder is a *process* recorder, so a consumer
can store the events its effect produced and the tracking of the message that caused them in one
transaction; the outbox relay keeps its position in the same tracking table.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlparse
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    JSONTranscoder,
    Notification,
    ProcessRecorder,
    Recording,
    StoredEvent,
    Tracking,
    Transcoding,
)
from eventsourcing.sqlite import SQLiteCursor, SQLiteFactory, SQLiteProcessRecorder

from kc_runtime import tracing
from kc_runtime.settings import Settings

# eventsourcing reads os.environ too: pass everything explicitly so a stray variable cannot pick
# another store behind our back.
_SQLITE_LOCK_TIMEOUT_S = "30"
A = TypeVar("A")
R = TypeVar("R")


def persistence_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for this service's store."""
    if settings.database_url:
        return postgres_env(settings.database_url, settings.postgres_schema)
    path = settings.sqlite_path
    path.parent.mkdir(parents=True, exist_ok=True)
    return sqlite_env(path)


def sqlite_env(path: Path) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "SQLITE_LOCK_TIMEOUT": _SQLITE_LOCK_TIMEOUT_S,
    }


def postgres_env(dsn: str, schema: str) -> dict[str, str]:
    """Parse ``postgresql://user:password@host:port/db`` and make sure ``schema`` exists."""
    url = urlparse(dsn)
    if url.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"KC_DATABASE_URL must be a postgresql:// DSN, got {url.scheme!r}")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": "8",
    }
    ensure_postgres_schema(dsn, schema)
    return env


def ensure_postgres_schema(dsn: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


class DateAsISO(Transcoding):
    """Business dates (deadlines, decision dates) are local dates: stored as ``YYYY-MM-DD``."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class SavedBatch:
    """The events one save is inserting, as the notifications they become, inside its write transaction:
    what a :data:`WithinSave` hook sees. The domain events are decoded from the stored form once, on first
    ask, and shared by every hook (they are what a reader of the log would decode)."""

    def __init__(self, app: ServiceApplication, notifications: Sequence[Notification]) -> None:
        self._app = app
        self.notifications = notifications
        self._events: list[Any] | None = None

    @property
    def events(self) -> list[Any]:
        if self._events is None:
            self._events = [self._app.mapper.to_domain_event(n) for n in self.notifications]
        return self._events


# Called inside a save's write transaction, on its cursor, after the events were inserted; ``held`` is
# closed once the transaction has committed or rolled back (a hook releases its locks there).
WithinSave = Callable[[SQLiteCursor, SavedBatch, ExitStack], None]


class GroupCommitSQLiteRecorder(SQLiteProcessRecorder):
    """SQLite's process recorder whose insert runs the application's :data:`WithinSave` hooks in the same
    write transaction: the local projections apply the saved events and record their tracking with the
    save, one commit (one fsync, one turn of the write lock) instead of one each."""

    app: ServiceApplication | None = None

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        app = self.app
        if app is None or not app._within_save:
            return super().insert_events(stored_events, **kwargs)
        with ExitStack() as held:  # closed after the commit (or the rollback)
            with self.datastore.transaction(commit=True) as c:
                ids = self._insert_events(c, stored_events, **kwargs)
                batch = SavedBatch(app, _notifications(stored_events, ids or []))
                for hook in app._within_save:
                    hook(c, batch, held)
            return ids


def _notifications(stored_events: Sequence[StoredEvent], ids: Sequence[int]) -> list[Notification]:
    return [
        Notification(
            id=n_id,
            originator_id=s.originator_id,
            originator_version=s.originator_version,
            topic=s.topic,
            state=s.state,
        )
        for s, n_id in zip(stored_events, ids, strict=True)
    ]


class ServiceApplication(Application[UUID]):
    """An eventsourcing application whose saves wake whoever listens (the outbox relay) and whose events
    keep the W3C trace context they were saved in (:mod:`kc_runtime.tracing`)."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def __init__(self, env: dict[str, str] | None = None, **kwargs: Any) -> None:
        self._save_listeners: list[Callable[[], None]] = []
        self._within_save: list[WithinSave] = []
        super().__init__(env=env, **kwargs)

    def construct_recorder(self) -> Any:
        factory = self.factory
        if isinstance(factory, SQLiteFactory):
            factory.process_recorder_class = GroupCommitSQLiteRecorder
        recorder = factory.process_recorder()
        if isinstance(recorder, GroupCommitSQLiteRecorder):
            recorder.app = self
        return recorder

    def within_save(self, hook: WithinSave) -> bool:
        """Run ``hook`` inside every save's write transaction (SQLite); False where the store cannot
        (PostgreSQL: its saves are pipelined), and the caller catches up after the save instead."""
        if not isinstance(self.recorder, GroupCommitSQLiteRecorder):
            return False
        self._within_save.append(hook)
        return True

    def sqlite_file(self) -> str | None:
        """The SQLite file this application's events are in (None on PostgreSQL)."""
        if not isinstance(self.recorder, SQLiteProcessRecorder):
            return None
        return str(self.recorder.datastore.pool.db_name)

    def save_tracked(self, tracking: Tracking, *aggregates: Any) -> None:
        """Save the aggregates' new events *and* the tracking of the message that caused them, in one
        transaction (the inbox's exactly-once effect); a repeated tracking raises IntegrityError."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent(tracking=tracking)
        processing_event.collect_events(*aggregates)
        recordings = self._record(processing_event)
        self._notify(recordings)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Every save (plain or tracked) records here: the events take the current trace span with them."""
        tracing.stamp(processing_event.events)
        return super()._record(processing_event)

    def find(self, aggregate_id: UUID, kind: type[A], missing: Exception, *, version: int | None = None) -> A:
        """The aggregate of ``kind`` stored under ``aggregate_id`` (at ``version``), or ``missing`` raised
        — for no such id, and for an id of another kind of aggregate alike."""
        try:
            found: object = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise missing from None
        if not isinstance(found, kind):
            raise missing
        return found

    def is_tracked(self, tracking: Tracking) -> bool:
        return bool(self.process_recorder.has_tracking_id(tracking.application_name, tracking.notification_id))

    def on_saved(self, listener: Callable[[], None]) -> None:
        self._save_listeners.append(listener)

    @property
    def process_recorder(self) -> ProcessRecorder:
        """The recorder as what it is: events *and* tracking in one store."""
        return cast(ProcessRecorder, self.recorder)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        for listener in self._save_listeners:
            listener()


class StatesAt:
    """The aggregate an event belongs to, as it stood at the event's version — for a reader that goes through
    the log in order, as the outbox relay's translator does (a milestone carries the đề án's context as of
    that version). The aggregate is kept from one event to the next of the same stream and brought forward
    with the events in between only, instead of replaying its whole stream for every event (which cost
    O(versions) per event, O(versions²) per lifecycle). An event older than the one kept replays as before."""

    def __init__(self, app: Application[UUID], maxsize: int = 1024) -> None:
        self.app = app
        self.maxsize = maxsize
        self._kept: OrderedDict[UUID, Any] = OrderedDict()
        self.replays = 0  # whole streams replayed (a first sight, or a step back)

    def following(self, translate: Callable[[Any], R]) -> Callable[[Any], R]:
        """``translate`` for a reader that passes every event of the log in order (the relay): each event,
        published or not, first brings its kept aggregate forward (a stream's first event creates it), so the
        events that are published find theirs at their version without reading the store at all."""

        def observed(event: Any) -> R:
            self.observe(event)
            return translate(event)

        return observed

    def observe(self, event: Any) -> None:
        stream, version = event.originator_id, event.originator_version
        kept = self._kept.get(stream)
        if kept is None and version == 1:
            self._keep(stream, cast(Any, event).mutate(None))
        elif kept is not None and kept.version == version - 1:
            self._keep(stream, cast(Any, event).mutate(kept))

    def _keep(self, stream: UUID, aggregate: Any) -> None:
        self._kept.pop(stream, None)
        self._kept[stream] = aggregate
        while len(self._kept) > self.maxsize:
            self._kept.popitem(last=False)

    def __call__(self, event: Any) -> Any:
        stream, version = event.originator_id, event.originator_version
        aggregate = self._kept.pop(stream, None)
        if aggregate is None or aggregate.version > version:
            aggregate = self.app.repository.get(stream, version=version)
            self.replays += 1
        elif aggregate.version < version:
            for step in self.app.events.get(stream, gt=aggregate.version, lte=version):
                aggregate = cast(Any, step).mutate(aggregate)
        self._keep(stream, aggregate)
        return aggregate
