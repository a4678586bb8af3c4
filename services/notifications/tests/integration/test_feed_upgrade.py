"""A feed kept before it knew whose each event was is upgraded in place at start (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from uuid import uuid4

from kc_notifications import feed
from kc_notifications.store import DDL
from kc_runtime.store.eventstore import persistence_env
from kc_runtime.store.views import ViewStore
from kc_testing.fixtures import SettingsFactory

OLD_FEED = """CREATE TABLE IF NOT EXISTS feed (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        envelope TEXT NOT NULL
    )"""


def test_an_old_feed_gets_each_events_instance_and_unit(make_settings: SettingsFactory) -> None:
    env = persistence_env(make_settings("notifications", instance="bo"))
    old = ViewStore(env, name="notifications_views", ddl=[OLD_FEED, *[d for d in DDL if d is not feed.DDL]])
    de_an = str(uuid4())
    with old.transaction() as cur:
        cur.execute(
            "INSERT INTO parties VALUES (?, ?, ?, ?, ?, ?)",
            (de_an, "KCĐP-40-2024-07", "Đào tạo nghề", "Trung tâm Khuyến công Nghệ An", "", "da_nop"),
        )
        for n, (instance, data) in enumerate([("tinh-40", {"de_an_id": de_an}), ("bo", {"plan_id": "p"})]):
            cur.execute(
                "INSERT INTO feed (event_id, type, envelope) VALUES (?, ?, ?)",
                (f"e{n}", "t", json.dumps({"kcinstance": instance, "data": data})),
            )
    old.close()

    store = ViewStore(env, name="notifications_views", ddl=DDL)
    feed.upgrade(store)
    feed.upgrade(store)  # once only: a second start changes nothing
    with store.transaction(commit=False) as cur:
        rows = cur.execute("SELECT event_id, instance, unit FROM feed ORDER BY position").fetchall()
    store.close()
    assert rows == [
        {"event_id": "e0", "instance": "tinh-40", "unit": "trung-tam-khuyen-cong-nghe-an"},
        {"event_id": "e1", "instance": "bo", "unit": None},
    ]
