"""A plan year and a report month: one definition, read by the API's models and the domain's checks alike."""

from __future__ import annotations

import pytest
from kc_kernel.periods import FIRST_PLAN_YEAR, LAST_PLAN_YEAR, PlanYear, ReportMonth, check_month, check_plan_year
from pydantic import TypeAdapter, ValidationError


@pytest.mark.parametrize("month", ["2024-01", "2024-12", "1999-06"])
def test_a_month_is_yyyy_mm(month: str) -> None:
    assert check_month(month) == month
    assert TypeAdapter(ReportMonth).validate_python(month) == month


@pytest.mark.parametrize("month", ["2024-13", "2024-00", "2024-1", "24-01", "2024/01", "2024-01-05", "", 202401])
def test_anything_else_is_refused_by_both_doors(month: object) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        check_month(month)
    with pytest.raises(ValidationError):
        TypeAdapter(ReportMonth).validate_python(month, strict=True)


def test_a_plan_year_is_within_the_same_bounds_at_both_doors() -> None:
    adapter = TypeAdapter(PlanYear)
    for year in (FIRST_PLAN_YEAR, 2025, LAST_PLAN_YEAR):
        assert check_plan_year(year) == adapter.validate_python(year) == year
    for wrong in (FIRST_PLAN_YEAR - 1, LAST_PLAN_YEAR + 1):
        with pytest.raises(ValueError, match="Năm kế hoạch không hợp lệ"):
            check_plan_year(wrong)
        with pytest.raises(ValidationError):
            adapter.validate_python(wrong)
    for not_a_year in (True, "2025", 2025.0, None):
        with pytest.raises(ValueError, match="Năm kế hoạch không hợp lệ"):
            check_plan_year(not_a_year)
    schema = adapter.json_schema()
    assert (schema["minimum"], schema["maximum"]) == (FIRST_PLAN_YEAR, LAST_PLAN_YEAR)
