"""Event store wiring: one store per service per instance, SQLite by default, PostgreSQL by DSN.

Services subclass :class:`ServiceApplication`. Its recorder is a *process* recorder, so a consumer
can store the events its effect produced and the tracking of the message that caused them in one
transaction; the outbox relay keeps its position in the same tracking table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlparse
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import JSONTranscoder, ProcessRecorder, Recording, Tracking, Transcoding

from kc_runtime import tracing
from kc_runtime.settings import Settings

# eventsourcing reads os.environ too: pass everything explicitly so a stray variable cannot pick
# another store behind our back.
_SQLITE_LOCK_TIMEOUT_S = "30"
A = TypeVar("A")


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


class ServiceApplication(Application[UUID]):
    """An eventsourcing application whose saves wake whoever listens (the outbox relay) and whose events
    keep the W3C trace context they were saved in (:mod:`kc_runtime.tracing`)."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def __init__(self, env: dict[str, str] | None = None, **kwargs: Any) -> None:
        self._save_listeners: list[Callable[[], None]] = []
        super().__init__(env=env, **kwargs)

    def construct_recorder(self) -> Any:
        return self.factory.process_recorder()

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
