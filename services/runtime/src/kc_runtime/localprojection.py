"""A read model of a service's *own* events, kept in its database, exactly once.

It follows the application's notification log from its tracked position and applies each event
with the tracking row in one transaction. It is caught up right after every save (so a client
reads its own writes) and by a background loop (in case a catch-up failed), and can be rebuilt
from the log at any time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import structlog
from eventsourcing.persistence import Tracking

from kc_runtime.eventstore import ServiceApplication
from kc_runtime.views import ViewCursor, ViewStore

log = structlog.get_logger("kc.projection")
Apply = Callable[[ViewCursor, Any], None]


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
        app.on_saved(self._after_save)

    def position(self) -> int:
        return int(self.store.recorder.max_tracking_id(self.name) or 0)

    def catch_up(self) -> int:
        """Apply everything after the tracked position; return how many notifications it applied."""
        applied = 0
        with self._lock:
            while True:
                notifications = self.app.recorder.select_notifications(
                    self.position(), self.batch_size, inclusive_of_start=False
                )
                if not notifications:
                    return applied
                with self.store.transaction() as cur:
                    for notification in notifications:
                        self.apply(cur, self.app.mapper.to_domain_event(notification))
                    self.store.track(cur, Tracking(self.name, notifications[-1].id))
                applied += len(notifications)
                if len(notifications) < self.batch_size:
                    # the log's end as it was read: a save committed since then catches up after
                    # itself, so asking again would only cost one more query under the lock
                    return applied

    def _after_save(self) -> None:
        try:
            self.catch_up()
        except Exception as exc:  # the command is saved; the follower loop will retry
            log.error("projection catch-up failed", projection=self.name, error=repr(exc))

    async def follow(self, interval_s: float = 2.0) -> None:
        """Background safety net: catch up periodically."""
        while True:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.catch_up)
            await asyncio.sleep(interval_s)
