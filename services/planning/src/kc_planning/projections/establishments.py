"""Cơ sở CNNT known to this instance, counted by province and commune (as recorded).

Fed by ``registry.establishment.registered.v1``; the first read model of the provincial view.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.registry_events import EstablishmentRegisteredV1
from kc_runtime.store.views import ViewStore

DDL = [
    """CREATE TABLE IF NOT EXISTS establishments (
        establishment_id TEXT PRIMARY KEY,
        instance TEXT NOT NULL,
        name TEXT NOT NULL,
        province_code TEXT NOT NULL,
        commune_code TEXT NOT NULL,
        legal_form TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        event_id TEXT NOT NULL
    )""",
]


class EstablishmentsView:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def apply(self, envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        with self.store.transaction() as cur:
            if isinstance(event, EstablishmentRegisteredV1):
                # the same registration delivered again from another stream position (a publisher that
                # signed it twice): the first delivery stands, the repeat changes nothing
                cur.execute(
                    "INSERT INTO establishments VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (establishment_id) DO NOTHING",
                    (
                        str(event.establishment_id),
                        envelope.kcinstance,
                        event.name,
                        event.province_code,
                        event.commune_code,
                        event.legal_form,
                        event.registered_at.isoformat(),
                        envelope.id,
                    ),
                )
            self.store.track(cur, tracking)

    def by_commune(self, province_code: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT province_code, commune_code, COUNT(*) AS establishments FROM establishments"
            + (" WHERE province_code = ?" if province_code else "")
            + " GROUP BY province_code, commune_code ORDER BY province_code, commune_code"
        )
        with self.store.transaction(commit=False) as cur:
            return cur.execute(sql, (province_code,) if province_code else ()).fetchall()

    def count(self) -> int:
        with self.store.transaction(commit=False) as cur:
            row = cur.execute("SELECT COUNT(*) AS n FROM establishments").fetchone()
        return int(row["n"]) if row else 0

    def names(self, ids: list[str] | None = None) -> dict[str, str]:
        """Establishment id → name (those this instance's registry published; ``ids``: only these)."""
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute("SELECT establishment_id, name FROM establishments").fetchall()
        wanted = set(ids) if ids is not None else None
        return {r["establishment_id"]: r["name"] for r in rows if wanted is None or r["establishment_id"] in wanted}
