"""The notifications service's use cases for what arrives from the bus, each in one transaction with
the inbox tracking: the pull feed, webhook deliveries, plan calendars and who has acted, and status
notifications to implementing units and beneficiaries.

Each method takes the service's own command (``commands.py``), never a contract class.
"""

from __future__ import annotations

from eventsourcing.persistence import Tracking
from kc_runtime.store.views import ViewCursor, ViewStore

from kc_notifications import feed
from kc_notifications.commands import Acted, Received, RecordDeAnMilestone, RecordPlanningEvent
from kc_notifications.store import queue_deliveries, queue_notification, unit_key


class NotificationsApplication:
    def __init__(self, store: ViewStore, instance: str) -> None:
        self.store = store
        self.instance = instance

    def is_tracked(self, tracking: Tracking) -> bool:
        return self.store.has_tracked(tracking)

    def record_de_an_milestone(self, command: RecordDeAnMilestone, tracking: Tracking) -> None:
        """Who the đề án's parties are (on submission), the event into the feed and the webhooks, and
        its news to the implementing unit and every beneficiary."""
        with self.store.transaction() as cur:
            if command.submission is not None:
                submission = command.submission
                cur.execute(
                    "INSERT INTO parties VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (de_an_id) DO UPDATE SET"
                    " implementing_unit = excluded.implementing_unit, beneficiaries = excluded.beneficiaries,"
                    " status = excluded.status",
                    (
                        command.de_an_id,
                        command.code,
                        command.title,
                        submission.implementing_unit,
                        ",".join(submission.beneficiary_ids),
                        command.status,
                    ),
                )
                self._acted(cur, submission.acted)
            party = cur.execute("SELECT * FROM parties WHERE de_an_id = ?", (command.de_an_id,)).fetchone()
            self._public(cur, command.received, command.implementing_unit or (party or {}).get("implementing_unit"))
            if party:
                cur.execute("UPDATE parties SET status = ? WHERE de_an_id = ?", (command.status, command.de_an_id))
            if command.news and party:
                recipients = [unit_key(party["implementing_unit"])] + [
                    f"co-so:{b}" for b in party["beneficiaries"].split(",") if b
                ]
                for who in recipients:
                    queue_notification(
                        cur,
                        source_key=command.received.id,
                        recipient=who,
                        channel="email",
                        template="status",
                        context={
                            "code": command.code,
                            "title": command.title,
                            "headline": command.news.headline,
                            "message": command.news.message,
                            "detail": command.news.detail,
                            "instance": self.instance,
                            "source_key": command.received.id,
                        },
                    )
            self.store.track(cur, tracking)

    def record_planning_event(self, command: RecordPlanningEvent, tracking: Tracking) -> None:
        """The event into the feed and the webhooks; a calendar's deadlines kept for the reminders; a
        unit that registered no longer reminded."""
        with self.store.transaction() as cur:
            self._public(cur, command.received)
            if command.calendar is not None:
                c = command.calendar
                cur.execute(
                    "INSERT INTO calendars VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (calendar) DO UPDATE SET"
                    " registration_deadline = excluded.registration_deadline,"
                    " dossier_deadline = excluded.dossier_deadline",
                    (
                        c.calendar,
                        c.level,
                        c.owner,
                        c.year,
                        c.registration_deadline.isoformat(),
                        c.dossier_deadline.isoformat(),
                    ),
                )
            if command.acted is not None:
                self._acted(cur, command.acted)
            self.store.track(cur, tracking)

    @staticmethod
    def _acted(cur: ViewCursor, acted: Acted) -> None:
        cur.execute(
            "INSERT INTO acted VALUES (?, ?, ?, ?) ON CONFLICT (calendar, kind, recipient) DO NOTHING",
            (acted.calendar, acted.kind, unit_key(acted.unit), acted.on.isoformat()),
        )

    @staticmethod
    def _public(cur: ViewCursor, received: Received, implementing_unit: str | None = None) -> None:
        feed.record(cur, received.id, received.type, received.instance, received.body, implementing_unit)
        queue_deliveries(cur, received.type, received.id, received.body)
