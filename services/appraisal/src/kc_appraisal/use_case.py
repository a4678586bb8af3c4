"""What every use case of the appraisal service stands on, whatever record it changes (a đề án, a
council, a field trip, the ministry's record of a province's national đề án): the ports and the
clock, the decision's ``By``, the version the caller saw, saving, and the arguments a domain command
asks for by name. The rooms of use cases (``councils``, ``national``) and ``application`` build on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from kc_runtime.store.eventstore import ServiceApplication
from kc_runtime.store.files import ContentStore
from kc_runtime.web.actor import Actor

from kc_appraisal import commands as c
from kc_appraisal.domain.council import CouncilRules
from kc_appraisal.domain.de_an import BeneficiaryLookup, By
from kc_appraisal.domain.errors import AppraisalError, StaleVersionError
from kc_appraisal.domain.rules import CalendarLookup, ExtensionLookup, Rulebook

Clock = Callable[[], datetime]


class CouncilIndex(Protocol):
    """Which councils and field trips this instance has (a projection of the store)."""

    def ids(self, kind: str, *, member: str | None = None, de_an_id: str | None = None) -> list[UUID]: ...


class DeAnIndex(Protocol):
    """The list of this instance's đề án (a projection of the store)."""

    def search(self, query: c.ListQuery, units: list[str] | None = None) -> tuple[int, list[dict[str, Any]]]: ...

    def by_code(self, code: str) -> list[UUID]: ...

    def count_in_year(self, plan_year: int) -> int: ...


class NationalIndex(Protocol):
    """The ministry's list of the provinces' national đề án (a projection of its records)."""

    def search(self, query: c.NationalQuery) -> tuple[int, list[dict[str, Any]]]: ...

    def briefs(self, de_an_id: str) -> list[dict[str, Any]]: ...


class DeAnNotFoundError(AppraisalError):
    """No đề án with this id in this instance (or none the caller's unit may see)."""


class AmbiguousCodeError(AppraisalError):
    """Several đề án share this code: look it up by its reference (mã tra cứu)."""


class RecordNotFoundError(AppraisalError):
    """No council, field trip or roster with this id in this instance (or none the caller sits on)."""


def by(actor: Actor, instance: str | None = None) -> By:
    """Who decides: the actor, in the request's conversation, in their role, on this instance."""
    return By(actor.name, actor.correlation_id, role=actor.role, instance=instance)


def expect_version(what: str, version: int, expected_version: int | None) -> None:
    """Refuse a decision taken on a version of the record other than the one the caller saw."""
    if expected_version is not None and version != expected_version:
        raise StaleVersionError(
            f"{what} đã thay đổi (phiên bản hiện tại {version}, bạn gửi {expected_version}); tải lại / "
            "stale version: reload and retry",
            field="version",
        )


class AppraisalRecords(ServiceApplication):
    """The appraisal service's event store with the ports its use cases read: the dated rules, the
    beneficiaries, the calendars and extensions, the projections, the files, the clock."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        rules: Rulebook,
        beneficiaries: BeneficiaryLookup,
        instance: str,
        calendars: CalendarLookup | None = None,
        extensions: ExtensionLookup | None = None,
        index: DeAnIndex | None = None,
        councils: CouncilIndex | None = None,
        council_rules: CouncilRules | None = None,
        files: ContentStore | None = None,
        national_index: NationalIndex | None = None,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.files = files
        self.council_index = councils
        self.council_rules = council_rules
        self.rules = rules
        self.calendars = calendars
        self.extensions = extensions
        self.beneficiaries = beneficiaries
        self.instance = instance
        self.index = index
        self.national_index = national_index
        self.clock = clock
        super().__init__(env=env)

    def minutes(self, council_id: str, de_an_id: str) -> dict[str, Any] | None:
        """The minutes a council recorded for a đề án: the councils' room (``councils``) answers."""
        raise NotImplementedError

    def _save(self, *records: Aggregate) -> None:
        try:
            self.save(*records)
        except IntegrityError:
            raise StaleVersionError(
                "Đề án vừa bị thay đổi đồng thời; tải lại / changed concurrently", field="version"
            ) from None

    def _arguments(self, given: Any, wanted: set[str]) -> dict[str, Any]:
        """A command's fields, plus the rules, lookups and day the domain command asks for by name."""
        ports = {
            "rules": self.rules,
            "beneficiaries": self.beneficiaries,
            "calendars": self.calendars,
            "extensions": self.extensions,
            "councils": self.minutes,
        }
        arguments = {f.name: getattr(given, f.name) for f in fields(given)}
        arguments |= {k: v for k, v in ports.items() if k in wanted}
        if "on" in wanted:
            arguments["on"] = self._today()
        return arguments

    def _today(self) -> date:
        return self.clock().date()
