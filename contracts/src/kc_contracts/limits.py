"""Upper bounds on money and counts, for requests, contract events and views alike.

Every amount and count a person or a system can send has a bound: beyond it a request is a 422 that
names the field, a contract event does not validate (a consumer dead-letters it), and no view column
ever has to hold it. The bounds are far above any real khuyến công figure — the whole national
programme is a few hundred billion đồng a year, a single đề án a few billion — and far below what a
64-bit column holds (9.2 × 10^18), so that sums of bounded amounts (a plan, a province, a year) never
overflow a view. They are not rules of law (those are the dated ceilings in ``rules/*.toml``): they
are the sanity limits of the system.

===========================  =====================  =========================================
bound                        value                  applies to
===========================  =====================  =========================================
``MAX_VND``                  10^12 (1.000 tỷ đồng)  one amount of one đề án: a budget line's
                                                    cost or support, a recommended, approved,
                                                    contracted, advanced or settled amount,
                                                    one support record of an establishment
``MAX_DE_AN_VND``            10^12 (1.000 tỷ đồng)  the sum of a đề án's budget lines
``MAX_ESTABLISHMENT_VND``    10^15                  an establishment's capital or revenue
``MAX_PLAN_VND``             10^15                  a plan's envelope per source
``MAX_COUNT``                10^6                   a count: employees, trainees, machines,
                                                    models, visits, registration items
``MAX_BATCH``                100                    đợt (batch) of a plan approval
``MAX_BUDGET_LINES``         200                    budget lines of one đề án
``MAX_REGISTRATION_ITEMS``   200                    items of one plan registration
===========================  =====================  =========================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, Field

MAX_VND = 10**12
MAX_DE_AN_VND = 10**12
MAX_ESTABLISHMENT_VND = 10**15
MAX_PLAN_VND = 10**15
MAX_COUNT = 10**6
MAX_BATCH = 100
MAX_BUDGET_LINES = 200
MAX_REGISTRATION_ITEMS = 200

Vnd = Annotated[int, Field(ge=0, le=MAX_VND, description="VND, số nguyên không âm, tối đa 10^12")]
PositiveVnd = Annotated[int, Field(gt=0, le=MAX_VND, description="VND, số nguyên dương, tối đa 10^12")]
DeAnVnd = Annotated[int, Field(ge=0, le=MAX_DE_AN_VND, description="VND của cả đề án, tối đa 10^12")]
EstablishmentVnd = Annotated[
    int, Field(ge=0, le=MAX_ESTABLISHMENT_VND, description="VND, số nguyên không âm, tối đa 10^15")
]
PlanVnd = Annotated[int, Field(ge=0, le=MAX_PLAN_VND, description="VND, số nguyên không âm, tối đa 10^15")]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT, description="Số lượng, tối đa 1.000.000")]
Batch = Annotated[int, Field(ge=1, le=MAX_BATCH, description="Đợt, từ 1 đến 100")]


def check_total(amounts: Iterable[int], limit: int = MAX_DE_AN_VND) -> None:
    """Refuse a sum beyond ``limit`` (as a pydantic ``ValueError``: a 422 naming the list)."""
    total = sum(amounts)
    if total > limit:
        shown = f"{limit:,}".replace(",", ".")
        raise ValueError(f"Tổng cộng vượt quá {shown} đồng / the total exceeds {limit} VND")


def check_free_numbers(value: Any, limit: int = MAX_VND) -> Any:
    """A free-form JSON object (adjustment changes, a field visit) holds no number beyond ``limit``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int | float) and not isinstance(item, bool) and abs(item) > limit:
            shown = f"{limit:,}".replace(",", ".")
            raise ValueError(f"Số vượt quá {shown} / a number exceeds {limit}")
    return value


def totals_within(*fields: str, limit: int = MAX_DE_AN_VND) -> AfterValidator:
    """A list of models (budget lines) whose sum of each of ``fields`` stays within ``limit``."""

    def check(items: list[Any]) -> list[Any]:
        for name in fields:
            check_total((getattr(item, name) for item in items), limit)
        return items

    return AfterValidator(check)


# a free-form JSON object (adjustment changes, a field visit): no number in it a view could not store
FreeForm = Annotated[dict[str, Any], AfterValidator(check_free_numbers)]
