"""The one place where the registry's domain events meet its public contract events."""

from __future__ import annotations

from datetime import date
from typing import Any

from kc_contracts import ContractEvent
from kc_contracts.registry_events import (
    DocumentAttachedV1,
    DocumentRejectedV1,
    DocumentVerifiedV1,
    EstablishmentRegisteredV1,
    EstablishmentUpdatedV1,
    RecognitionRecordedV1,
    RecognitionRevokedV1,
    SupportRecordedV1,
)
from kc_runtime.adminunits import load_catalogue

from kc_registry.domain.eligibility import timeline
from kc_registry.domain.establishment import Establishment
from kc_registry.domain.priority import area_periods, recorded_region
from kc_registry.rulebook import eligibility_rules, priority_rules

# Eligibility is judged from the day ND 45/2012 came into force; periods are published with the facts.
ELIGIBILITY_SINCE = date(2012, 7, 5)
REGIONS_ON = date(2014, 10, 21)  # TT 26/2014's regions of the 63 provinces, as recorded


def eligibility_periods(details: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"start": p.start, "end": p.end, "outcome": p.outcome.value, "rules": list(p.rules)}
        for p in timeline(details, eligibility_rules(), load_catalogue(), ELIGIBILITY_SINCE)
    ]


def facts(details: dict[str, Any]) -> dict[str, Any]:
    tax_code = details.get("tax_code")
    return {
        # a 12-digit tax code is a person's identification number: it stays in the province
        "tax_code": tax_code if tax_code and len(tax_code) != 12 else None,
        "unit_system": details.get("unit_system"),
        "current_commune_code": details.get("current_commune_code"),
        "current_province_code": details.get("current_province_code"),
        "district_code": details.get("district_code"),
        "sectors": details.get("sectors") or [],
        "women_owned": bool(details.get("women_owned")),
        "ethnic_minority_owned": bool(details.get("ethnic_minority_owned")),
        "craft_village": details.get("craft_village"),
        "cleaner_production": bool(details.get("cleaner_production")),
        "eligibility": eligibility_periods(details),
        "priority_areas": area_periods(details, priority_rules(), load_catalogue()),
        "region": recorded_region(details, priority_rules(), load_catalogue(), REGIONS_ON),
    }


def _establishment(d: dict[str, Any]) -> dict[str, Any]:
    """What registered.v1 and updated.v1 both publish of an establishment as it now stands."""
    keys = ("name", "province_code", "commune_code", "legal_form")
    return {k: d[k] for k in keys} | facts(d)


def to_contract(e: Any) -> ContractEvent | None:
    if isinstance(e, Establishment.Registered):
        return EstablishmentRegisteredV1(
            establishment_id=e.originator_id, registered_at=e.timestamp, **_establishment(e.details)
        )
    if isinstance(e, Establishment.Updated):
        return EstablishmentUpdatedV1(
            establishment_id=e.originator_id,
            establishment_version=e.originator_version,
            changed_fields=sorted(e.changes),
            updated_at=e.timestamp,
            **_establishment(e.details),
        )
    if isinstance(e, Establishment.DocumentAttached | Establishment.DocumentVerified | Establishment.DocumentRejected):
        document = {
            "establishment_id": e.originator_id,
            "document_kind": e.kind,
            "sha256": e.sha256,
            "size_bytes": e.size_bytes,
            "at": e.timestamp,
        }
        if isinstance(e, Establishment.DocumentAttached):
            return DocumentAttachedV1(**document)
        if isinstance(e, Establishment.DocumentVerified):
            return DocumentVerifiedV1(**document, verified_by=e.actor)
        return DocumentRejectedV1(**document, rejected_by=e.actor, reason=e.reason)
    if isinstance(e, Establishment.RecognitionRecorded):
        r = e.recognition
        return RecognitionRecordedV1(
            establishment_id=e.originator_id,
            recognition_id=r["id"],
            scheme=r["scheme"],
            level=r["level"],
            stars=r["stars"],
            product_name=r["product_name"],
            decision_number=r["decision_number"],
            decision_date=r["decision_date"],
            issuer=r["issuer"],
            valid_from=r["valid_from"],
            valid_to=r["valid_to"],
            rule_version=r["rule_version"],
        )
    if isinstance(e, Establishment.RecognitionRevoked):
        return RecognitionRevokedV1(
            establishment_id=e.originator_id,
            recognition_id=e.recognition_id,
            revoked_on=e.revoked_on,
            reason=e.reason,
            decision_number=e.decision_number,
        )
    if isinstance(e, Establishment.SupportRecorded):
        return SupportRecordedV1(establishment_id=e.originator_id, **e.support)
    return None
