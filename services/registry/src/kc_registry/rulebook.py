"""The one module that loads the registry's dated rules from ``rules/*.toml``."""

from __future__ import annotations

from functools import cache
from typing import Any

from kc_kernel.dated import DatedRules, read_rules, rules_from_records
from kc_kernel.vocabulary import labels
from pydantic import BaseModel, ConfigDict

from kc_registry.domain.eligibility import (
    CityClass,
    EligibilityRules,
    LegalFormRule,
    LocationRule,
    SectorRule,
    SmeRule,
)
from kc_registry.domain.priority import (
    AreaList,
    AreaOrder,
    PriorityRules,
    RecognitionPriorityRule,
    RegionTable,
    SectorPriorityRule,
)
from kc_registry.domain.recognition import OcopRule, RecognitionRules, TypicalProductRule


def _read(name: str) -> dict[str, Any]:
    return read_rules("kc_registry", name)


@cache
def eligibility_rules() -> EligibilityRules:
    data = _read("eligibility.toml")
    cities = _read("city_classes.toml").get("city", [])
    return EligibilityRules(
        location=rules_from_records("eligibility.location", LocationRule, data["location"]),
        legal_form=rules_from_records("eligibility.legal_form", LegalFormRule, data["legal_form"]),
        sector=rules_from_records("eligibility.sector", SectorRule, data["sector"]),
        sme=rules_from_records("eligibility.sme", SmeRule, data["sme"]),
        city_classes=tuple(CityClass(c["district_code"], c["name"], c["class"], c["since"]) for c in cities),
        sector_labels=dict(labels("sector")),
    )


@cache
def recognition_rules() -> RecognitionRules:
    data = _read("recognitions.toml")
    return RecognitionRules(
        typical_product=rules_from_records("recognition.typical_product", TypicalProductRule, data["typical_product"]),
        ocop=rules_from_records("recognition.ocop", OcopRule, data["ocop"]),
    )


@cache
def priority_rules() -> PriorityRules:
    data = _read("priority.toml")
    by_area: dict[str, list[dict[str, Any]]] = {}
    for record in data["list"]:
        by_area.setdefault(record["area"], []).append(record)
    areas = rules_from_records("priority.area", AreaOrder, data["area"])
    known = {code for version in areas.versions for code in version.params.order}
    stray = sorted(set(by_area) - known)
    if stray:  # a list of an area kind the law does not name is a data error, found at start
        raise ValueError(f"priority.toml: lists of unknown area kinds {stray}")
    return PriorityRules(
        areas=areas,
        lists=tuple(rules_from_records(f"priority.list.{a}", AreaList, records) for a, records in by_area.items()),
        sectors=rules_from_records("priority.sector", SectorPriorityRule, data["sector_priority"]),
        recognitions=rules_from_records("priority.recognition", RecognitionPriorityRule, data["recognition_priority"]),
        regions=rules_from_records("regions", RegionTable, _read("regions.toml")["regions"]),
    )


class OrganisationName(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str


@cache
def organisations() -> dict[str, DatedRules[OrganisationName]]:
    """Dated names of organisations (the Cục's renames): ``organisations()["cuc"].on(day).params.name``."""
    return {
        key: rules_from_records(f"organisation.{key}", OrganisationName, records)
        for key, records in _read("organisations.toml").items()
    }


def catalogue() -> dict[str, list[DatedRules[Any]]]:
    """Every rule set with its versions (served at ``GET /rules`` for transparency)."""
    e, r, p = eligibility_rules(), recognition_rules(), priority_rules()
    return {
        "eligibility": [e.location, e.legal_form, e.sector, e.sme],
        "recognitions": [r.typical_product, r.ocop],
        "priority": [p.areas, *p.lists, p.sectors, p.recognitions],
        "regions": [p.regions],
        "organisations": list(organisations().values()),
    }
