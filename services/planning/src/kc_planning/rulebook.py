"""The one module that loads the planning service's dated rules from ``rules/*.toml``."""

from __future__ import annotations

import tomllib
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any

from kc_kernel.dated import DatedRules, rules_from_records
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
    return tomllib.loads(files("kc_planning").joinpath("rules", name).read_text("utf-8"))


@cache
def national_calendar() -> DatedRules[NationalCalendarRule]:
    return rules_from_records("calendar.national", NationalCalendarRule, _read("calendars.toml")["national"])
