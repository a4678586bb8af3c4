"""The programme's periods, one definition each: a plan year and a report month.

The API's request models (``PlanYear``, ``ReportMonth``: bounds and pattern in the OpenAPI schema)
and the domain's checks (:func:`check_plan_year`, :func:`check_month`, which a command from any
other door — the bus, the console, a test — meets too) read the same constants.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

# A sanity bound, not a rule of law: the programme's plans since ND 45/2012 fall well inside it.
FIRST_PLAN_YEAR, LAST_PLAN_YEAR = 2010, 2100
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)

PlanYear = Annotated[int, Field(ge=FIRST_PLAN_YEAR, le=LAST_PLAN_YEAR, description="Năm kế hoạch N", examples=[2025])]
ReportMonth = Annotated[str, Field(pattern=MONTH_PATTERN, description="Tháng báo cáo, YYYY-MM", examples=["2025-06"])]


def check_plan_year(value: object) -> int:
    """``value`` as a plan year, or ValueError (Vietnamese first)."""
    if not isinstance(value, int) or isinstance(value, bool) or not FIRST_PLAN_YEAR <= value <= LAST_PLAN_YEAR:
        raise ValueError(f"Năm kế hoạch không hợp lệ (từ {FIRST_PLAN_YEAR} đến {LAST_PLAN_YEAR}) / invalid plan year")
    return value


def check_month(value: object) -> str:
    """``value`` as a report month ``YYYY-MM``, or ValueError (Vietnamese first)."""
    if not isinstance(value, str) or not _MONTH.match(value):
        raise ValueError("Tháng báo cáo dạng YYYY-MM / month must be YYYY-MM")
    return value
