"""Deadline reminders: at configured lead times before each plan-calendar deadline, to every unit
that is expected and has not yet acted; none to those that have.

Lead times count calendar days or working days (Monday–Friday, not a Vietnamese public holiday —
Tết included), as the rule version says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict

IsHoliday = Callable[[date], bool]


class ReminderRule(BaseModel):
    model_config = ConfigDict(frozen=True)
    lead_days: list[int]
    working_days: bool


def is_working_day(day: date, is_holiday: IsHoliday) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def before(deadline: date, lead: int, *, working_days: bool, is_holiday: IsHoliday) -> date:
    """The day ``lead`` (working) days before ``deadline``; a reminder never falls on a day off."""
    if not working_days:
        day = deadline - timedelta(days=lead)
        while not is_working_day(day, is_holiday):  # a Sunday reminder goes out on the Friday before
            day -= timedelta(days=1)
        return day
    day, left = deadline, lead
    while left:
        day -= timedelta(days=1)
        if is_working_day(day, is_holiday):
            left -= 1
    return day


@dataclass(frozen=True)
class Milestone:
    """A deadline of a plan calendar and who must act by it."""

    calendar: str  # e.g. dia_phuong:tinh-40:2024
    kind: str  # registration_deadline | dossier_deadline
    deadline: date
    expected: tuple[str, ...]  # recipient keys


@dataclass(frozen=True)
class Reminder:
    calendar: str
    kind: str
    deadline: date
    lead: int
    recipient: str
    send_on: date

    @property
    def key(self) -> str:
        """One reminder per (calendar, deadline kind, lead, recipient) — however often it is computed."""
        return f"{self.calendar}:{self.kind}:{self.deadline.isoformat()}:{self.lead}:{self.recipient}"


def due(
    today: date,
    milestones: Iterable[Milestone],
    done: Callable[[Milestone, str], bool],
    rule: ReminderRule,
    is_holiday: IsHoliday,
) -> list[Reminder]:
    """The reminders to send on ``today``: for each lead time whose day is today (or was missed since
    the previous working day — a service that was down catches up), to each expected recipient
    that has not acted."""
    out: list[Reminder] = []
    for m in milestones:
        if today > m.deadline:
            continue
        for lead in rule.lead_days:
            send_on = before(m.deadline, lead, working_days=rule.working_days, is_holiday=is_holiday)
            if send_on != today:
                continue
            out.extend(
                Reminder(m.calendar, m.kind, m.deadline, lead, who, send_on) for who in m.expected if not done(m, who)
            )
    return sorted(out, key=lambda r: (r.send_on, r.calendar, r.kind, -r.lead, r.recipient))
