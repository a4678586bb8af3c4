"""Reminders on a fake clock across a month with holidays: exactly the expected ones."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
from kc_notifications.domain.reminders import Milestone, ReminderRule, before, due

VN = holidays.country_holidays("VN", years=range(2023, 2026))


def is_holiday(day: date) -> bool:
    return day in VN


RULE = ReminderRule(lead_days=[14, 7, 1], working_days=True)


def test_working_days_skip_weekends_and_tet() -> None:
    # dossiers due Friday 23/02/2024, just after Tết (08–14/02/2024 are public holidays)
    deadline = date(2024, 2, 23)
    assert before(deadline, 1, working_days=True, is_holiday=is_holiday) == date(2024, 2, 22)
    assert before(deadline, 7, working_days=True, is_holiday=is_holiday) == date(2024, 2, 7)
    assert before(deadline, 14, working_days=True, is_holiday=is_holiday) == date(2024, 1, 29)


def test_calendar_days_move_a_reminder_off_a_day_off_to_the_working_day_before() -> None:
    # 14 calendar days before Sunday 29/10/2023 is Sunday 15/10: sent on Friday 13/10
    assert before(date(2023, 10, 29), 14, working_days=False, is_holiday=is_holiday) == date(2023, 10, 13)


def test_a_month_of_days_yields_exactly_the_expected_reminders_and_none_to_those_who_acted() -> None:
    registration = Milestone(
        "dia_phuong:tinh-40:2024",
        "dossier_deadline",
        date(2023, 10, 30),
        ("xa:dien-kim", "xa:dien-hai", "ttkc:nghe-an"),
    )
    submitted: dict[str, date] = {"xa:dien-hai": date(2023, 10, 18)}  # acts between the 2nd and 3rd reminder

    def done_as_of(today: date):  # type: ignore[no-untyped-def]
        return lambda m, who: who in submitted and submitted[who] <= today

    sent = []
    day = date(2023, 10, 1)
    while day <= date(2023, 10, 31):
        sent += [(r.send_on, r.lead, r.recipient) for r in due(day, [registration], done_as_of(day), RULE, is_holiday)]
        day += timedelta(days=1)
    # 30/10/2023 is a Monday: 14 working days before → 10/10, 7 → 19/10, 1 → 27/10 (Friday)
    assert sent == [
        (date(2023, 10, 10), 14, "ttkc:nghe-an"),
        (date(2023, 10, 10), 14, "xa:dien-hai"),
        (date(2023, 10, 10), 14, "xa:dien-kim"),
        (date(2023, 10, 19), 7, "ttkc:nghe-an"),
        (date(2023, 10, 19), 7, "xa:dien-kim"),
        (date(2023, 10, 27), 1, "ttkc:nghe-an"),
        (date(2023, 10, 27), 1, "xa:dien-kim"),
    ]


def test_the_reminder_key_is_stable_so_recomputing_sends_nothing_twice() -> None:
    m = Milestone("c", "registration_deadline", date(2024, 7, 15), ("a",))
    first = due(date(2024, 7, 12), [m], lambda *_: False, RULE, is_holiday)
    again = due(date(2024, 7, 12), [m], lambda *_: False, RULE, is_holiday)
    assert [r.key for r in first] == [r.key for r in again] == ["c:registration_deadline:2024-07-15:1:a"]


def test_a_month_across_tet_counts_only_working_days() -> None:
    dossiers = Milestone("quoc_gia:bo:2025", "dossier_deadline", date(2024, 2, 23), ("ttkc:thai-nguyen",))
    sent = []
    day = date(2024, 1, 15)
    while day <= date(2024, 2, 23):
        sent += [(r.send_on, r.lead) for r in due(day, [dossiers], lambda *_: False, RULE, is_holiday)]
        day += timedelta(days=1)
    # Tết 2024: 08/02–14/02 are public holidays; 7 working days before 23/02 falls on 07/02, not 15/02
    assert sent == [(date(2024, 1, 29), 14), (date(2024, 2, 7), 7), (date(2024, 2, 22), 1)]
    assert all(day.weekday() < 5 and day not in VN for day, _ in sent)
