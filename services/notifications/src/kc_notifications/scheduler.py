"""Daily work: deadline reminders from the plan calendars, and monthly progress-report reminders
(before the 25th) for đề án under contract. ``tick(today)`` is idempotent: every reminder has a
stable key, so running it twice the same day queues nothing new."""

from __future__ import annotations

from datetime import date
from functools import cache

import holidays
from kc_kernel.dated import DatedRules, read_rules, rules_from_records
from kc_kernel.vocabulary import label
from kc_runtime.store.views import ViewStore

from kc_notifications.domain.reminders import Milestone, ReminderRule, due
from kc_notifications.store import queue_notification, unit_key

KINDS = {
    "registration_deadline": ("đăng ký kế hoạch", "đăng ký", "don_vi_dang_ky"),
    "dossier_deadline": ("nộp hồ sơ đề án", "nộp hồ sơ", "don_vi_thuc_hien"),
}
PROGRESS_REMINDER_DAY = 20  # five days before the 25th


@cache
def reminder_rules() -> DatedRules[ReminderRule]:
    data = read_rules("kc_notifications", "reminders.toml")
    return rules_from_records("reminders", ReminderRule, data["reminders"])


@cache
def _vn_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=[year - 1, year, year + 1])


def is_holiday(day: date) -> bool:
    return day in _vn_holidays(day.year)


class Scheduler:
    def __init__(self, store: ViewStore, instance: str) -> None:
        self.store = store
        self.instance = instance

    def tick(self, today: date) -> int:
        """Queue today's reminders; return how many were new."""
        rule = reminder_rules().on(today).params
        with self.store.transaction() as cur:
            before = cur.execute("SELECT COUNT(*) AS n FROM notifications").fetchone()
            calendars = cur.execute("SELECT * FROM calendars").fetchall()
            acted = {
                (r["calendar"], r["kind"], r["recipient"])
                for r in cur.execute("SELECT calendar, kind, recipient FROM acted").fetchall()
            }
            milestones = []
            for c in calendars:
                for kind, (_, _, role) in KINDS.items():
                    expected = tuple(
                        r["key"]
                        for r in cur.execute(
                            "SELECT key FROM recipients WHERE role = ? AND scope = ?", (role, c["owner"])
                        ).fetchall()
                    )
                    milestones.append(Milestone(c["calendar"], kind, date.fromisoformat(c[kind]), expected))
            reminders = due(today, milestones, lambda m, who: (m.calendar, m.kind, who) in acted, rule, is_holiday)
            for r in reminders:
                level, _, year = r.calendar.split(":")
                kind_label, action, _ = KINDS[r.kind]
                queue_notification(
                    cur,
                    source_key=f"nhac:{r.key}",
                    recipient=r.recipient,
                    channel="email",
                    template="reminder",
                    context={
                        "kind_label": kind_label,
                        "action_label": action,
                        "year": year,
                        "level_label": label("plan_level", level).lower(),
                        "deadline": f"{r.deadline:%d/%m/%Y}",
                        "lead": r.lead,
                        "working_days": rule.working_days,
                        "instance": self.instance,
                        "source_key": f"nhac:{r.key}",
                        "rule": reminder_rules().reference(today),
                    },
                )
            if today.day == PROGRESS_REMINDER_DAY:
                for party in cur.execute("SELECT * FROM parties WHERE status = 'da_ky_hop_dong'").fetchall():
                    key = f"tien-do:{party['de_an_id']}:{today:%Y-%m}"
                    queue_notification(
                        cur,
                        source_key=key,
                        recipient=unit_key(party["implementing_unit"]),
                        channel="email",
                        template="status",
                        context={
                            "code": party["code"],
                            "title": party["title"],
                            "headline": f"báo cáo tiến độ tháng {today:%m/%Y}",
                            "message": f"Đề nghị gửi báo cáo tiến độ tháng {today:%m/%Y} trước ngày 25.",
                            "detail": "",
                            "instance": self.instance,
                            "source_key": key,
                        },
                    )
            after = cur.execute("SELECT COUNT(*) AS n FROM notifications").fetchone()
        return int((after or {"n": 0})["n"]) - int((before or {"n": 0})["n"])
