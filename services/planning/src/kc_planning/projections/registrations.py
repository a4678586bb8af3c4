"""Đăng ký kế hoạch as the Sở and the Cục read them.

- ``registrations`` / ``registration_items``: this instance's own registrations (a local projection of
  its event log: read-your-writes), one row per registration and one per proposal, with the commune as
  recorded and as it is after the 2025 reorganisation — the Sở's list and the provincial view.
- ``national_registrations``: at the ministry, every province's latest national registration
  (``planning.national-registration.filed.v1`` from the provinces' streams), one row per proposal, by
  province as recorded and as it is now — the Cục's list and the national view.
- ``published_calendars`` and ``granted_extensions``: the Cục's national calendars and extension
  decisions (from ``bo``'s stream), so a province judges national deadlines by the Cục's own records.
"""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.planning_events import CalendarChangedV1, ExtensionGrantedV1, NationalRegistrationFiledV1
from kc_runtime.adminunits import load_catalogue
from kc_runtime.store.views import ViewCursor, ViewStore

from kc_planning.domain.calendar import Registration
from kc_planning.domain.extension import Extension, ExtensionDecision
from kc_planning.projections.programme import province_now, regions

NAME = "planning-registrations"

DDL = [
    """CREATE TABLE IF NOT EXISTS registrations (
        registration_id TEXT PRIMARY KEY,
        level TEXT NOT NULL,
        year INTEGER NOT NULL,
        owner TEXT NOT NULL,
        province_code TEXT,
        registrant TEXT NOT NULL,
        registrant_kind TEXT,
        unit TEXT,
        filed_on TEXT NOT NULL,
        on_time INTEGER NOT NULL,
        extension TEXT,
        deadline TEXT NOT NULL,
        status TEXT NOT NULL,
        decided_on TEXT,
        reason TEXT,
        proposals INTEGER NOT NULL,
        support_vnd BIGINT NOT NULL,
        communes TEXT NOT NULL,
        items TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS registration_items (
        registration_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        level TEXT NOT NULL,
        year INTEGER NOT NULL,
        status TEXT NOT NULL,
        unit TEXT,
        title TEXT NOT NULL,
        content TEXT,
        support_vnd BIGINT NOT NULL,
        commune_code TEXT,
        commune_now TEXT,
        PRIMARY KEY (registration_id, idx)
    )""",
    """CREATE TABLE IF NOT EXISTS national_registrations (
        instance TEXT NOT NULL,
        year INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        national_registration_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        province_code TEXT NOT NULL,
        province_now TEXT NOT NULL,
        region TEXT NOT NULL,
        filed_on TEXT NOT NULL,
        deadline TEXT NOT NULL,
        on_time INTEGER NOT NULL,
        extension TEXT,
        registration_id TEXT NOT NULL,
        registrant TEXT NOT NULL,
        registrant_kind TEXT NOT NULL,
        unit TEXT,
        title TEXT NOT NULL,
        content TEXT,
        support_vnd BIGINT NOT NULL,
        commune_code TEXT,
        commune_now TEXT,
        event_id TEXT NOT NULL,
        PRIMARY KEY (instance, year, idx)
    )""",
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
    """CREATE TABLE IF NOT EXISTS granted_extensions (
        extension_id TEXT PRIMARY KEY,
        authority TEXT NOT NULL,
        level TEXT NOT NULL,
        year INTEGER NOT NULL,
        milestone TEXT NOT NULL,
        decision_number TEXT NOT NULL,
        decision_date TEXT NOT NULL,
        signer TEXT NOT NULL,
        grantee TEXT NOT NULL,
        grantee_key TEXT NOT NULL,
        original_deadline TEXT NOT NULL,
        new_deadline TEXT NOT NULL,
        reason TEXT NOT NULL,
        event_id TEXT NOT NULL
    )""",
]


@lru_cache(maxsize=65536)
def commune_now(code: str | None) -> str | None:
    """The commune a recorded code is now: a current code stays, a pre-2025 ward goes to its successor."""
    if not code:
        return None
    catalogue = load_catalogue()
    if catalogue.legacy_ward(code) is None and catalogue.current_commune(code) is not None:
        return code
    succession = catalogue.successor(code)
    if succession is not None:
        return succession.default.code
    return code if catalogue.current_commune(code) is not None else None


# -- the Sở's own registrations (local projection) -----------------------------------------------------
def apply(cur: ViewCursor, event: Any) -> None:
    if isinstance(event, Registration.Filed):
        d = event.details
        items = list(d.get("items") or [])
        communes = sorted({str(i["commune_code"]) for i in items if i.get("commune_code")})
        cur.execute(
            "INSERT INTO registrations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (registration_id) DO NOTHING",
            (
                str(event.originator_id),
                d["level"],
                int(d["year"]),
                d.get("owner", ""),
                d.get("province_code"),
                d["registrant"],
                d.get("registrant_kind"),
                d.get("unit"),
                str(d["filed_on"]),
                1 if event.on_time else 0,
                event.extension,
                event.deadline.isoformat(),
                "da_nop",
                None,
                None,
                len(items),
                sum(int(i.get("support_vnd") or 0) for i in items),
                json.dumps(communes),
                json.dumps(items, ensure_ascii=False, default=str),
            ),
        )
        cur.executemany(
            "INSERT INTO registration_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (registration_id, idx) DO NOTHING",
            [
                (
                    str(event.originator_id),
                    i,
                    d["level"],
                    int(d["year"]),
                    "da_nop",
                    d.get("unit"),
                    item["title"],
                    item.get("content"),
                    int(item.get("support_vnd") or 0),
                    item.get("commune_code"),
                    commune_now(item.get("commune_code")),
                )
                for i, item in enumerate(items)
            ],
        )
    elif isinstance(event, ExtensionDecision.ExtensionGranted):  # this authority's own decisions
        _insert_extension(
            cur, event, str(event.originator_id), f"{event.authority}:{event.originator_id}:{event.originator_version}"
        )
    elif isinstance(event, Registration.RegistrationAccepted | Registration.RegistrationReturned):
        status = "da_chap_nhan" if isinstance(event, Registration.RegistrationAccepted) else "tra_lai"
        on = event.accepted_on if isinstance(event, Registration.RegistrationAccepted) else event.returned_on
        reason = event.note if isinstance(event, Registration.RegistrationAccepted) else event.reason
        key = str(event.originator_id)
        cur.execute(
            "UPDATE registrations SET status = ?, decided_on = ?, reason = ? WHERE registration_id = ?",
            (status, on.isoformat(), reason, key),
        )
        cur.execute("UPDATE registration_items SET status = ? WHERE registration_id = ?", (status, key))


def _insert_extension(cur: ViewCursor, decision: Any, extension_id: str, event_id: str) -> None:
    """One extension decision, from this authority's own event or from another's published contract
    (both name its facts alike)."""
    cur.execute(
        "INSERT INTO granted_extensions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (extension_id) DO NOTHING",
        (
            extension_id,
            decision.authority,
            decision.level,
            decision.year,
            decision.milestone,
            decision.decision_number,
            decision.decision_date.isoformat(),
            decision.signer,
            decision.grantee,
            decision.grantee_key,
            decision.original_deadline.isoformat(),
            decision.new_deadline.isoformat(),
            decision.reason,
            event_id,
        ),
    )


def _registration(row: dict[str, Any]) -> dict[str, Any]:
    return row | {
        "on_time": bool(row["on_time"]),
        "communes": json.loads(row["communes"]),
        "items": json.loads(row["items"]),
    }


def _count(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    groups: dict[Any, dict[str, Any]] = {}
    for row in rows:
        g = groups.setdefault(row[by], {by: row[by], "proposals": 0, "support_vnd": 0, "registrants": set()})
        g["proposals"] += 1
        g["support_vnd"] += int(row["support_vnd"] or 0)
        g["registrants"].add(row.get("registration_id"))
    return [
        {k: v for k, v in groups[k].items() if k != "registrants"} | {"registrations": len(groups[k]["registrants"])}
        for k in sorted(groups, key=lambda k: (k is None, str(k)))
    ]


class RegistrationQueries:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def registrations(
        self,
        *,
        year: int | None = None,
        level: str | None = None,
        status: str | None = None,
        commune_code: str | None = None,
        unit: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[int, list[dict[str, Any]]]:
        """The Sở's list with filters; a commune matches as recorded or as it is now."""
        where, params = ["1 = 1"], []
        for column, value in (("year", year), ("level", level), ("status", status), ("unit", unit)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if commune_code:
            where.append(
                "registration_id IN (SELECT registration_id FROM registration_items"
                " WHERE commune_code = ? OR commune_now = ?)"
            )
            params += [commune_code, commune_code]
        clause = " AND ".join(where)
        with self.store.transaction(commit=False) as cur:
            total = cur.execute(f"SELECT COUNT(*) AS n FROM registrations WHERE {clause}", params).fetchone()
            rows = cur.execute(
                f"SELECT * FROM registrations WHERE {clause} ORDER BY filed_on, registrant, registration_id"
                " LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return int(total["n"] if total else 0), [_registration(r) for r in rows]

    def accepted_items(self, *, level: str, year: int) -> list[dict[str, Any]]:
        """Every proposal of the accepted registrations, in filing order (what the Sở consolidates)."""
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute(
                "SELECT * FROM registrations WHERE level = ? AND year = ? AND status = 'da_chap_nhan'"
                " ORDER BY filed_on, registrant, registration_id",
                (level, year),
            ).fetchall()
        proposals = []
        for row in rows:
            for item in json.loads(row["items"]):
                proposals.append(
                    {
                        "registration_id": row["registration_id"],
                        "registrant": row["registrant"],
                        "registrant_kind": row["registrant_kind"] or "don_vi_khac",
                        "unit": row["unit"],
                        "title": item["title"],
                        "content": item.get("content"),
                        "support_vnd": int(item.get("support_vnd") or 0),
                        "commune_code": item.get("commune_code"),
                    }
                )
        return proposals

    def provincial(self, *, year: int | None) -> dict[str, Any]:
        """Registrations by commune (as recorded and now), level and status: counts and amounts."""
        where, params = ("WHERE year = ?", [year]) if year is not None else ("", [])
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute(f"SELECT * FROM registration_items {where}", params).fetchall()
        return {
            "by_commune_as_recorded": _count(rows, "commune_code"),
            "by_commune_now": _count(rows, "commune_now"),
            "by_level": _count(rows, "level"),
            "by_status": _count(rows, "status"),
            "totals": _count([r | {"all": "tong"} for r in rows], "all"),
        }

    # -- the ministry's -----------------------------------------------------------------------------------
    def national_rows(self, *, year: int | None = None, province: str | None = None) -> list[dict[str, Any]]:
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if year is not None:
            where.append("year = ?")
            params.append(year)
        if province is not None:
            where.append("(province_code = ? OR province_now = ?)")
            params += [province, province]
        with self.store.transaction(commit=False) as cur:
            return cur.execute(
                f"SELECT * FROM national_registrations WHERE {' AND '.join(where)}"
                " ORDER BY province_now, province_code, year, idx",
                params,
            ).fetchall()

    def national_filings(self, *, year: int | None = None, province: str | None = None) -> list[dict[str, Any]]:
        """One entry per province and year: its latest filing and its proposals."""
        filings: dict[tuple[str, int], dict[str, Any]] = {}
        for row in self.national_rows(year=year, province=province):
            key = (row["instance"], row["year"])
            filing = filings.setdefault(
                key,
                {
                    k: row[k]
                    for k in (
                        "instance",
                        "year",
                        "national_registration_id",
                        "revision",
                        "province_code",
                        "province_now",
                        "region",
                        "filed_on",
                        "deadline",
                        "extension",
                    )
                }
                | {"on_time": bool(row["on_time"]), "proposals": [], "total_support_vnd": 0},
            )
            filing["proposals"].append(
                {
                    k: row[k]
                    for k in (
                        "registration_id",
                        "registrant",
                        "registrant_kind",
                        "unit",
                        "title",
                        "content",
                        "support_vnd",
                        "commune_code",
                        "commune_now",
                    )
                }
            )
            filing["total_support_vnd"] += int(row["support_vnd"])
        return list(filings.values())

    def national(self, *, year: int | None) -> dict[str, Any]:
        rows = self.national_rows(year=year)
        return {
            "by_province_as_recorded": _count(rows, "province_code"),
            "by_province_now": _count(rows, "province_now"),
            "by_region": _count(rows, "region"),
            "totals": _count([r | {"all": "tong"} for r in rows], "all"),
        }

    # -- the Cục's records, at a province ----------------------------------------------------------------
    def published_calendar(self, level: str, owner: str, year: int) -> dict[str, Any] | None:
        with self.store.transaction(commit=False) as cur:
            row: dict[str, Any] | None = cur.execute(
                "SELECT * FROM published_calendars WHERE level = ? AND owner = ? AND year = ?", (level, owner, year)
            ).fetchone()
        return row

    def granted_extension(self, extension_id: str) -> Extension | None:
        with self.store.transaction(commit=False) as cur:
            row = cur.execute("SELECT * FROM granted_extensions WHERE extension_id = ?", (extension_id,)).fetchone()
        if row is None:
            return None
        return Extension(
            authority=row["authority"],
            level=row["level"],
            year=int(row["year"]),
            milestone=row["milestone"],
            decision_number=row["decision_number"],
            decision_date=date.fromisoformat(row["decision_date"]),
            grantee_key=row["grantee_key"],
            new_deadline=date.fromisoformat(row["new_deadline"]),
        )

    def granted_extensions(self, *, year: int | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE year = ?", [year]) if year is not None else ("", [])
        with self.store.transaction(commit=False) as cur:
            return cur.execute(
                f"SELECT * FROM granted_extensions {where} ORDER BY decision_date, decision_number", params
            ).fetchall()


class MinistryRecordsView:
    """Bus effect: the Cục's calendars and extensions (at a province), the provinces' national
    registrations (at the ministry)."""

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
            elif isinstance(event, ExtensionGrantedV1):
                if event.authority != envelope.kcinstance:
                    raise ValueError(
                        f"an extension of {event.authority} published by {envelope.kcinstance}: not its authority"
                    )
                _insert_extension(cur, event, str(event.extension_id), envelope.id)
            elif isinstance(event, NationalRegistrationFiledV1):
                self._national(cur, envelope, event)
            self.store.track(cur, tracking)

    @staticmethod
    def _national(cur: ViewCursor, envelope: Envelope, event: NationalRegistrationFiledV1) -> None:
        instance = envelope.kcinstance
        now = province_now(event.province_code)
        if instance != f"tinh-{now}":
            raise ValueError(f"{instance} filed a national registration for province {event.province_code}")
        known = cur.execute(
            "SELECT MAX(revision) AS r FROM national_registrations WHERE instance = ? AND year = ?",
            (instance, event.year),
        ).fetchone()
        if known and known["r"] is not None and int(known["r"]) >= event.revision:
            return  # an earlier (or the same) filing delivered late: the latest stands
        cur.execute("DELETE FROM national_registrations WHERE instance = ? AND year = ?", (instance, event.year))
        cur.executemany(
            "INSERT INTO national_registrations VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    instance,
                    event.year,
                    i,
                    str(event.national_registration_id),
                    event.revision,
                    event.province_code,
                    now,
                    regions().get(now, "khac"),
                    event.filed_on.isoformat(),
                    event.deadline.isoformat(),
                    1 if event.on_time else 0,
                    event.extension,
                    str(p.registration_id),
                    p.registrant,
                    p.registrant_kind,
                    p.unit,
                    p.title,
                    p.content,
                    p.support_vnd,
                    p.commune_code,
                    commune_now(p.commune_code),
                    envelope.id,
                )
                for i, p in enumerate(event.proposals)
            ],
        )
