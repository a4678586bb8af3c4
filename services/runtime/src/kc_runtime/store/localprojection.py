"""A read model of a service's *own* events, kept in its database, exactly once.

It follows the application's notification log from its tracked position and applies each event
with the tracking row in one transaction. It is caught up right after every save (so a client
reads its own writes) and by a background loop (in case a catch-up failed), and can be rebuilt
from the log at any time.

An event the projection cannot apply (a number its column cannot hold, a stored event that no
longer decodes, a bug in ``apply`` for one shape of event) would otherwise stop it for good: every
later catch-up fails on the same event and the view never shows anything new. Such an event is set
aside in ``projection_quarantine`` with the reason, in the same transaction as the tracking past it,
and the projection goes on; ``/readyz`` lists the quarantine (see :meth:`ServiceRuntime.degradation`).
A failure of the database itself (locked, unreachable) is not the event's fault: it is retried.

Why not eventsourcing's ``ProjectionRunner`` / ``ApplicationSubscription`` (9.5): what this class
needs, they do not do. (1) They follow the log through the recorder's ``subscribe()``, which the
SQLite recorder, every service's default store, does not implement (``NotImplementedError``; only
PostgreSQL's LISTEN/NOTIFY recorder has it). (2) A runner processes in its own thread, one event per
transaction, and stops for good at the first event that raises — here a batch is applied in one
transaction and an unappliable event is quarantined while the projection goes on. (3) A client reads
its own writes: the save that changed the log catches the view up before the request returns, which a
runner's thread (constructing its own application object) cannot promise. What the library does
provide is used as it is: ``select_notifications`` (the same query a subscription pages with), the
application's mapper, ``Tracking`` and the recorder's tracking table (:meth:`ViewStore.track`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from eventsourcing.persistence import InterfaceError, Notification, OperationalError, Tracking

from kc_runtime.store.eventstore import SavedBatch, ServiceApplication
from kc_runtime.store.views import ViewCursor, ViewStore

log = structlog.get_logger("kc.projection")
Apply = Callable[[ViewCursor, Any], None]

QUARANTINE_DDL = """CREATE TABLE IF NOT EXISTS projection_quarantine (
    projection TEXT NOT NULL,
    notification_id BIGINT NOT NULL,
    originator_id TEXT NOT NULL,
    originator_version BIGINT NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    quarantined_at TEXT NOT NULL,
    PRIMARY KEY (projection, notification_id)
)"""

# the database's own trouble (retried), as opposed to an event that cannot be applied (quarantined)
TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    OSError,
    TimeoutError,
)
with contextlib.suppress(ImportError):  # PostgreSQL errors that escape eventsourcing's wrapping
    import psycopg

    TRANSIENT += (psycopg.OperationalError, psycopg.InterfaceError)


class LocalProjection:
    def __init__(
        self, app: ServiceApplication, store: ViewStore, apply: Apply, *, name: str, batch_size: int = 500
    ) -> None:
        self.app = app
        self.store = store
        self.apply = apply
        self.name = name
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self.applied_with_save = 0  # events applied in their save's own transaction (group commit)
        self._caught_up = threading.local()  # this thread's last save applied this projection in its transaction
        with store.transaction() as cur:
            cur.execute(QUARANTINE_DDL)
        # group commit: on SQLite, when the view is in the application's own file, a save applies its events
        # here in its own write transaction (:meth:`_within_save`); else, and whenever that could not be
        # done, the save is followed by a catch-up in a transaction of its own (:meth:`_after_save`)
        if not store.postgres and app.sqlite_file() == store.sqlite_file():
            app.within_save(self._within_save)
        app.on_saved(self._after_save)

    def position(self) -> int:
        return int(self.store.recorder.max_tracking_id(self.name) or 0)

    def catch_up(self) -> int:
        """Apply everything after the tracked position; return how many notifications it passed."""
        applied = 0
        with self._lock:
            while True:
                notifications = self.app.recorder.select_notifications(
                    self.position(), self.batch_size, inclusive_of_start=False
                )
                if not notifications:
                    return applied
                try:
                    with self.store.transaction() as cur:
                        for notification in notifications:
                            self.apply(cur, self.app.mapper.to_domain_event(notification))
                        self.store.track(cur, Tracking(self.name, notifications[-1].id))
                except TRANSIENT:
                    raise
                except Exception:  # one of the batch cannot be applied: find it, one at a time
                    self._one_at_a_time(notifications)
                applied += len(notifications)
                if len(notifications) < self.batch_size:
                    # the log's end as it was read: a save committed since then catches up after
                    # itself, so asking again would only cost one more query under the lock
                    return applied

    def _one_at_a_time(self, notifications: Sequence[Notification]) -> None:
        for notification in notifications:
            try:
                with self.store.transaction() as cur:
                    self.apply(cur, self.app.mapper.to_domain_event(notification))
                    self.store.track(cur, Tracking(self.name, notification.id))
            except TRANSIENT:
                raise
            except Exception as exc:
                self._quarantine(notification, exc)

    def _quarantine(self, notification: Notification, exc: Exception) -> None:
        with self.store.transaction() as cur:
            quarantine(cur, self.name, notification, exc)
            self.store.track(cur, Tracking(self.name, notification.id))

    def quarantine_count(self) -> int:
        return quarantine_count(self.store, self.name)

    def lag(self) -> int:
        """Events saved but not yet applied to this projection."""
        return int(self.app.recorder.max_notification_id() or 0) - self.position()

    def quarantined(self, limit: int = 20) -> list[dict[str, Any]]:
        """The events set aside (latest first), with the reason."""
        return quarantined(self.store, self.name, limit)

    def _within_save(self, raw: Any, batch: SavedBatch, held: contextlib.ExitStack) -> None:
        """Apply a save's events in its own write transaction, with the tracking, when this projection is
        exactly at the position before them (else: leave them to the catch-up after the save). The lock is
        taken without waiting (a catch-up holding it may be waiting for this very write lock) and held until
        the save's transaction has ended, so no catch-up reads a position this transaction is changing. An
        event the projection cannot apply rolls back to the savepoint: the save goes on, and the catch-up
        after it quarantines the event as it always did."""
        self._caught_up.done = False
        notifications = batch.notifications
        if not notifications or not self._lock.acquire(blocking=False):
            return
        held.callback(self._lock.release)
        position = int(self.store.recorder._max_tracking_id(self.name, raw) or 0)
        if position != notifications[0].id - 1:
            return
        cur = ViewCursor(raw, postgres=False)
        cur.execute("SAVEPOINT kc_projection")
        try:
            for event in batch.events:
                self.apply(cur, event)
            self.store.track(cur, Tracking(self.name, notifications[-1].id))
        except Exception as exc:
            cur.execute("ROLLBACK TO kc_projection")
            cur.execute("RELEASE kc_projection")
            log.warning(
                "projection not applied with the save; catching up after it", projection=self.name, error=repr(exc)
            )
            return
        cur.execute("RELEASE kc_projection")
        self._caught_up.done = True
        self.applied_with_save += len(notifications)

    def _after_save(self) -> None:
        if getattr(self._caught_up, "done", False):  # applied in the save's own transaction
            self._caught_up.done = False
            return
        try:
            self.catch_up()
        except Exception as exc:  # the command is saved; the follower loop will retry
            log.error("projection catch-up failed", projection=self.name, error=repr(exc))

    async def follow(self, interval_s: float = 2.0) -> None:
        """Background safety net: catch up periodically."""
        while True:
            try:
                await asyncio.to_thread(self.catch_up)
            except Exception as exc:
                log.warning("projection catch-up failed; retrying", projection=self.name, error=repr(exc))
            await asyncio.sleep(interval_s)


def quarantine(cur: ViewCursor, name: str, notification: Notification, exc: BaseException) -> None:
    """Set ``notification`` aside for ``name`` (a projection, a relay), with the reason, in the caller's
    transaction; logged as an error."""
    reason = f"{type(exc).__name__}: {exc}"[:1000]
    log.error(
        "an event was quarantined",
        by=name,
        notification_id=notification.id,
        originator_id=str(notification.originator_id),
        version=notification.originator_version,
        topic=notification.topic,
        reason=reason,
    )
    cur.execute(
        "INSERT INTO projection_quarantine VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (projection, notification_id) DO NOTHING",
        (
            name,
            notification.id,
            str(notification.originator_id),
            notification.originator_version,
            notification.topic,
            reason,
            datetime.now(UTC).isoformat(),
        ),
    )


def quarantined(store: ViewStore, name: str, limit: int = 20) -> list[dict[str, Any]]:
    """What ``name`` set aside (latest first), with the reason."""
    with store.transaction(commit=False) as cur:
        return cur.execute(
            "SELECT * FROM projection_quarantine WHERE projection = ? ORDER BY notification_id DESC LIMIT ?",
            (name, limit),
        ).fetchall()


def quarantine_count(store: ViewStore, name: str) -> int:
    """How many events ``name`` set aside (a metric: read at every scrape)."""
    with store.transaction(commit=False) as cur:
        row = cur.execute("SELECT COUNT(*) AS n FROM projection_quarantine WHERE projection = ?", (name,)).fetchone()
    return int(row["n"]) if row else 0
