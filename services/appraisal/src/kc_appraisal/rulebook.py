"""The one module that loads the appraisal service's dated rules from ``rules/*.toml``."""

from __future__ import annotations

from functools import cache
from typing import Any

from kc_kernel.dated import read_rules, rules_from_records

from kc_appraisal.domain.council import CouncilRule, CouncilRules, Scoresheets
from kc_appraisal.domain.rules import (
    AdvanceRule,
    AuthorityMatrix,
    Calendar,
    CeilingTable,
    ContentCatalogue,
    PriorityRule,
    ResultCatalogue,
    Rulebook,
    SettlementRule,
)


def _read(name: str) -> dict[str, Any]:
    return read_rules("kc_appraisal", name)


@cache
def rulebook() -> Rulebook:
    ceilings = _read("ceilings.toml")
    finance = _read("finance.toml")
    return Rulebook(
        calendars=tuple(Calendar(**c) for c in _read("calendars.toml")["calendar"]),
        national_ceilings=rules_from_records("ceiling.quoc_gia", CeilingTable, ceilings["national"]),
        local_ceilings={
            province: rules_from_records(f"ceiling.tinh-{province}", CeilingTable, versions)
            for province, versions in ceilings.get("local", {}).items()
        },
        advances=rules_from_records("advance", AdvanceRule, finance["advance"]),
        priority=rules_from_records("priority", PriorityRule, finance["priority"]),
        settlement=rules_from_records("settlement", SettlementRule, finance["settlement"]),
        authority=rules_from_records("adjustment.authority", AuthorityMatrix, _read("adjustments.toml")["authority"]),
        contents=rules_from_records("contents", ContentCatalogue, _read("contents.toml")["contents"]),
        results=rules_from_records("results", ResultCatalogue, _read("results.toml")["results"]),
    )


@cache
def council_rules() -> CouncilRules:
    data = _read("councils.toml")
    return CouncilRules(
        council=rules_from_records("council", CouncilRule, data["council"]),
        scoresheets=rules_from_records("scoresheet", Scoresheets, data["scoresheet"]),
    )
