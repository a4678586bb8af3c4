"""Thẩm định: by a council (hội đồng, ≥ 3 members, each signs a conflict-of-interest declaration;
a conflicted member does not give an opinion) or by staff (cán bộ)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kc_kernel.vocabulary import label

from kc_appraisal.domain.de_an.lifecycle import Conclusion
from kc_appraisal.domain.de_an.values import text
from kc_appraisal.domain.errors import AppraisalError

MIN_COUNCIL = 3
# (council id, đề án id) → the minutes a council recorded for the đề án (stage, number, held_on, result,
# members, rule_versions), or None
MinutesLookup = Callable[[str, str], "dict[str, Any] | None"]


class AppraisalMode(StrEnum):
    council = "hoi_dong"
    staff = "can_bo"


@dataclass(frozen=True)
class Member:
    name: str
    role: str | None = None
    opinion: Conclusion | str | None = None
    conflict_declared: bool = False
    declaration_signed: bool = False


def appraisal_mode(value: Any) -> AppraisalMode:
    try:
        return AppraisalMode(str(value))
    except ValueError:
        raise AppraisalError(
            f"Hình thức thẩm định: «{label('appraisal_mode', AppraisalMode.council)}» hoặc "
            f"«{label('appraisal_mode', AppraisalMode.staff)}» / mode must be hoi_dong (council) or can_bo (staff)",
            field="mode",
        ) from None


def check_council(mode: AppraisalMode, members: Sequence[Member]) -> list[dict[str, Any]]:
    """The council as recorded (staff appraisal: none)."""
    if mode is AppraisalMode.staff:
        return []
    if len(members) < MIN_COUNCIL:
        raise AppraisalError(
            f"Hội đồng thẩm định cần ít nhất {MIN_COUNCIL} thành viên / a council needs ≥ {MIN_COUNCIL} members",
            field="members",
        )
    clean = []
    for i, m in enumerate(members):
        name = text(m.name, f"members.{i}.name")
        if not m.declaration_signed:
            raise AppraisalError(
                f"Thành viên {name} chưa ký cam kết về xung đột lợi ích / conflict-of-interest declaration not signed",
                field=f"members.{i}.declaration_signed",
            )
        conflict = bool(m.conflict_declared)
        opinion: str | None = str(m.opinion) if m.opinion else None
        if conflict and opinion:
            raise AppraisalError(
                f"Thành viên {name} có xung đột lợi ích nên không cho ý kiến / a member with a "
                "conflict of interest must not give an opinion",
                field=f"members.{i}.opinion",
            )
        if not conflict:
            try:
                opinion = Conclusion(str(opinion)).value
            except ValueError:
                raise AppraisalError(
                    f"Ý kiến của {name}: "
                    + ", ".join(f"«{label('appraisal_conclusion', c)}»" for c in Conclusion)
                    + " / opinion required: dong_y, dong_y_co_chinh_sua or khong_dong_y",
                    field=f"members.{i}.opinion",
                ) from None
        clean.append(
            {
                "name": name,
                "role": text(m.role, f"members.{i}.role", required=False),
                "opinion": opinion,
                "conflict_declared": conflict,
                "declaration_signed": True,
            }
        )
    if not any(m["opinion"] for m in clean):
        raise AppraisalError("Không còn thành viên nào đủ điều kiện cho ý kiến / no member may vote", field="members")
    return clean


def council_from_minutes(minutes: dict[str, Any]) -> list[dict[str, Any]]:
    """The appraisal's council as the council's minutes record it (present members only)."""
    return [
        {
            "name": m["name"],
            "role": label("council_role", m["role"]),
            "subject": m["subject"],
            "opinion": m["opinion"],
            "score": m.get("score"),
            "conflict_declared": m["conflict_declared"],
            "declaration_signed": m["declaration_signed"],
        }
        for m in minutes["members"]
        if not m.get("absent")
    ]
