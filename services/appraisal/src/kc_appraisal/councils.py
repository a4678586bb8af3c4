"""The use cases of the appraisal councils (hội đồng thẩm định) and field trips (thẩm định thực tế):
the roster of the people who may sit on a council, a council founded by its decision, each member's
own declaration and opinion, the minutes; a field trip's schedule and findings. Records of their own,
beside the đề án they appraise (``application`` composes them into ``AppraisalApplication``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from kc_runtime.web.actor import Actor

from kc_appraisal import commands as c
from kc_appraisal.domain.council import Council, CouncilRules, Roster, roster_id
from kc_appraisal.domain.de_an import DeAn
from kc_appraisal.domain.de_an.lifecycle import MINISTRY
from kc_appraisal.domain.errors import AppraisalError, StaleVersionError
from kc_appraisal.domain.field_trip import FieldTrip
from kc_appraisal.use_case import AmbiguousCodeError, AppraisalRecords, RecordNotFoundError, by


class CouncilUseCases(AppraisalRecords):
    """One method per use case on a council, the roster or a field trip."""

    def roster(self) -> Roster | None:
        try:
            found: Any = self.repository.get(roster_id(self.instance))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Roster) else None

    def enrol(self, command: c.EnrolPerson, actor: Actor) -> Roster:
        """A person onto the roster of those who may sit on a council."""
        roster = self.roster() or Roster.open(self.instance, by(actor))
        roster.enrol(subject=command.subject, name=command.name, title=command.title,
                     organisation=command.organisation, by=by(actor))  # fmt: skip
        self._save(roster)
        return roster

    def _brief(self, de_an_id: str) -> tuple[str, str] | None:
        """(code, title) of a đề án a council of this instance may appraise: one of this instance's, or, at
        the ministry, a province's national đề án it keeps a record of (the Cục's council appraises the
        provinces' national đề án at the ministry level, TT 36/2013 Art. 8)."""
        try:
            found: Any = self.repository.get(UUID(str(de_an_id)))
        except (AggregateNotFoundError, ValueError):
            found = None
        if isinstance(found, DeAn):
            return found.details["code"], found.details["title"]
        if self.instance != MINISTRY or self.national_index is None:
            return None
        records = self.national_index.briefs(str(de_an_id))
        if len(records) > 1:  # the same id published by two provinces: never guess which one
            raise AmbiguousCodeError(
                f"Đề án {de_an_id} có ở nhiều tỉnh ({', '.join(r['instance'] for r in records)}) / the id is held "
                "by several provinces",
                field="de_an_ids",
            )
        return (records[0]["code"], records[0]["title"]) if records and records[0]["code"] else None

    def _council_rules(self) -> CouncilRules:
        if self.council_rules is None:
            raise AppraisalError("Chưa nạp quy định về hội đồng / council rules not loaded")
        return self.council_rules

    def found_council(self, command: c.FoundCouncil, actor: Actor) -> Council:
        """Hội đồng thẩm định founded by its decision, its members from the roster."""
        roster = self.roster()
        if roster is None:
            raise RecordNotFoundError(
                "Chưa có danh sách cán bộ, chuyên gia để chọn thành viên hội đồng / the roster is empty",
                field="members",
            )
        council = Council.found(
            name=command.name,
            stage=command.stage,
            decision_number=command.decision_number,
            decided_on=command.decided_on,
            signer=command.signer,
            chair=command.chair,
            secretary=command.secretary,
            members=command.members,
            de_an_ids=command.de_an_ids,
            scoresheet=command.scoresheet,
            roster=roster,
            de_an=self._brief,
            rules=self._council_rules(),
            by=by(actor),
        )
        self._save(council)
        return council

    def council(self, council_id: UUID, *, actor: Actor | None = None) -> Council:
        """A council; a council member (``council_bound``) sees only the councils they sit on."""
        try:
            found: Any = self.repository.get(council_id)
        except AggregateNotFoundError:
            found = None
        if not isinstance(found, Council) or (
            actor is not None and actor.council_bound and not found.sits(actor.subject)
        ):
            raise RecordNotFoundError("Không tìm thấy hội đồng / council not found")
        return found

    def councils(self, actor: Actor, *, de_an_id: str | None = None) -> list[Council]:
        if self.council_index is None:
            return []
        member = actor.subject if actor.council_bound else None
        if actor.council_bound and not member:
            return []
        return [self.council(i) for i in self.council_index.ids("hoi_dong", member=member, de_an_id=de_an_id)]

    def _member_acts(
        self, council_id: UUID, actor: Actor, expected_version: int | None, act: Callable[[Council], Any]
    ) -> Council:
        council = self.council(council_id, actor=actor)
        if expected_version is not None and council.version != expected_version:
            raise StaleVersionError(
                f"Hội đồng đã thay đổi (phiên bản {council.version}); tải lại / stale version", field="version"
            )
        act(council)
        self._save(council)
        return council

    def sign_declaration(
        self, council_id: UUID, command: c.SignDeclaration, actor: Actor, expected_version: int | None = None
    ) -> Council:
        """The signed-in member's own conflict-of-interest declaration (the token's subject is the member)."""
        return self._member_acts(council_id, actor, expected_version, lambda k: k.sign_declaration(
            subject=actor.subject, de_an_id=command.de_an_id, conflict=command.conflict,
            signed_on=command.signed_on, note=command.note, by=by(actor)))  # fmt: skip

    def record_opinion(
        self, council_id: UUID, command: c.RecordOpinion, actor: Actor, expected_version: int | None = None
    ) -> Council:
        """The signed-in member's own opinion (and score); refused to a member who declared a conflict."""
        return self._member_acts(council_id, actor, expected_version, lambda k: k.record_opinion(
            subject=actor.subject, de_an_id=command.de_an_id, conclusion=command.conclusion,
            given_on=command.given_on, score=command.score, comment=command.comment,
            rules=self._council_rules(), by=by(actor)))  # fmt: skip

    def record_minutes(
        self, council_id: UUID, command: c.RecordMinutes, actor: Actor, expected_version: int | None = None
    ) -> Council:
        """The minutes, by the chair or the secretary signed in; the result computed from the opinions."""
        return self._member_acts(council_id, actor, expected_version, lambda k: k.record_minutes(
            subject=actor.subject, de_an_id=command.de_an_id, number=command.number, held_on=command.held_on,
            absent=command.absent, rules=self._council_rules(), by=by(actor)))  # fmt: skip

    def minutes(self, council_id: str, de_an_id: str) -> dict[str, Any] | None:
        """The minutes a council recorded for a đề án (the appraisal that follows them reads these)."""
        try:
            council = self.council(UUID(str(council_id)))
        except (RecordNotFoundError, ValueError):
            return None
        recorded = council.minutes.get(de_an_id)
        if recorded is None:
            return None
        return recorded | {"council_id": str(council.id), "council": council.name, "stage": council.stage,
                           "decision_number": council.decision["number"]}  # fmt: skip

    def schedule_field_trip(self, command: c.ScheduleFieldTrip, actor: Actor) -> FieldTrip:
        trip = FieldTrip.schedule(
            name=command.name,
            decision_number=command.decision_number,
            starts_on=command.starts_on,
            ends_on=command.ends_on,
            team=command.team,
            visits=[dict(v) for v in command.visits],
            de_an=self._brief,
            by=by(actor),
        )
        self._save(trip)
        return trip

    def field_trip(self, trip_id: UUID) -> FieldTrip:
        try:
            found: Any = self.repository.get(trip_id)
        except AggregateNotFoundError:
            found = None
        if not isinstance(found, FieldTrip):
            raise RecordNotFoundError("Không tìm thấy đoàn thẩm định thực tế / field trip not found")
        return found

    def field_trips(self, *, de_an_id: str | None = None) -> list[FieldTrip]:
        if self.council_index is None:
            return []
        return [self.field_trip(i) for i in self.council_index.ids("doan_thuc_te", de_an_id=de_an_id)]

    def record_findings(
        self, trip_id: UUID, command: c.RecordFindings, actor: Actor, expected_version: int | None = None
    ) -> FieldTrip:
        trip = self.field_trip(trip_id)
        if expected_version is not None and trip.version != expected_version:
            raise StaleVersionError(f"Đoàn đã thay đổi (phiên bản {trip.version}); tải lại", field="version")
        trip.record_findings(visit=command.visit, findings=command.findings, outcome=command.outcome,
                             recorded_on=command.recorded_on, by=by(actor))  # fmt: skip
        self._save(trip)
        return trip
