"""The ministry's list of the provinces' national đề án (its records, kept from its own log).

One row per (instance, đề án id): the đề án as the province last reported it, and what the ministry
is waiting for — a decision of its own (``pending``: appraisal, contract, adjustment, settlement) or
the province applying one (``awaiting``).
"""

from __future__ import annotations

from typing import Any

from kc_runtime.store.views import ViewCursor
from kc_runtime.text import fold

from kc_appraisal.commands import NationalQuery
from kc_appraisal.domain.national_de_an import NationalDeAn

NAME = "appraisal-national-de-an-v1"

DDL = [
    """CREATE TABLE IF NOT EXISTS national_de_an (
        record_id TEXT PRIMARY KEY,
        instance TEXT NOT NULL,
        de_an_id TEXT NOT NULL,
        code TEXT NOT NULL,
        title TEXT NOT NULL,
        province_code TEXT NOT NULL,
        plan_year INTEGER NOT NULL,
        status TEXT NOT NULL,
        awaiting TEXT,
        required_authority TEXT,
        approved_support_vnd BIGINT NOT NULL,
        contracted_support_vnd BIGINT NOT NULL,
        settled_support_vnd BIGINT NOT NULL,
        search_text TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS national_de_an_instance ON national_de_an (instance, de_an_id)",
]
_MONEY = ("approved_support_vnd", "contracted_support_vnd", "settled_support_vnd")


def apply(cur: ViewCursor, e: Any) -> None:
    if not isinstance(e, NationalDeAn.Event):
        return
    rid, at = str(e.originator_id), e.timestamp.isoformat()
    if isinstance(e, NationalDeAn.Opened):
        cur.execute(
            "INSERT INTO national_de_an VALUES (?, ?, ?, '', '', '', 0, 'du_thao', NULL, NULL, 0, 0, 0, '', ?)",
            (rid, e.instance, e.de_an_id, at),
        )
        return
    row = cur.execute("SELECT * FROM national_de_an WHERE record_id = ?", (rid,)).fetchone()
    if row is None:
        return
    if isinstance(e, NationalDeAn.Reported):
        f = e.facts
        for key in ("code", "title", "province_code", "plan_year", *_MONEY):
            if f.get(key) is not None:
                row[key] = f[key]
        row["status"] = e.status
        if e.milestone == "adjustment-requested":
            row["required_authority"] = f.get("authority")
        elif e.milestone == "adjustment-decided":
            row["required_authority"] = None
        if e.milestone in ("ministry-appraised", "contracted", "adjustment-decided", "settled"):
            row["awaiting"] = None
    elif isinstance(e, NationalDeAn.Decided):
        status = e.leads_to()
        row["status"] = status.value if status is not None else row["status"]
        row["awaiting"] = e.action
    row["search_text"] = fold(f"{row['code']} {row['title']}")
    row["updated_at"] = at
    columns = [k for k in row if k != "record_id"]
    cur.execute(
        f"UPDATE national_de_an SET {', '.join(f'{c} = ?' for c in columns)} WHERE record_id = ?",
        [*(row[c] for c in columns), rid],
    )


class NationalList:
    def __init__(self, store: Any) -> None:
        self.store = store

    def search(self, query: NationalQuery) -> tuple[int, list[dict[str, Any]]]:
        where, params = ["1 = 1"], []
        for column, value in (("instance", query.instance), ("status", query.status), ("plan_year", query.plan_year)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = " AND ".join(where)
        with self.store.transaction(commit=False) as cur:
            total = int(cur.execute(f"SELECT COUNT(*) AS n FROM national_de_an WHERE {sql}", params).fetchone()["n"])
            rows = cur.execute(
                f"SELECT * FROM national_de_an WHERE {sql} ORDER BY plan_year DESC, instance, code LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
        return total, [{k: v for k, v in r.items() if k != "search_text"} for r in rows]

    def briefs(self, de_an_id: str) -> list[dict[str, Any]]:
        """The records of a đề án id (one per province that published it): instance, code, title."""
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute(
                "SELECT instance, code, title FROM national_de_an WHERE de_an_id = ? ORDER BY instance", (de_an_id,)
            ).fetchall()
        return [dict(r) for r in rows]
