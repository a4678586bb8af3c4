"""Beneficiary facts from the registry's contract events: no calls to the registry.

Appraisal needs, for each establishment: its name, eligibility timeline, sectors, owner attributes,
recognitions (for priority) and state support received (against double funding).

Records are keyed by (instance, establishment id): an establishment's id comes from its tax code, so
the same code registered in two provinces gives one id in both, and the ministry, which reads every
province, keeps each province's record apart instead of overwriting one with the other.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.registry_events import (
    EstablishmentRegisteredV1,
    EstablishmentUpdatedV1,
    RecognitionRecordedV1,
    RecognitionRevokedV1,
    SupportRecordedV1,
)
from kc_runtime.store.views import ViewStore

from kc_appraisal.domain.beneficiary import AreaPeriod, BeneficiaryFacts, EligibilityPeriod, Recognition

TABLE = """CREATE TABLE IF NOT EXISTS {t} (
        establishment_id TEXT NOT NULL,
        instance TEXT NOT NULL,
        facts TEXT NOT NULL,
        PRIMARY KEY (establishment_id, instance)
    )"""
DDL = [TABLE.format(t="beneficiaries")]


class BeneficiariesView:
    def __init__(self, store: ViewStore, instance: str | None = None) -> None:
        self.store = store
        self.instance = instance  # this service's own: the record an id without an instance means first
        store.rekey("beneficiaries", TABLE, ["establishment_id", "instance"])  # stores made when keyed by id

    def apply(self, envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        with self.store.transaction() as cur:
            eid = str(getattr(event, "establishment_id", ""))
            owner = envelope.kcinstance  # the publishing instance: its record, never another's
            row = cur.execute(
                "SELECT facts FROM beneficiaries WHERE instance = ? AND establishment_id = ?", (owner, eid)
            ).fetchone()
            facts: dict[str, Any] = json.loads(row["facts"]) if row else {"recognitions": [], "support": []}
            if isinstance(event, EstablishmentRegisteredV1 | EstablishmentUpdatedV1):
                data = event.model_dump(mode="json")
                facts |= {
                    k: data[k]
                    for k in (
                        "name",
                        "legal_form",
                        "province_code",
                        "commune_code",
                        "current_province_code",
                        "current_commune_code",
                        "sectors",
                        "women_owned",
                        "ethnic_minority_owned",
                        "craft_village",
                        "eligibility",
                        "priority_areas",
                        "region",
                    )
                    if k in data
                }
            elif isinstance(event, RecognitionRecordedV1):
                facts["recognitions"].append(event.model_dump(mode="json", exclude={"establishment_id"}))
            elif isinstance(event, RecognitionRevokedV1):
                for r in facts["recognitions"]:
                    if r["recognition_id"] == event.recognition_id:
                        r["revoked_on"] = event.revoked_on.isoformat()
            elif isinstance(event, SupportRecordedV1):
                facts["support"].append(event.model_dump(mode="json", exclude={"establishment_id"}))
            if eid and (row or "name" in facts):
                cur.execute(
                    "INSERT INTO beneficiaries (establishment_id, instance, facts) VALUES (?, ?, ?)"
                    " ON CONFLICT (establishment_id, instance) DO UPDATE SET facts = excluded.facts",
                    (eid, owner, json.dumps(facts, ensure_ascii=False)),
                )
            self.store.track(cur, tracking)

    def facts(self, establishment_id: UUID, instance: str | None = None) -> dict[str, Any] | None:
        """The establishment's facts as ``instance`` published them; without an instance: this service's
        own record, else the only one (None for several: :meth:`holders` says whose)."""
        with self.store.transaction(commit=False) as cur:
            rows = {
                r["instance"]: r["facts"]
                for r in cur.execute(
                    "SELECT instance, facts FROM beneficiaries WHERE establishment_id = ?", (str(establishment_id),)
                ).fetchall()
            }
        if instance is not None:
            found = rows.get(instance)
        elif self.instance in rows:
            found = rows[self.instance]
        else:
            found = next(iter(rows.values())) if len(rows) == 1 else None
        return json.loads(found) if found else None

    def holders(self, establishment_id: UUID) -> list[str]:
        """The instances that published an establishment with this id."""
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute(
                "SELECT instance FROM beneficiaries WHERE establishment_id = ? ORDER BY instance",
                (str(establishment_id),),
            ).fetchall()
        return [r["instance"] for r in rows]

    def lookup(self, establishment_id: UUID) -> BeneficiaryFacts | None:
        """The facts as the domain judges them (this instance's own record, else the only one)."""
        record = self.facts(establishment_id)
        return to_facts(record) if record is not None else None


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def to_facts(record: dict[str, Any]) -> BeneficiaryFacts:
    """The view's record (built from the registry's contract events) as typed facts."""
    return BeneficiaryFacts(
        name=str(record.get("name") or ""),
        eligibility=tuple(
            EligibilityPeriod(
                start=date.fromisoformat(p["start"]),
                end=_day(p.get("end")),
                outcome=str(p["outcome"]),
                rules=tuple(p.get("rules") or ()),
            )
            for p in record.get("eligibility") or []
        ),
        sectors=tuple(record.get("sectors") or ()),
        recognitions=tuple(
            Recognition(
                valid_from=date.fromisoformat(r["valid_from"]),
                valid_to=date.fromisoformat(r["valid_to"]),
                revoked_on=_day(r.get("revoked_on")),
                scheme=str(r.get("scheme") or ""),
                level=r.get("level"),
            )
            for r in record.get("recognitions") or []
        ),
        supported_cost_items=frozenset(str(s["cost_item"]).casefold() for s in record.get("support") or []),
        women_owned=bool(record.get("women_owned")),
        ethnic_minority_owned=bool(record.get("ethnic_minority_owned")),
        priority_areas=tuple(
            AreaPeriod(
                area=str(p["area"]),
                start=date.fromisoformat(p["start"]),
                end=_day(p.get("end")),
                rule=str(p.get("rule") or ""),
                to_confirm=bool(p.get("to_confirm")),
            )
            for p in record.get("priority_areas") or []
        ),
        region=record.get("region"),
    )
