"""The one module that loads the planning service's dated rules from ``rules/*.toml``."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from kc_kernel.dated import DatedRules, read_rules, rules_from_records
from pydantic import BaseModel, ConfigDict


class NationalCalendarRule(BaseModel):
    """Default national deadlines of plan year N, as "MM-DD" of year N-1."""

    model_config = ConfigDict(frozen=True)
    unit_registration_deadline: str
    registration_deadline: str
    dossier_deadline: str

    def on(self, milestone: str, year: int) -> date:
        month, day = (int(x) for x in str(getattr(self, milestone)).split("-"))
        return date(year - 1, month, day)


def _read(name: str) -> dict[str, Any]:
    return read_rules("kc_planning", name)


@cache
def national_calendar() -> DatedRules[NationalCalendarRule]:
    return rules_from_records("calendar.national", NationalCalendarRule, _read("calendars.toml")["national"])
