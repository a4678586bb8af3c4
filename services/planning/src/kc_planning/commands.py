"""What the bus asks of planning, as its own commands (built by ``integration``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProposeLine:
    """A đề án proposed for the plan of ``level`` and ``plan_year`` by the instance that owns it."""

    instance: str
    level: str
    plan_year: int
    line: Mapping[str, Any]  # the đề án's facts as proposed (what a plan line shows and approves)
    correlation_id: str | None = None
    causation_id: str | None = None  # the message that carried the proposal
