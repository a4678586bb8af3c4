"""The councils and field trips of this instance (kept from its own log): which exist, their members,
the đề án they appraise or visit — so they can be listed (a council member: the councils they sit on)
and found for a đề án. Their full state is read from the aggregates themselves."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from kc_runtime.store.views import ViewCursor, ViewStore

from kc_appraisal.domain.council import Council
from kc_appraisal.domain.field_trip import FieldTrip

NAME = "appraisal-councils-v1"

DDL = [
    """CREATE TABLE IF NOT EXISTS councils_v1 (
        record_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        decision_number TEXT NOT NULL,
        starts_on TEXT NOT NULL,
        members TEXT NOT NULL,
        de_an TEXT NOT NULL
    )""",
]


def apply(cur: ViewCursor, e: Any) -> None:
    if isinstance(e, Council.Founded):
        row = ("hoi_dong", e.name, e.decision_number, e.decided_on.isoformat(),
               [m["subject"] for m in e.members], [d["id"] for d in e.de_an])  # fmt: skip
    elif isinstance(e, FieldTrip.Scheduled):
        row = ("doan_thuc_te", e.name, e.decision_number, e.starts_on.isoformat(), [],
               [v["de_an_id"] for v in e.visits])  # fmt: skip
    else:
        return
    kind, name, number, starts, members, de_an = row
    cur.execute(
        "INSERT INTO councils_v1 VALUES (?, ?, ?, ?, ?, ?, ?)",
        (str(e.originator_id), kind, name, number, starts, json.dumps(members), json.dumps(de_an)),
    )


class CouncilIndex:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def ids(self, kind: str, *, member: str | None = None, de_an_id: str | None = None) -> list[UUID]:
        """Councils (``hoi_dong``) or field trips (``doan_thuc_te``), newest first; only those ``member``
        sits on, or that appraise / visit ``de_an_id``, when given."""
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute(
                "SELECT record_id, members, de_an FROM councils_v1 WHERE kind = ? ORDER BY starts_on DESC, name",
                (kind,),
            ).fetchall()
        return [
            UUID(r["record_id"])
            for r in rows
            if (member is None or member in json.loads(r["members"]))
            and (de_an_id is None or de_an_id in json.loads(r["de_an"]))
        ]
