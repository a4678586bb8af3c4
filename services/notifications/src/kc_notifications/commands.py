"""The notifications service's own commands: what a message from the bus asks of it, in its words.

``integration.py`` builds them from contract events; the application carries them out and never
sees a contract class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Received:
    """A public event as received: the feed and the webhook deliveries keep its envelope as sent."""

    id: str
    type: str
    instance: str  # the instance that published it
    body: str  # the CloudEvents envelope as JSON


@dataclass(frozen=True)
class Acted:
    """A unit did what a deadline of a plan calendar asks of it (filed its registration, submitted a dossier)."""

    calendar: str  # <level>:<owner>:<year>
    kind: str  # registration_deadline | dossier_deadline
    unit: str  # the unit's name as recorded
    on: date


@dataclass(frozen=True)
class News:
    """What the parties of a đề án are told of a milestone."""

    headline: str
    message: str
    detail: str


@dataclass(frozen=True)
class Submission:
    """A đề án submitted: its parties (the implementing unit, the beneficiaries) and the dossier deadline met."""

    implementing_unit: str
    beneficiary_ids: tuple[str, ...]
    acted: Acted


@dataclass(frozen=True)
class RecordDeAnMilestone:
    """A milestone of a đề án: into the feed and the webhooks; its parties told when it is news to them."""

    received: Received
    de_an_id: str
    code: str
    title: str
    status: str
    implementing_unit: str | None  # when the milestone names it
    submission: Submission | None
    news: News | None


@dataclass(frozen=True)
class CalendarDeadlines:
    """A plan calendar's deadlines, by which reminders are sent."""

    calendar: str  # <level>:<owner>:<year>
    level: str
    owner: str
    year: int
    registration_deadline: date
    dossier_deadline: date


@dataclass(frozen=True)
class RecordPlanningEvent:
    """A public planning event: into the feed and the webhooks; a calendar's deadlines or who registered."""

    received: Received
    calendar: CalendarDeadlines | None = None
    acted: Acted | None = None
