"""The notifications service's tables: recipients, outbound notifications (one per event, recipient
and channel), webhook subscriptions and deliveries, and the pull feed of public events.

A notification row is written in the same transaction as the inbox tracking of the event that
caused it; a sender loop delivers rows afterwards. The unique key makes a redelivered event (or a
recomputed reminder) produce nothing new.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from kc_runtime import tracing
from kc_runtime.store.views import ViewCursor, ViewStore
from kc_runtime.text import fold

from kc_notifications import feed

DDL = [
    """CREATE TABLE IF NOT EXISTS recipients (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT,
        role TEXT NOT NULL,
        scope TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source_key TEXT NOT NULL,
        recipient TEXT NOT NULL,
        channel TEXT NOT NULL,
        template TEXT NOT NULL,
        context TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        next_at TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        traceparent TEXT,
        tracestate TEXT,
        UNIQUE (source_key, recipient, channel)
    )""",
    """CREATE TABLE IF NOT EXISTS acted (
        calendar TEXT NOT NULL,
        kind TEXT NOT NULL,
        recipient TEXT NOT NULL,
        acted_on TEXT NOT NULL,
        PRIMARY KEY (calendar, kind, recipient)
    )""",
    """CREATE TABLE IF NOT EXISTS parties (
        de_an_id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        title TEXT NOT NULL,
        implementing_unit TEXT NOT NULL,
        beneficiaries TEXT NOT NULL,
        status TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS calendars (
        calendar TEXT PRIMARY KEY,
        level TEXT NOT NULL,
        owner TEXT NOT NULL,
        year INTEGER NOT NULL,
        registration_deadline TEXT NOT NULL,
        dossier_deadline TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS subscriptions (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        event_types TEXT NOT NULL,
        secrets TEXT NOT NULL,
        active INTEGER NOT NULL,
        disabled_reason TEXT,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subscription_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_at TEXT NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        delivered_at TEXT,
        UNIQUE (subscription_id, event_id)
    )""",
    feed.DDL,
]


def now() -> str:
    return datetime.now(UTC).isoformat()


def unit_key(name: str) -> str:
    """The recipient key of a unit known by its name (implementing unit, registrant)."""
    return "don-vi:" + "-".join(fold(name).split())


def queue_notification(
    cur: ViewCursor, *, source_key: str, recipient: str, channel: str, template: str, context: dict[str, Any]
) -> None:
    """Idempotent: a second call for the same (source, recipient, channel) does nothing.

    The notification keeps the trace span it was queued in (the consumed event's), so its sending joins
    that trace (:class:`~kc_notifications.sender.Sender`)."""
    span = tracing.current()
    cur.execute(
        "INSERT INTO notifications (source_key, recipient, channel, template, context, status, attempts, created_at,"
        " traceparent, tracestate)"
        " VALUES (?, ?, ?, ?, ?, 'cho_gui', 0, ?, ?, ?) ON CONFLICT (source_key, recipient, channel) DO NOTHING",
        (
            source_key,
            recipient,
            channel,
            template,
            json.dumps(context, ensure_ascii=False, default=str),
            now(),
            span.traceparent if span else None,
            span.state if span else None,
        ),
    )


def upgrade(store: ViewStore) -> None:
    """Tables kept before a column was added get it, empty (the notifications' trace span)."""
    store.widen(
        "notifications",
        next(ddl for ddl in DDL if "TABLE IF NOT EXISTS notifications" in ddl).replace("notifications (", "{t} (", 1),
    )


def queue_deliveries(cur: ViewCursor, event_type: str, event_id: str, body: str) -> None:
    subs = cur.execute("SELECT id, event_types FROM subscriptions WHERE active = 1").fetchall()
    for sub in subs:
        wanted = json.loads(sub["event_types"])
        if "*" in wanted or event_type in wanted:
            cur.execute(
                "INSERT INTO deliveries (subscription_id, event_id, body, status, attempts, next_at)"
                " VALUES (?, ?, ?, 'cho_gui', 0, ?) ON CONFLICT (subscription_id, event_id) DO NOTHING",
                (sub["id"], event_id, body, now()),
            )


class NotificationStore:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def recipients(self, role: str | None = None, scope: str | None = None) -> list[dict[str, Any]]:
        where, params = ["1 = 1"], []
        for column, value in (("role", role), ("scope", scope)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        with self.store.transaction(commit=False) as cur:
            return cur.execute(f"SELECT * FROM recipients WHERE {' AND '.join(where)} ORDER BY key", params).fetchall()

    def put_recipient(self, key: str, name: str, email: str | None, role: str, scope: str) -> None:
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO recipients VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " name = excluded.name, email = excluded.email, role = excluded.role, scope = excluded.scope",
                (key, name, email, role, scope),
            )

    def log(self, *, status: str | None = None, recipient: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, params = ["1 = 1"], []
        for column, value in (("status", status), ("recipient", recipient)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute(
                f"SELECT * FROM notifications WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*params, limit]
            ).fetchall()
        for r in rows:
            r["context"] = json.loads(r["context"])
        return rows
