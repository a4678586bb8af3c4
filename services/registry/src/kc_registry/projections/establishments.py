"""The establishments list: filters and accent-insensitive search, recognitions by validity."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from kc_runtime.store.views import ViewCursor, ViewStore
from kc_runtime.text import fold

from kc_registry.domain.establishment import Establishment

DDL = [
    """CREATE TABLE IF NOT EXISTS establishments (
        establishment_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        name TEXT NOT NULL,
        tax_code TEXT,
        legal_form TEXT NOT NULL,
        province_code TEXT NOT NULL,
        commune_code TEXT NOT NULL,
        unit_system TEXT NOT NULL,
        current_province_code TEXT NOT NULL,
        current_commune_code TEXT NOT NULL,
        district_code TEXT,
        sectors TEXT NOT NULL,
        search_text TEXT NOT NULL,
        details TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS establishments_current_commune ON establishments (current_commune_code)",
    "CREATE INDEX IF NOT EXISTS establishments_commune ON establishments (commune_code)",
    """CREATE TABLE IF NOT EXISTS establishment_recognitions (
        recognition_id TEXT PRIMARY KEY,
        establishment_id TEXT NOT NULL,
        scheme TEXT NOT NULL,
        level TEXT,
        stars INTEGER,
        product_name TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT NOT NULL,
        revoked_on TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS recognitions_establishment ON establishment_recognitions (establishment_id)",
]


def _search_text(details: dict[str, Any]) -> str:
    parts = [
        details.get(k) or ""
        for k in ("name", "tax_code", "registration_number", "street", "craft_village", "representative")
    ]
    return fold(" ".join(str(p) for p in parts))


def apply(cur: ViewCursor, e: Any) -> None:
    """Fold one domain event of the registry into the tables (called inside the tracking transaction)."""
    eid = str(e.originator_id)
    if isinstance(e, Establishment.Registered | Establishment.Updated):
        d = e.details
        row = (
            e.originator_version,
            d["name"],
            d.get("tax_code"),
            d["legal_form"],
            d["province_code"],
            d["commune_code"],
            d["unit_system"],
            d["current_province_code"],
            d["current_commune_code"],
            d.get("district_code"),
            json.dumps(d.get("sectors") or []),
            _search_text(d),
            json.dumps(d, ensure_ascii=False, default=str),
            e.timestamp.isoformat(),
        )
        if isinstance(e, Establishment.Registered):
            cur.execute(
                "INSERT INTO establishments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (eid, *row, e.timestamp.isoformat()),
            )
        else:
            cur.execute(
                "UPDATE establishments SET version = ?, name = ?, tax_code = ?, legal_form = ?,"
                " province_code = ?, commune_code = ?, unit_system = ?, current_province_code = ?,"
                " current_commune_code = ?,"
                " district_code = ?, sectors = ?, search_text = ?, details = ?, updated_at = ?"
                " WHERE establishment_id = ?",
                (*row, eid),
            )
        return
    cur.execute(
        "UPDATE establishments SET version = ?, updated_at = ? WHERE establishment_id = ?",
        (e.originator_version, e.timestamp.isoformat(), eid),
    )
    if isinstance(e, Establishment.RecognitionRecorded):
        r = e.recognition
        cur.execute(
            "INSERT INTO establishment_recognitions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r["id"],
                eid,
                r["scheme"],
                r["level"],
                r["stars"],
                r["product_name"],
                r["valid_from"],
                r["valid_to"],
                None,
            ),
        )
    elif isinstance(e, Establishment.RecognitionRevoked):
        cur.execute(
            "UPDATE establishment_recognitions SET revoked_on = ? WHERE recognition_id = ?",
            (e.revoked_on.isoformat(), e.recognition_id),
        )


@dataclass
class EstablishmentQuery:
    q: str | None = None
    province_code: str | None = None
    commune_code: str | None = None
    legal_form: str | None = None
    sector: str | None = None
    recognition: str | None = None  # scheme with a certificate valid on ``valid_on``
    valid_on: date | None = None
    limit: int = 50
    offset: int = 0


class EstablishmentsView:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def search(self, query: EstablishmentQuery) -> tuple[int, list[dict[str, Any]]]:
        where, params = ["1 = 1"], []
        if query.q:
            for token in fold(query.q).split():
                where.append("search_text LIKE ?")
                params.append(f"%{token}%")
        if query.province_code:
            where.append("(current_province_code = ? OR province_code = ?)")
            params += [query.province_code, query.province_code]
        if query.commune_code:
            where.append("(current_commune_code = ? OR commune_code = ?)")
            params += [query.commune_code, query.commune_code]
        if query.legal_form:
            where.append("legal_form = ?")
            params.append(query.legal_form)
        if query.sector:
            where.append("sectors LIKE ?")
            params.append(f'%"{query.sector}"%')
        if query.recognition:
            day = (query.valid_on or date.today()).isoformat()
            where.append(
                "establishment_id IN (SELECT establishment_id FROM establishment_recognitions"
                " WHERE scheme = ? AND valid_from <= ? AND valid_to >= ?"
                " AND (revoked_on IS NULL OR revoked_on > ?))"
            )
            params += [query.recognition, day, day, day]
        clause = " AND ".join(where)
        with self.store.transaction(commit=False) as cur:
            total_row = cur.execute(f"SELECT COUNT(*) AS n FROM establishments WHERE {clause}", params).fetchone()
            rows = cur.execute(
                f"SELECT establishment_id, version, details FROM establishments WHERE {clause}"
                " ORDER BY name, establishment_id LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
        items = [{"id": r["establishment_id"], "version": r["version"], **json.loads(r["details"])} for r in rows]
        return (int(total_row["n"]) if total_row else 0), items
