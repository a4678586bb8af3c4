"""Annual plans, calendars and registrations: commands → events, refusals with the field."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from kc_planning.domain.calendar import PlanCalendar, Registration
from kc_planning.domain.plan import AnnualPlan, PlanError, plan_id


def line(code: str, recommended: int, rank: list[int]) -> dict[str, Any]:
    return {
        "de_an_id": str(uuid4()),
        "instance": "tinh-40",
        "code": code,
        "title": f"Đề án {code}",
        "province_code": "40",
        "activity_contents": ["3"],
        "recommended_support_vnd": recommended,
        "priority_rank": rank,
    }


def national_plan(*lines: dict[str, Any]) -> AnnualPlan:
    plan = AnnualPlan.open(level="quoc_gia", owner="bo", year=2024, actor="cuc")
    for item in lines:
        plan.propose_line(item, actor="bus")
    return plan


def test_one_plan_per_level_owner_year_and_the_ministry_owns_the_national_plan() -> None:
    assert national_plan().id == plan_id("quoc_gia", "bo", 2024)
    with pytest.raises(PlanError, match="Bộ"):
        AnnualPlan.open(level="quoc_gia", owner="tinh-40", year=2024, actor="x")


def test_a_repeated_proposal_changes_nothing() -> None:
    item = line("A", 100, [1, 1, 1])
    plan = national_plan(item)
    plan.collect_events()
    assert plan.propose_line(item, actor="bus") is False
    assert plan.collect_events() == []


def test_approving_without_amounts_takes_every_pending_line_in_priority_order() -> None:
    flagship, sector, plain = line("C", 300, [0, 1, 1]), line("B", 200, [1, 1, 0]), line("A", 100, [1, 1, 1])
    plan = national_plan(plain, sector, flagship)
    approved = plan.approve_batch(
        decision_number="1234/QĐ-BCT",
        decision_date=date(2023, 12, 25),
        signer="Bộ trưởng",
        amounts=None,
        actor="bo-truong",
    )
    assert list(approved) == [flagship["de_an_id"], sector["de_an_id"], plain["de_an_id"]]
    assert plan.batches[0]["batch"] == 1 and plan.approved_total() == 600


def test_batches_envelope_and_limits() -> None:
    a, b = line("A", 500, [1, 1, 1]), line("B", 400, [1, 1, 1])
    plan = national_plan(a, b)
    plan.set_envelope({"quoc_gia": 800}, decision_number="DT-2024", actor="cuc")
    plan.approve_batch(
        decision_number="1/QĐ",
        decision_date=date(2023, 12, 1),
        signer="Bộ trưởng",
        amounts={a["de_an_id"]: 500},
        actor="x",
    )
    with pytest.raises(PlanError, match="vượt dự toán"):
        plan.approve_batch(
            decision_number="2/QĐ",
            decision_date=date(2024, 3, 1),
            signer="Bộ trưởng",
            amounts={b["de_an_id"]: 400},
            actor="x",
        )
    with pytest.raises(PlanError, match="vượt kinh phí thẩm định"):
        plan.approve_batch(
            decision_number="2/QĐ",
            decision_date=date(2024, 3, 1),
            signer="Bộ trưởng",
            amounts={b["de_an_id"]: 401},
            actor="x",
        )
    with pytest.raises(PlanError, match="đã được phê duyệt"):
        plan.approve_batch(
            decision_number="2/QĐ",
            decision_date=date(2024, 3, 1),
            signer="Bộ trưởng",
            amounts={a["de_an_id"]: 1},
            actor="x",
        )
    plan.approve_batch(
        decision_number="2/QĐ",
        decision_date=date(2024, 3, 1),
        signer="Bộ trưởng",
        amounts={b["de_an_id"]: 300},
        actor="x",
    )
    assert [x["batch"] for x in plan.batches] == [1, 2]


def test_amendments_change_or_withdraw_approved_lines_within_the_envelope() -> None:
    a = line("A", 500, [1, 1, 1])
    plan = national_plan(a)
    plan.set_envelope({"quoc_gia": 600}, decision_number="DT", actor="cuc")
    plan.approve_batch(
        decision_number="1/QĐ", decision_date=date(2023, 12, 1), signer="Bộ trưởng", amounts=None, actor="x"
    )
    with pytest.raises(PlanError, match="vượt dự toán"):
        plan.amend(
            decision_number="5/QĐ",
            decision_date=date(2024, 5, 1),
            signer="Bộ trưởng",
            changes={a["de_an_id"]: 700},
            reason="Tăng",
            actor="x",
        )
    plan.amend(
        decision_number="5/QĐ",
        decision_date=date(2024, 5, 1),
        signer="Bộ trưởng",
        changes={a["de_an_id"]: 0},
        reason="Đơn vị xin ngừng",
        actor="x",
    )
    assert plan.approved_total() == 0


def test_calendar_changes_are_events_and_late_registration_needs_an_extension() -> None:
    cal = PlanCalendar(
        level="dia_phuong",
        owner="tinh-40",
        year=2024,
        milestones=PlanCalendar.check(
            {"registration_deadline": date(2023, 7, 15), "dossier_deadline": date(2023, 10, 30)}, 2024
        ),
        legal_basis="Sở Công Thương Nghệ An",
        actor="so-40",
    )
    details = {
        "level": "dia_phuong",
        "year": 2024,
        "registrant": "UBND xã Diễn Kim",
        "unit": "ubnd-xa-dien-kim",
        "items": [{"title": "Đào tạo nghề mây tre", "support_vnd": 80}],
    }
    deadline = cal.deadline()
    on_time = Registration.file(details, deadline=deadline, filed_on=date(2023, 7, 14), extension=None, actor="xa")
    assert on_time.on_time is True
    with pytest.raises(PlanError, match="Quá hạn đăng ký kế hoạch \\(15/07/2023"):
        Registration.file(details, deadline=deadline, filed_on=date(2023, 7, 20), extension=None, actor="xa")
    cal.change({"registration_deadline": date(2023, 7, 31)}, legal_basis="", reason="Gia hạn chung", actor="so-40")
    assert cal.version == 2 and cal.reference.endswith("@v2")
    with pytest.raises(PlanError, match="trước hạn nộp hồ sơ"):
        cal.change({"registration_deadline": date(2023, 11, 30)}, legal_basis="", reason="x", actor="so-40")
