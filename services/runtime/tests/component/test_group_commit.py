"""Group commit: on SQLite a save applies its events to the service's local projections in its own write
transaction (one commit instead of one per projection), and whatever it could not apply there is caught
up after it, exactly once. Many threads save at once while the follower catches up in a loop: every event
is in the view once, in order, nothing is quarantined (a twice-applied event would break the view's
primary key and be set aside), and the projection's position is the log's end. PostgreSQL catches up after
each save as before."""

from __future__ import annotations

import threading
from typing import Any

from eventsourcing.domain import Aggregate, event
from kc_runtime.store.eventstore import ServiceApplication, persistence_env
from kc_runtime.store.localprojection import LocalProjection
from kc_runtime.store.views import ViewCursor, ViewStore
from kc_testing.fixtures import SettingsFactory

DDL = ["CREATE TABLE IF NOT EXISTS counted (id TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (id, version))"]
THREADS, SAVES = 6, 40


class Counter(Aggregate):
    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Ticked")
    def tick(self) -> None:
        pass


def apply(cur: ViewCursor, e: Any) -> None:
    if getattr(e, "poison", False):
        raise ValueError("cannot apply")
    cur.execute("INSERT INTO counted VALUES (?, ?)", (str(e.originator_id), e.originator_version))


def test_saves_apply_the_local_projection_in_their_transaction_exactly_once(
    make_settings: SettingsFactory, store: str
) -> None:
    env = persistence_env(make_settings("groupcommit"))
    app = ServiceApplication(env=env)
    views = ViewStore(env, name="groupcommit_views", ddl=DDL)
    projection = LocalProjection(app, views, apply, name="counted")
    stop = threading.Event()

    def follower() -> None:
        while not stop.is_set():
            projection.catch_up()

    def saver() -> None:
        for _ in range(SAVES):
            counter = Counter(name="x")
            counter.tick()
            app.save(counter)

    try:
        following = threading.Thread(target=follower)
        following.start()
        savers = [threading.Thread(target=saver) for _ in range(THREADS)]
        for t in savers:
            t.start()
        for t in savers:
            t.join()
        stop.set()
        following.join()
        projection.catch_up()
        with views.transaction(commit=False) as cur:
            rows = cur.execute("SELECT COUNT(*) AS n FROM counted").fetchone()
        assert rows == {"n": THREADS * SAVES * 2}
        assert projection.quarantine_count() == 0
        assert projection.lag() == 0
        if store == "sqlite":
            assert (
                projection.applied_with_save > 0
            )  # saves applied it themselves (the follower, looping, held it at times)
        else:
            assert projection.applied_with_save == 0
    finally:
        views.close()
        app.close()


def test_an_event_the_projection_cannot_apply_does_not_fail_its_save_and_is_quarantined(
    make_settings: SettingsFactory, store: str
) -> None:
    env = persistence_env(make_settings("groupcommit"))
    app = ServiceApplication(env=env)
    views = ViewStore(env, name="groupcommit_views", ddl=DDL)
    projection = LocalProjection(app, views, apply, name="counted")
    try:
        good = Counter(name="good")
        app.save(good)
        bad = Counter(name="bad")
        bad.tick()
        bad.collect_events  # noqa: B018
        bad._pending_events[-1].__dict__["poison"] = True  # type: ignore[attr-defined]
        app.save(bad)  # saved: the projection's failure is not the command's
        after = Counter(name="after")
        app.save(after)
        assert app.repository.get(bad.id).version == 2
        assert projection.lag() == 0
        assert [q["originator_id"] for q in projection.quarantined()] == [str(bad.id)]
        with views.transaction(commit=False) as cur:
            ids = {r["id"] for r in cur.execute("SELECT id FROM counted").fetchall()}
        assert ids == {str(good.id), str(bad.id), str(after.id)}  # the bad one's first event, not its tick
    finally:
        views.close()
        app.close()
