"""The list of đề án of this instance (kept from its own log; filters for officers).

The table is versioned with its projection: a new column is a new table (``de_an_v2``: the
implementing unit and when the status last changed), filled from the service's own log on the
first start, as the projection's new name has no tracked position yet.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any
from uuid import UUID

from kc_runtime.store.views import ViewCursor, ViewStore
from kc_runtime.text import fold, unit_key

from kc_appraisal.commands import ListQuery
from kc_appraisal.domain.de_an import DeAn, Status, totals

NAME = "appraisal-de-an-list-v2"


def code_key(code: str) -> str:
    """A code as compared: NFC, spaces collapsed, upper case (``kcđp-40 `` is ``KCĐP-40``)."""
    return unicodedata.normalize("NFC", " ".join(code.split())).upper()


DDL = [
    "DROP TABLE IF EXISTS de_an",  # the first version of this table, without the unit
    """CREATE TABLE IF NOT EXISTS de_an_v2 (
        de_an_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        code TEXT NOT NULL,
        title TEXT NOT NULL,
        level TEXT NOT NULL,
        de_an_type TEXT NOT NULL,
        plan_year INTEGER NOT NULL,
        province_code TEXT NOT NULL,
        status TEXT NOT NULL,
        activity_contents TEXT NOT NULL,
        support_requested_vnd BIGINT NOT NULL,
        search_text TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        unit TEXT NOT NULL,
        reference TEXT,
        code_key TEXT NOT NULL,
        status_changed_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS de_an_v2_code ON de_an_v2 (code_key)",
    "CREATE INDEX IF NOT EXISTS de_an_v2_unit ON de_an_v2 (unit)",
]


def apply(cur: ViewCursor, e: Any) -> None:
    if not isinstance(e, DeAn.Event):
        return  # a reference's reservation
    _apply(cur, e)


def _apply(cur: ViewCursor, e: Any) -> None:
    eid, at = str(e.originator_id), e.timestamp.isoformat()
    if isinstance(e, DeAn.Drafted | DeAn.Edited):
        if isinstance(e, DeAn.Drafted):
            d = e.details
            cur.execute(
                "INSERT INTO de_an_v2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    eid,
                    e.originator_version,
                    d["code"],
                    d["title"],
                    d["level"],
                    d["de_an_type"],
                    d["plan_year"],
                    d["province_code"],
                    Status.draft.value,
                    json.dumps(d["activity_contents"]),
                    totals(d["budget_lines"])["support_requested_vnd"],
                    fold(f"{d['code']} {d['title']} {d.get('reference') or ''}"),
                    at,
                    d.get("unit") or unit_key(d["implementing_unit"]),
                    d.get("reference"),
                    code_key(d["code"]),
                    at,
                ),
            )
            return
        c = e.changes
        row = cur.execute("SELECT code, title, reference FROM de_an_v2 WHERE de_an_id = ?", (eid,)).fetchone() or {}
        code, title = c.get("code", row.get("code", "")), c.get("title", row.get("title", ""))
        text = fold(f"{code} {title} {row.get('reference') or ''}")
        cur.execute(
            "UPDATE de_an_v2 SET title = ?, code = ?, code_key = ?, search_text = ?, version = ?, updated_at = ?"
            " WHERE de_an_id = ?",
            (title, code, code_key(code), text, e.originator_version, at, eid),
        )
        if "budget_lines" in c:
            cur.execute(
                "UPDATE de_an_v2 SET support_requested_vnd = ? WHERE de_an_id = ?",
                (totals(c["budget_lines"])["support_requested_vnd"], eid),
            )
        return
    # the lifecycle table's status for the event; an approved adjustment that stops the đề án is
    # visible on the đề án itself: the list keeps the last milestone
    leads_to = e.leads_to()
    status = leads_to.value if leads_to is not None else None
    if status:
        cur.execute(
            "UPDATE de_an_v2 SET status_changed_at = CASE WHEN status = ? THEN status_changed_at ELSE ? END,"
            " status = ?, version = ?, updated_at = ? WHERE de_an_id = ?",
            (status, at, status, e.originator_version, at, eid),
        )
    else:
        cur.execute(
            "UPDATE de_an_v2 SET version = ?, updated_at = ? WHERE de_an_id = ?", (e.originator_version, at, eid)
        )


class DeAnList:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def search(self, query: ListQuery, units: list[str] | None = None) -> tuple[int, list[dict[str, Any]]]:
        """A page of đề án; ``units``: only these implementing units' (None: all)."""
        where: list[str] = ["1 = 1"]
        params: list[str | int] = []
        if units is not None:
            where.append(f"unit IN ({', '.join('?' for _ in units)})" if units else "1 = 0")
            params.extend(units)
        for token in fold(query.q or "").split():
            where.append("search_text LIKE ?")
            params.append(f"%{token}%")
        for column, value in (("status", query.status), ("plan_year", query.plan_year), ("level", query.level)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = " AND ".join(where)
        with self.store.transaction(commit=False) as cur:
            total = cur.execute(f"SELECT COUNT(*) AS n FROM de_an_v2 WHERE {clause}", params).fetchone()
            rows = cur.execute(
                f"SELECT * FROM de_an_v2 WHERE {clause} ORDER BY plan_year DESC, code LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
        for r in rows:
            r["activity_contents"] = json.loads(r.pop("activity_contents"))
            for internal in ("search_text", "code_key", "status_changed_at"):
                r.pop(internal)
        return (int(total["n"]) if total else 0), rows

    def by_code(self, code: str) -> list[UUID]:
        """The đề án with this code (compared as ``code_key``: NFC, spaces collapsed, upper case)."""
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute("SELECT de_an_id FROM de_an_v2 WHERE code_key = ? LIMIT 10", (code_key(code),))
            return [UUID(r["de_an_id"]) for r in rows.fetchall()]

    def count_in_year(self, plan_year: int) -> int:
        with self.store.transaction(commit=False) as cur:
            row = cur.execute("SELECT COUNT(*) AS n FROM de_an_v2 WHERE plan_year = ?", (plan_year,)).fetchone()
        return int(row["n"]) if row else 0
