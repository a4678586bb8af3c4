"""The appraisal service's use cases: one method per command (``commands``), the eventsourcing
Application. HTTP handlers, the bus's integration, the console and tests all call these.

A use case loads the đề án (only if the caller's unit may see it), checks the version the caller
saw, runs one domain command with the decision's ``By`` (actor, correlation, causation) and saves.
The day a rule is looked up for, when the caller names none, comes from the application's clock.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from kc_kernel.vocabulary import VIETNAM_TIME, has_label, label
from kc_runtime.adminunits import load_catalogue
from kc_runtime.store.eventstore import ServiceApplication
from kc_runtime.store.files import DOCX, JPEG, PDF, PNG, XLSX, ContentStore
from kc_runtime.text import unit_key
from kc_runtime.web.actor import Actor

from kc_appraisal import commands as c
from kc_appraisal.domain.council import Council, CouncilRules, Roster, roster_id
from kc_appraisal.domain.de_an import BeneficiaryLookup, By, DeAn, Level, Status
from kc_appraisal.domain.de_an.events import DeAnEvents
from kc_appraisal.domain.de_an.lifecycle import MINISTRY
from kc_appraisal.domain.errors import AppraisalError, StaleVersionError
from kc_appraisal.domain.field_trip import FieldTrip
from kc_appraisal.domain.national_de_an import NationalDeAn, record_id
from kc_appraisal.domain.reference import DeAnReference, reference_for
from kc_appraisal.domain.rules import CalendarLookup, ExtensionLookup, Rulebook

log = structlog.get_logger("kc.appraisal")
C_contra = TypeVar("C_contra", contravariant=True)
Clock = Callable[[], datetime]
# the đề án's command that applies each of the ministry's decisions (from the bus)
MINISTRY_DECISIONS: dict[type, Callable[..., Any]] = {
    c.RecordMinistryAppraisal: DeAn.record_ministry_appraisal,
    c.SignContract: DeAn.sign_contract,
    c.DecideAdjustment: DeAn.decide_adjustment,
    c.Settle: DeAn.settle,
}
# a province's milestones of a national đề án before it is sent to the ministry (gửi Bộ): the ministry's
# record of it opens when it is forwarded (or at any later milestone, for a ministry that started later)
BEFORE_THE_MINISTRY = frozenset({"submitted", "returned", "base-appraised"})
# fields of a decision event that the timeline shows beside its data, not in it
_DECISION_FIELDS = (
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "actor",
    "correlation_id",
    "causation_id",
    "rule_versions",
    "traceparent",  # the W3C trace span it was saved in (kc_runtime.tracing): metadata, not data
    "tracestate",
)


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


class UnitMismatchError(AppraisalError):
    """An implementing unit drafts only its own đề án."""


class RecordNotFoundError(AppraisalError):
    """No council, field trip or roster with this id in this instance (or none the caller sits on)."""


class OtherProvinceError(AppraisalError):
    """A province drafts only its own đề án: the ministry's national view counts a đề án in its province."""


def province_now(code: str) -> str | None:
    """The province a code is today: itself, or the one a pre-2025 province was merged into."""
    units = load_catalogue()
    if units.current_province(code) is not None:
        return code
    successor = units.current_province_of_legacy(code)
    return successor.code if successor else None


@dataclass(frozen=True)
class PublicStatus:
    """What anyone may know of a đề án from its code: nothing personal, no amounts, no dossier."""

    code: str
    reference: str | None
    title: str
    status: Status
    plan_year: int
    level: Level
    province_code: str
    status_changed_on: date

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "reference": self.reference,
            "title": self.title,
            "status": {"code": self.status.value, "label": label("de_an_status", self.status)},
            "plan_year": self.plan_year,
            "level": {"code": self.level.value, "label": label("plan_level", self.level)},
            "province": {"code": self.province_code, "name": _province_name(self.province_code)},
            "status_changed_on": self.status_changed_on.isoformat(),
        }


def _province_name(code: str) -> str | None:
    """Its name now, or before the 2025 merger; the ministry's own đề án (``00``) have none."""
    for kind in ("province", "province_truoc_2025"):
        if has_label(kind, code):
            return label(kind, code)
    return None


def unit_of(de_an: DeAn) -> str:
    """The implementing unit's key: recorded at draft, or (đề án drafted before) from its name."""
    return str(de_an.details.get("unit") or unit_key(de_an.details["implementing_unit"]))


def by(actor: Actor, instance: str | None = None) -> By:
    """Who decides: the actor, in the request's conversation, in their role, on this instance."""
    return By(actor.name, actor.correlation_id, role=actor.role, instance=instance)


# what a đề án's files may be, by their bytes (kc_runtime.store.files.detect), and how large
DOCUMENT_TYPES = (PDF, JPEG, PNG, DOCX, XLSX)
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
PHOTO_TYPES = (JPEG, PNG)
MAX_PHOTO_BYTES = 10 * 1024 * 1024


class UseCase(Protocol[C_contra]):
    def __call__(
        self, de_an_id: UUID, command: C_contra, actor: Actor, expected_version: int | None = None
    ) -> DeAn: ...


def use_case(command: type[C_contra], action: Callable[..., Any]) -> UseCase[C_contra]:
    """The application's method for one command: load the đề án (if the actor's unit may see it, at
    the version it saw), call the domain command with the command's fields and what it asks for
    (``rules``, ``beneficiaries``, ``calendars``, ``on`` — today by the application's clock) and
    the decision's ``by``, save."""
    wanted = set(inspect.signature(action).parameters)

    def run(
        self: AppraisalApplication,
        de_an_id: UUID,
        given: C_contra,
        actor: Actor,
        expected_version: int | None = None,
    ) -> DeAn:
        if not isinstance(given, command):
            raise TypeError(f"{action.__name__} takes a {command.__name__}, not {type(given).__name__}")
        arguments = self._arguments(given, wanted)
        decided = by(actor, self.instance)
        return self._change(de_an_id, actor, expected_version, lambda d: action(d, **arguments, by=decided))

    run.__name__ = run.__qualname__ = action.__name__
    run.__doc__ = action.__doc__
    return cast(UseCase[C_contra], run)


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
        self: AppraisalApplication,
        instance: str,
        de_an_id: UUID,
        given: C_contra,
        actor: Actor,
        expected_version: int | None = None,
    ) -> NationalDeAn:
        if not isinstance(given, command):
            raise TypeError(f"{action.__name__} takes a {command.__name__}, not {type(given).__name__}")
        record = self.national_record(instance, de_an_id)
        if expected_version is not None and record.version != expected_version:
            raise StaleVersionError(
                f"Hồ sơ đã thay đổi (phiên bản hiện tại {record.version}, bạn gửi {expected_version}); tải lại / "
                "stale version: reload and retry",
                field="version",
            )
        action(record, **self._arguments(given, wanted), by=by(actor, self.instance))
        self._save(record)
        return record

    run.__name__ = run.__qualname__ = f"national_{action.__name__}"
    run.__doc__ = action.__doc__
    return cast(NationalUseCase[C_contra], run)


class AppraisalApplication(ServiceApplication):
    name = "appraisal"

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

    # -- reading ----------------------------------------------------------------------------------
    def get(self, de_an_id: UUID, version: int | None = None, *, actor: Actor | None = None) -> DeAn:
        """The đề án; for an actor bound to a unit, only its own unit's (another's is not found)."""
        try:
            de_an: Any = self.repository.get(de_an_id, version=version)
        except AggregateNotFoundError:
            raise DeAnNotFoundError("Không tìm thấy đề án / đề án not found") from None
        if not isinstance(de_an, DeAn) or (actor is not None and not actor.reaches_unit(unit_of(de_an))):
            raise DeAnNotFoundError("Không tìm thấy đề án / đề án not found")
        return de_an

    def as_of(self, de_an_id: UUID, moment: datetime, *, actor: Actor | None = None) -> DeAn:
        """The đề án as it stood at ``moment`` (replayed from its stream)."""
        self.get(de_an_id, actor=actor)
        versions = [
            e.originator_version for e in self.events.get(de_an_id) if getattr(e, "timestamp", moment) <= moment
        ]
        if not versions:
            raise DeAnNotFoundError(f"Đề án chưa tồn tại vào {moment.isoformat()} / did not exist yet")
        return self.get(de_an_id, version=max(versions))

    def list_de_an(self, query: c.ListQuery, actor: Actor) -> tuple[int, list[dict[str, Any]]]:
        """A page of the list; an implementing unit sees its own unit's đề án only."""
        if self.index is None:
            return 0, []
        units = ([actor.unit] if actor.unit else []) if actor.unit_bound else None
        return self.index.search(query, units)

    def public_status(self, code: str) -> PublicStatus:
        """The public lookup (tra cứu) by reference or by the đề án's code: where it stands,
        nothing personal, no amounts, no dossier."""
        try:
            reservation: Any = self.repository.get(DeAnReference.id_for(code))
            found = [reservation.de_an_id] if isinstance(reservation, DeAnReference) else []
        except AggregateNotFoundError:
            found = self.index.by_code(code) if self.index else []
        if not found:
            raise DeAnNotFoundError(f"Không có đề án mã {code} / no đề án with this code")
        if len(found) > 1:
            raise AmbiguousCodeError(
                f"Có {len(found)} đề án cùng mã {code}; tra cứu bằng mã tra cứu (dạng {self.instance}-2024-0007)"
                " / several đề án share this code: use the reference",
                field="code",
            )
        de_an = self.get(found[0])
        d = de_an.details
        return PublicStatus(
            code=d["code"],
            reference=d.get("reference"),
            title=d["title"],
            status=de_an.status,
            plan_year=int(d["plan_year"]),
            level=de_an.level,
            province_code=d["province_code"],
            status_changed_on=de_an.status_changed_at.astimezone(VIETNAM_TIME).date(),
        )

    def timeline(self, de_an_id: UUID, *, actor: Actor | None = None) -> list[dict[str, Any]]:
        """Who did what, when, under which rule version: straight from the stream. Both appraisal
        events show as ``Appraised`` with their ``stage``, the timeline's name for them since the
        first release (the vocabulary labels it)."""
        self.get(de_an_id, actor=actor)
        out = []
        for e in self.events.get(de_an_id):
            data = {k: v for k, v in e.__dict__.items() if k not in _DECISION_FIELDS}
            name = type(e).__name__
            if isinstance(e, DeAnEvents.AppraisalRecorded):
                name, data = "Appraised", {"stage": e.stage} | data
            out.append(
                {
                    "version": e.originator_version,
                    "event": name,
                    "at": getattr(e, "timestamp", None),
                    "actor": getattr(e, "actor", None),
                    "correlation_id": getattr(e, "correlation_id", None),
                    "causation_id": getattr(e, "causation_id", None),
                    "rule_versions": getattr(e, "rule_versions", []),
                    "data": data,
                }
            )
        return out

    # -- drafting ---------------------------------------------------------------------------------
    def draft(self, command: c.DraftDeAn, actor: Actor) -> DeAn:
        """A new đề án with its reference (mã tra cứu) and implementing unit (an implementing
        unit's own token drafts for that unit only)."""
        details = dict(command.details)
        unit = details.get("unit") or unit_key(str(details.get("implementing_unit") or ""))
        if actor.unit_bound and actor.unit is not None:
            if details.get("unit") not in (None, actor.unit):
                raise UnitMismatchError(
                    f"Đơn vị {actor.unit} chỉ lập đề án của đơn vị mình / a unit drafts its own đề án only",
                    field="unit",
                )
            unit = actor.unit
        details |= {"province_code": details.get("province_code") or self._province(), "unit": unit or None}
        self._check_own_province(str(details["province_code"]))
        year = details.get("plan_year")
        number = (self.index.count_in_year(year) if self.index and isinstance(year, int) else 0) + 1
        for _ in range(100):  # the count is a hint; the reservation decides (a concurrent draft took it: next)
            reference = reference_for(self.instance, year, number) if isinstance(year, int) else None
            de_an = DeAn.draft(details | {"reference": reference}, rules=self.rules, on=self._today(), by=by(actor))
            try:
                self.save(de_an, DeAnReference(reference=de_an.details["reference"], de_an_id=de_an.id))
            except IntegrityError:
                number += 1
                continue
            return de_an
        raise StaleVersionError("Đang có nhiều đề án được lập cùng lúc; thử lại / too many concurrent drafts")

    # -- one method per use case on a đề án: ``RecordAdvance`` → ``record_advance`` → ``DeAn.record_advance``
    # (the command's fields, plus the rules, lookups and day the domain command asks for by name)
    edit = use_case(c.EditDraft, DeAn.edit)
    extend_submission = use_case(c.ExtendSubmission, DeAn.extend_submission)
    submit = use_case(c.Submit, DeAn.submit)  # deadline, beneficiaries and ceilings as of the submission day
    return_for_supplement = use_case(c.ReturnForSupplement, DeAn.return_for_supplement)
    record_base_appraisal = use_case(c.RecordBaseAppraisal, DeAn.record_base_appraisal)
    record_ministry_appraisal = use_case(c.RecordMinistryAppraisal, DeAn.record_ministry_appraisal)
    forward = use_case(c.Forward, DeAn.forward)
    propose = use_case(c.Propose, DeAn.propose)
    mark_not_funded = use_case(c.MarkNotFunded, DeAn.mark_not_funded)
    sign_contract = use_case(c.SignContract, DeAn.sign_contract)
    report_progress = use_case(c.ReportProgress, DeAn.report_progress)
    record_advance = use_case(c.RecordAdvance, DeAn.record_advance)
    request_adjustment = use_case(c.RequestAdjustment, DeAn.request_adjustment)
    decide_adjustment = use_case(c.DecideAdjustment, DeAn.decide_adjustment)
    complete = use_case(c.Complete, DeAn.complete)
    accept = use_case(c.Accept, DeAn.accept)
    settle = use_case(c.Settle, DeAn.settle)
    close_de_an = use_case(c.Close, DeAn.close)  # ``close`` is the application's own: it closes the store

    def _check_own_province(self, code: str) -> None:
        """A province's đề án are its own: its code, or (records keep the unit as recorded) that of a
        province merged into it on 1/7/2025. The ministry drafts for any province."""
        if not self.instance.startswith("tinh-") or province_now(code) == self._province():
            return
        own, named = self._province(), _province_name(code)
        raise OtherProvinceError(
            f"{_province_name(own) or 'Tỉnh ' + own} chỉ lập đề án của tỉnh mình; mã tỉnh {code}"
            f"{f' ({named})' if named else ''} thuộc tỉnh khác / a province drafts its own đề án only",
            field="province_code",
        )

    # -- the đề án's own files: documents, progress photos (bytes kept here, events carry hashes) -----
    def file_document(self, de_an_id: UUID, kind: str, data: bytes, actor: Actor) -> dict[str, Any]:
        """Keep one of the đề án's documents (PDF, JPEG, PNG, .docx, .xlsx: by its bytes; ≤ 20 MB)."""
        self.get(de_an_id, actor=actor)  # a đề án the actor may not see: refused before anything is stored
        digest, media_type = self._files().put(data, max_bytes=MAX_DOCUMENT_BYTES, allowed=DOCUMENT_TYPES)
        de_an = self._change(
            de_an_id,
            actor,
            None,
            lambda d: d.file_document(
                kind=kind, sha256=digest, size_bytes=len(data), media_type=media_type, by=by(actor)
            ),
        )
        return de_an.documents[digest]

    def file_progress_photo(
        self, de_an_id: UUID, month: str, data: bytes, caption: str, actor: Actor
    ) -> dict[str, Any]:
        """Attach a photo (JPEG or PNG by its bytes; ≤ 10 MB) to the monthly progress report of ``month``."""
        self.get(de_an_id, actor=actor)
        digest, media_type = self._files().put(data, max_bytes=MAX_PHOTO_BYTES, allowed=PHOTO_TYPES)
        de_an = self._change(
            de_an_id,
            actor,
            None,
            lambda d: d.file_progress_photo(
                month=month,
                sha256=digest,
                size_bytes=len(data),
                media_type=media_type,
                caption=caption,
                by=by(actor),
            ),
        )
        report = next(r for r in reversed(de_an.progress) if r["month"] == month)
        return dict(report["photos"][-1]) | {"month": month}

    def file_bytes(self, de_an_id: UUID, sha256: str, actor: Actor) -> tuple[str, bytes]:
        """(type, bytes) of one of the đề án's files, for an actor who may see the đề án."""
        de_an = self.get(de_an_id, actor=actor)
        if not de_an.has_file(sha256):
            raise DeAnNotFoundError("Đề án không có tệp này / the đề án has no such file")
        media_type = de_an.documents.get(sha256, {}).get("media_type") or next(
            p["media_type"] for r in de_an.progress for p in r.get("photos", []) if p["sha256"] == sha256
        )
        return str(media_type), self._files().get(sha256)

    def _files(self) -> ContentStore:
        if self.files is None:
            raise AppraisalError("Dịch vụ không lưu tệp / this service keeps no files", field="file")
        return self.files

    # -- councils (hội đồng thẩm định) and field trips (thẩm định thực tế) ---------------------------
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

    # -- the ministry's record of the provinces' national đề án (on ``bo``) -----------------------------
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

    def apply_ministry_decision(self, command: c.FromMinistry, tracking: Tracking) -> None:
        """A decision the ministry recorded on its instance about this instance's national đề án: the
        đề án's own command, decided by the ministry's officer (their name and role, the message's
        correlation, the message as causation), saved with the tracking in one transaction. A decision
        the đề án refuses raises: the inbox retries it, then dead-letters it with the reason."""
        de_an = self._load(command.de_an_id, None, None)
        action = MINISTRY_DECISIONS[type(command.decision)]
        wanted = set(inspect.signature(action).parameters)
        decided = By(command.actor, command.correlation_id, command.causation_id, role=command.role, instance=MINISTRY)
        action(de_an, **self._arguments(command.decision, wanted), by=decided)
        self.save_tracked(tracking, de_an)

    # -- from the bus -----------------------------------------------------------------------------
    def approve_in_plan(
        self,
        command: c.ApproveInPlan,
        tracking: Tracking | None = None,
        *,
        actor: Actor | None = None,
        expected_version: int | None = None,
    ) -> list[str]:
        """The one way a đề án is approved: a plan decision approves its lines of this instance. From
        the bus, with the message's tracking, atomically: a line that cannot apply (unknown đề án,
        wrong state, amount above the appraisal) is logged and returned, the others still apply."""
        decided = By(command.approver, command.correlation_id, command.causation_id)
        changed, problems = [], []
        for line in command.lines:
            try:
                de_an = self._load(line.de_an_id, actor, expected_version)
                de_an.approve_in_plan(
                    plan_id=command.plan_id,
                    plan_decision=command.plan_decision,
                    batch=command.batch,
                    decided_on=command.decided_on,
                    approved_support_vnd=line.approved_support_vnd,
                    by=decided,
                )
                changed.append(de_an)
            except AppraisalError as exc:
                if not command.skip_failed_lines:
                    raise
                problems.append(f"{line.code}: {exc}")
                log.warning("plan line not applied", plan=command.plan_id, code=line.code, error=str(exc))
        if tracking is not None:
            self.save_tracked(tracking, *changed)
        else:
            self._save(*changed)
        return problems

    # -- the one way a command runs ---------------------------------------------------------------
    def _change(
        self, de_an_id: UUID, actor: Actor, expected_version: int | None, command: Callable[[DeAn], Any]
    ) -> DeAn:
        """Load (if the actor may see it, at the version it saw), run one domain command, save."""
        de_an = self._load(de_an_id, actor, expected_version)
        command(de_an)
        self._save(de_an)
        return de_an

    def _load(self, de_an_id: UUID, actor: Actor | None, expected_version: int | None) -> DeAn:
        de_an = self.get(de_an_id, actor=actor)
        if expected_version is not None and de_an.version != expected_version:
            raise StaleVersionError(
                f"Đề án đã thay đổi (phiên bản hiện tại {de_an.version}, bạn gửi {expected_version}); tải lại / "
                "stale version: reload and retry",
                field="version",
            )
        return de_an

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

    def _province(self) -> str:
        return self.instance.removeprefix("tinh-") if self.instance.startswith("tinh-") else "00"
