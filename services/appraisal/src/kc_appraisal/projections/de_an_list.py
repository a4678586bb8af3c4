"""The list of đề án of this instance (kept from its own log; filters for officers)."""

from __future__ import annotations

import json
from typing import Any

from kc_runtime.text import fold
from kc_runtime.views import ViewCursor, ViewStore

from kc_appraisal.domain.de_an import DeAn, totals

DDL = [
    """CREATE TABLE IF NOT EXISTS de_an (
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
        updated_at TEXT NOT NULL
    )""",
]

STATUS_BY_EVENT = {
    "Drafted": "du_thao",
    "Returned": "du_thao",
    "Submitted": "da_nop",
    "Forwarded": "da_gui_bo",
    "Proposed": "de_xuat",
    "Approved": "da_phe_duyet",
    "NotFunded": "khong_bo_tri",
    "Contracted": "da_ky_hop_dong",
    "Completed": "hoan_thanh",
    "Accepted": "da_nghiem_thu",
    "Settled": "da_quyet_toan",
    "Closed": "da_dong",
}


def apply(cur: ViewCursor, e: Any) -> None:
    eid, at = str(e.originator_id), e.timestamp.isoformat()
    if isinstance(e, DeAn.Drafted | DeAn.Edited):
        if isinstance(e, DeAn.Drafted):
            d = e.details
            cur.execute(
                "INSERT INTO de_an VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    eid,
                    e.originator_version,
                    d["code"],
                    d["title"],
                    d["level"],
                    d["de_an_type"],
                    d["plan_year"],
                    d["province_code"],
                    "du_thao",
                    json.dumps(d["activity_contents"]),
                    totals(d["budget_lines"])["support_requested_vnd"],
                    fold(f"{d['code']} {d['title']}"),
                    at,
                ),
            )
            return
        c = e.changes
        row = cur.execute("SELECT code, title FROM de_an WHERE de_an_id = ?", (eid,)).fetchone() or {}
        code, title = c.get("code", row.get("code", "")), c.get("title", row.get("title", ""))
        cur.execute(
            "UPDATE de_an SET title = ?, code = ?, search_text = ?, version = ?, updated_at = ? WHERE de_an_id = ?",
            (title, code, fold(f"{code} {title}"), e.originator_version, at, eid),
        )
        if "budget_lines" in c:
            cur.execute(
                "UPDATE de_an SET support_requested_vnd = ? WHERE de_an_id = ?",
                (totals(c["budget_lines"])["support_requested_vnd"], eid),
            )
        return
    name = type(e).__name__
    status = STATUS_BY_EVENT.get(name)
    if name == "Appraised":
        passed = e.conclusion != "khong_dong_y"
        status = {
            ("co_so", True): "dat_co_so",
            ("co_so", False): "khong_dat_co_so",
            ("cap_bo", True): "dat_cap_bo",
            ("cap_bo", False): "khong_dat_cap_bo",
        }[(e.stage, passed)]
    if name == "AdjustmentDecided" and e.approved:
        status = None  # a stop is visible on the đề án itself; the list keeps the last milestone
    if status:
        cur.execute(
            "UPDATE de_an SET status = ?, version = ?, updated_at = ? WHERE de_an_id = ?",
            (status, e.originator_version, at, eid),
        )
    else:
        cur.execute("UPDATE de_an SET version = ?, updated_at = ? WHERE de_an_id = ?", (e.originator_version, at, eid))


class DeAnList:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def search(
        self, *, q: str | None, status: str | None, plan_year: int | None, level: str | None, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        where: list[str] = ["1 = 1"]
        params: list[str | int] = []
        for token in fold(q or "").split():
            where.append("search_text LIKE ?")
            params.append(f"%{token}%")
        for column, value in (("status", status), ("plan_year", plan_year), ("level", level)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = " AND ".join(where)
        with self.store.transaction(commit=False) as cur:
            total = cur.execute(f"SELECT COUNT(*) AS n FROM de_an WHERE {clause}", params).fetchone()
            rows = cur.execute(
                f"SELECT * FROM de_an WHERE {clause} ORDER BY plan_year DESC, code LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        for r in rows:
            r["activity_contents"] = json.loads(r.pop("activity_contents"))
            r.pop("search_text")
        return (int(total["n"]) if total else 0), rows
