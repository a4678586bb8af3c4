"""The ministry's use cases on the provinces' national đề án (on ``bo``): its record of each one,
opened and kept up to date from the province's milestones, and the ministry's decisions on it
(``national_sign_contract`` → ``NationalDeAn.sign_contract``) that reach the province over the bus.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Tracking
from kc_runtime.web.actor import Actor

from kc_appraisal import commands as c
from kc_appraisal.domain.de_an import By
from kc_appraisal.domain.de_an.lifecycle import MINISTRY
from kc_appraisal.domain.national_de_an import NationalDeAn, record_id
from kc_appraisal.use_case import AppraisalRecords, DeAnNotFoundError, by, expect_version

C_contra = TypeVar("C_contra", contravariant=True)
# a province's milestones of a national đề án before it is sent to the ministry (gửi Bộ): the ministry's
# record of it opens when it is forwarded (or at any later milestone, for a ministry that started later)
BEFORE_THE_MINISTRY = frozenset({"submitted", "returned", "base-appraised"})


class NationalUseCase(Protocol[C_contra]):
    def __call__(
        self, instance: str, de_an_id: UUID, command: C_contra, actor: Actor, expected_version: int | None = None
    ) -> NationalDeAn: ...


def national_use_case(command: type[C_contra], action: Callable[..., Any]) -> NationalUseCase[C_contra]:
    """The application's method for one of the ministry's decisions on a province's national đề án: load
    the ministry's record of it (instance, id), run the record's command of the same name, save. Only on
    the ministry's instance."""
    wanted = set(inspect.signature(action).parameters)

    def run(
        self: NationalUseCases,
        instance: str,
        de_an_id: UUID,
        given: C_contra,
        actor: Actor,
        expected_version: int | None = None,
    ) -> NationalDeAn:
        if not isinstance(given, command):
            raise TypeError(f"{action.__name__} takes a {command.__name__}, not {type(given).__name__}")
        record = self.national_record(instance, de_an_id)
        expect_version("Hồ sơ", record.version, expected_version)
        action(record, **self._arguments(given, wanted), by=by(actor, self.instance))
        self._save(record)
        return record

    run.__name__ = run.__qualname__ = f"national_{action.__name__}"
    run.__doc__ = action.__doc__
    return cast(NationalUseCase[C_contra], run)


class NationalUseCases(AppraisalRecords):
    """The ministry's record of a province's national đề án, and one method per decision on it."""

    def national_record(self, instance: str, de_an_id: UUID) -> NationalDeAn:
        """The ministry's record of a province's national đề án (only the ministry keeps them)."""
        try:
            record: Any = self.repository.get(record_id(instance, de_an_id))
        except AggregateNotFoundError:
            record = None
        if not isinstance(record, NationalDeAn):
            raise DeAnNotFoundError(
                "Bộ chưa có hồ sơ đề án quốc gia này (hồ sơ được lập khi tỉnh gửi đề án lên Bộ) / the ministry "
                "has no record of this national đề án"
            )
        return record

    def list_national(self, query: c.NationalQuery) -> tuple[int, list[dict[str, Any]]]:
        """A page of the ministry's records of the provinces' national đề án."""
        return self.national_index.search(query) if self.national_index else (0, [])

    # one method per decision of the ministry:
    # ``SignContract`` → ``national_sign_contract`` → ``NationalDeAn.sign_contract``
    national_record_ministry_appraisal = national_use_case(
        c.RecordMinistryAppraisal, NationalDeAn.record_ministry_appraisal
    )
    national_sign_contract = national_use_case(c.SignContract, NationalDeAn.sign_contract)
    national_decide_adjustment = national_use_case(c.DecideAdjustment, NationalDeAn.decide_adjustment)
    national_settle = national_use_case(c.Settle, NationalDeAn.settle)

    def record_province_milestone(self, command: c.RecordProvinceMilestone, tracking: Tracking) -> None:
        """A province's milestone of a national đề án: the ministry's record of it opened (first time)
        and brought up to date, with the message's tracking, atomically. Other levels: consumed only."""
        if command.level != "quoc_gia" or self.instance != MINISTRY:
            self.save_tracked(tracking)
            return
        decided = By(command.actor, command.correlation_id, command.causation_id)
        try:
            record: Any = self.repository.get(record_id(command.instance, command.de_an_id))
        except AggregateNotFoundError:
            if command.milestone in BEFORE_THE_MINISTRY:  # the Sở's own steps: the ministry has nothing yet
                self.save_tracked(tracking)
                return
            record = NationalDeAn.open(instance=command.instance, de_an_id=command.de_an_id, by=decided)
        record.report(
            milestone=command.milestone,
            status=command.status,
            facts=dict(command.facts),
            reported_at=command.reported_at,
            by=decided,
        )
        self.save_tracked(tracking, record)
