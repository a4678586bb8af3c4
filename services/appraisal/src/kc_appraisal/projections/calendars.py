"""Plan calendars as the planning service publishes them (``planning.calendar.changed.v1``).

A published calendar overrides the packaged default of ``rules/calendars.toml`` for its level,
owner and year: the owning authority edits deadlines in planning, and submissions here follow.
"""

from __future__ import annotations

from datetime import date

from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.planning_events import CalendarChangedV1, ExtensionGrantedV1, plan_owner
from kc_runtime.store.views import ViewStore
from kc_runtime.text import unit_key

from kc_appraisal.domain.rules import Calendar

DDL = [
    """CREATE TABLE IF NOT EXISTS published_calendars (
        level TEXT NOT NULL,
        owner TEXT NOT NULL,
        year INTEGER NOT NULL,
        registration_deadline TEXT NOT NULL,
        dossier_deadline TEXT NOT NULL,
        legal_basis TEXT NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (level, owner, year)
    )""",
    """CREATE TABLE IF NOT EXISTS granted_dossier_extensions (
        extension_id TEXT PRIMARY KEY,
        authority TEXT NOT NULL,
        level TEXT NOT NULL,
        year INTEGER NOT NULL,
        grantee_key TEXT NOT NULL,
        decision_number TEXT NOT NULL,
        new_deadline TEXT NOT NULL,
        event_id TEXT NOT NULL
    )""",
]


class CalendarsView:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def apply(self, envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        with self.store.transaction() as cur:
            if isinstance(event, CalendarChangedV1):
                cur.execute(
                    "INSERT INTO published_calendars VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (level, owner, year)"
                    " DO UPDATE SET registration_deadline = excluded.registration_deadline,"
                    " dossier_deadline = excluded.dossier_deadline, legal_basis = excluded.legal_basis,"
                    " event_id = excluded.event_id",
                    (
                        event.level,
                        event.owner,
                        event.year,
                        event.registration_deadline.isoformat(),
                        event.dossier_deadline.isoformat(),
                        event.legal_basis,
                        envelope.id,
                    ),
                )
            elif isinstance(event, ExtensionGrantedV1) and event.milestone == "dossier_deadline":
                if event.authority != envelope.kcinstance:
                    raise ValueError(f"{envelope.kcinstance} published an extension of {event.authority}")
                cur.execute(
                    "INSERT INTO granted_dossier_extensions VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (extension_id) DO NOTHING",
                    (
                        str(event.extension_id),
                        event.authority,
                        event.level,
                        event.year,
                        event.grantee_key,
                        event.decision_number,
                        event.new_deadline.isoformat(),
                        envelope.id,
                    ),
                )
            self.store.track(cur, tracking)

    def extension(self, level: str, province: str, year: int, unit: str) -> date | None:
        """The latest dossier deadline the authority that set it (the Cục for national plans, the Sở for
        local ones) extended for this implementing unit, from planning's recorded decisions."""
        with self.store.transaction(commit=False) as cur:
            row = cur.execute(
                "SELECT MAX(new_deadline) AS d FROM granted_dossier_extensions"
                " WHERE authority = ? AND level = ? AND year = ? AND grantee_key = ?",
                (plan_owner(level, province), level, year, unit_key(unit)),
            ).fetchone()
        return date.fromisoformat(row["d"]) if row and row["d"] else None

    def lookup(self, level: str, province: str, year: int) -> Calendar | None:
        owner = plan_owner(level, province)
        with self.store.transaction(commit=False) as cur:
            row = cur.execute(
                "SELECT * FROM published_calendars WHERE level = ? AND owner = ? AND year = ?", (level, owner, year)
            ).fetchone()
        if row is None:
            return None
        return Calendar(
            version=f"planning:{owner}:{year}@{row['event_id'].rsplit(':', 1)[-1]}",
            level=level,
            province=province,
            plan_year=year,
            registration_deadline=date.fromisoformat(row["registration_deadline"]),
            dossier_deadline=date.fromisoformat(row["dossier_deadline"]),
            legal_basis=row["legal_basis"],
        )
