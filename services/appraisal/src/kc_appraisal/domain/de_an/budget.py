"""Dòng dự toán: a đề án's budget lines, integer VND, support + counterpart + other = total."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from kc_appraisal.domain.de_an.values import money, text
from kc_appraisal.domain.errors import BudgetError

MONEY_FIELDS = ("total_cost_vnd", "support_requested_vnd", "counterpart_vnd", "other_vnd")


@dataclass(frozen=True)
class BudgetLine:
    cost_item: str
    support_item: str  # the row of the ceiling table in force (GET /rules): every line names a capped item
    content: str  # the activity content (1–9)
    total_cost_vnd: int
    support_requested_vnd: int
    counterpart_vnd: int = 0
    other_vnd: int = 0
    # the unit the item's cap counts this line against (the cap is per unit, not per line): the
    # beneficiary establishment for a per-establishment item, a model's, class's or fair's name else
    unit_ref: str | None = None

    @classmethod
    def checked(cls, line: Mapping[str, Any], index: int) -> BudgetLine:
        """A line as typed, checked; errors name ``budget_lines.<index>.<field>``."""
        where = f"budget_lines.{index}"
        checked = cls(
            cost_item=text(line.get("cost_item"), f"{where}.cost_item"),
            support_item=text(line.get("support_item"), f"{where}.support_item"),
            content=str(line.get("content") or ""),
            **{m: money(line.get(m, 0), f"{where}.{m}") for m in MONEY_FIELDS},
            unit_ref=text(line.get("unit_ref"), f"{where}.unit_ref", required=False) or None,
        )
        if checked.support_requested_vnd + checked.counterpart_vnd + checked.other_vnd != checked.total_cost_vnd:
            raise BudgetError(
                f"Dòng {index + 1}: hỗ trợ + đối ứng + nguồn khác phải bằng tổng chi phí / support + counterpart + "
                "other must equal the total cost",
                field=f"{where}.total_cost_vnd",
            )
        return checked

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> BudgetLine:
        """A line as the đề án records it (already checked; lines recorded before ``unit_ref`` have none)."""
        return cls(**{k: record[k] for k in cls.__dataclass_fields__ if k in record})

    def record(self) -> dict[str, Any]:
        line = asdict(self)
        if line["unit_ref"] is None:
            del line["unit_ref"]  # as lines were recorded before it existed
        return line


def check_budget_lines(lines: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [BudgetLine.checked(line, i).record() for i, line in enumerate(lines)]


def totals(lines: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The budget's totals per money field."""
    rows = [BudgetLine.of(line) for line in lines]
    return {m: sum(int(getattr(line, m)) for line in rows) for m in MONEY_FIELDS}
