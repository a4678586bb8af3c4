"""The pull feed (``GET /events``): the events this instance received, each caller shown what the
APIs would show it.

The ministry's notifications service reads every province's đề án milestones; its feed is open to
``read_public``, which every province's officers hold on the ministry's instance. So the feed keeps,
with each event, the instance that owns it and the implementing unit of its đề án, and answers:

- public events — approved and amended plans, plan calendars — to anyone who may read the feed;
- any other event only to whom may ``read`` on the instance that owns it (a province's officers
  their own province, the ministry's officers every province), and to a role bound to a unit only
  for its own unit's đề án (``kc_runtime.text.unit_key`` of the implementing unit).

An integrator (``tich_hop``, ``read_public`` only) therefore gets the public events; Hải Phòng's Sở
gets Hải Phòng's milestones and the public events, never Nghệ An's advance or officer's name.
"""

from __future__ import annotations

import json
from typing import Any

from kc_contracts.envelope import envelope_type
from kc_contracts.planning_events import CalendarChangedV1, PlanAmendedV1, PlanApprovedV1
from kc_runtime.store.views import ViewCursor, ViewStore
from kc_runtime.text import unit_key
from kc_runtime.web.auth import ROLES, Principal

PUBLIC_TYPES = tuple(
    sorted(envelope_type(c.type, c.version) for c in (PlanApprovedV1, PlanAmendedV1, CalendarChangedV1))
)

DDL = """CREATE TABLE IF NOT EXISTS feed (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    envelope TEXT NOT NULL,
    instance TEXT,
    unit TEXT
)"""


def record(cur: ViewCursor, event_id: str, type_: str, instance: str, body: str, implementing_unit: str | None) -> None:
    """Add an event to the feed (idempotent), with whose it is."""
    cur.execute(
        "INSERT INTO feed (event_id, type, envelope, instance, unit) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (event_id) DO NOTHING",
        (event_id, type_, body, instance, unit_key(implementing_unit) if implementing_unit else None),
    )


def upgrade(store: ViewStore) -> None:
    """A feed kept before it knew whose each event was gets the two columns, filled from the
    envelopes and the đề án parties (once, at start)."""
    with store.transaction(commit=False) as cur:
        columns = {row["name"] for row in _columns(cur, store)}
    if "instance" in columns:
        return
    with store.transaction() as cur:
        cur.execute("ALTER TABLE feed ADD COLUMN instance TEXT")
        cur.execute("ALTER TABLE feed ADD COLUMN unit TEXT")
        units = {r["de_an_id"]: r["implementing_unit"] for r in cur.execute("SELECT * FROM parties").fetchall()}
        for row in cur.execute("SELECT position, envelope FROM feed").fetchall():
            envelope = json.loads(row["envelope"])
            de_an = (envelope.get("data") or {}).get("de_an_id")
            unit = units.get(str(de_an)) if de_an else None
            cur.execute(
                "UPDATE feed SET instance = ?, unit = ? WHERE position = ?",
                (envelope.get("kcinstance"), unit_key(unit) if unit else None, row["position"]),
            )


def _columns(cur: ViewCursor, store: ViewStore) -> list[dict[str, Any]]:
    if store.postgres:
        return cur.execute(
            "SELECT column_name AS name FROM information_schema.columns"
            " WHERE table_name = 'feed' AND table_schema = current_schema()"
        ).fetchall()
    return cur.execute("SELECT name FROM pragma_table_info('feed')").fetchall()


def visible_to(principal: Principal) -> tuple[str, list[Any]]:
    """The SQL condition (and its parameters) on feed rows ``principal`` may see."""
    clause = f"type IN ({', '.join('?' * len(PUBLIC_TYPES))})"
    params: list[Any] = list(PUBLIC_TYPES)
    readable: list[str] = []
    if principal.scope == "bo":
        # every province's instance is alike to a national role: one stands for all of them
        if principal.may("read", "tinh-01"):
            readable.append("instance <> 'bo'")
    elif principal.may("read", principal.scope):
        readable.append("instance = ?")
        params.append(principal.scope)
    if principal.may("read", "bo"):
        readable.append("instance = 'bo'")
    if readable:
        own = f"({' OR '.join(readable)})"
        role = ROLES.get(principal.role)
        if role is not None and role.unit_bound:
            own += " AND unit = ?"
            params.append(principal.unit or "")
        clause = f"({clause} OR ({own}))"
    return clause, params
