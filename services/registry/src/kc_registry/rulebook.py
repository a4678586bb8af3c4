"""The one module that loads the registry's dated rules from ``rules/*.toml``."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from typing import Any

from kc_contracts.dated import DatedRules, rules_from_records
from kc_contracts.vocabulary import labels

from kc_registry.domain.eligibility import (
    CityClass,
    EligibilityRules,
    LegalFormRule,
    LocationRule,
    SectorRule,
    SmeRule,
)
from kc_registry.domain.recognition import OcopRule, RecognitionRules, TypicalProductRule


def _read(name: str) -> dict[str, Any]:
    return tomllib.loads(files("kc_registry").joinpath("rules", name).read_text("utf-8"))


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


def catalogue() -> dict[str, list[DatedRules[Any]]]:
    """Every rule set with its versions (served at ``GET /rules`` for transparency)."""
    e, r = eligibility_rules(), recognition_rules()
    return {
        "eligibility": [e.location, e.legal_form, e.sector, e.sme],
        "recognitions": [r.typical_product, r.ocop],
    }
