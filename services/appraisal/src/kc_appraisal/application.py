"""The appraisal service's use cases: one method per command (``commands``), the eventsourcing
Application. HTTP handlers, the bus's integration, the console and tests all call these.

``AppraisalApplication`` holds the đề án's use cases here and takes in the councils' and field trips'
(``councils``) and the ministry's record of the provinces' national đề án (``national``); what they all
stand on (ports, clock, ``By``, saving) is ``use_case``.

A use case on a đề án loads the đề án (only if the caller's unit may see it), checks the version the caller
saw, runs one domain command with the decision's ``By`` (actor, correlation, causation) and saves.
The day a rule is looked up for, when the caller names none, comes from the application's clock.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Tracking
from kc_kernel.vocabulary import VIETNAM_TIME, has_label, label
from kc_runtime.adminunits import load_catalogue
from kc_runtime.store.files import DOCX, JPEG, PDF, PNG, XLSX, ContentStore
from kc_runtime.text import unit_key
from kc_runtime.web.actor import Actor

from kc_appraisal import commands as c
from kc_appraisal.councils import CouncilUseCases
from kc_appraisal.domain.de_an import By, DeAn, Level, Status
from kc_appraisal.domain.de_an.events import DeAnEvents
from kc_appraisal.domain.de_an.lifecycle import MINISTRY
from kc_appraisal.domain.errors import AppraisalError, StaleVersionError
from kc_appraisal.domain.reference import DeAnReference, reference_for
from kc_appraisal.national import NationalUseCases
from kc_appraisal.use_case import AmbiguousCodeError, DeAnNotFoundError, by, expect_version

log = structlog.get_logger("kc.appraisal")
C_contra = TypeVar("C_contra", contravariant=True)
# the đề án's command that applies each of the ministry's decisions (from the bus)
MINISTRY_DECISIONS: dict[type, Callable[..., Any]] = {
    c.RecordMinistryAppraisal: DeAn.record_ministry_appraisal,
    c.SignContract: DeAn.sign_contract,
    c.DecideAdjustment: DeAn.decide_adjustment,
    c.Settle: DeAn.settle,
}
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


class UnitMismatchError(AppraisalError):
    """An implementing unit drafts only its own đề án."""


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


class AppraisalApplication(CouncilUseCases, NationalUseCases):
    name = "appraisal"

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

    # -- from the bus -----------------------------------------------------------------------------
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
        expect_version("Đề án", de_an.version, expected_version)
        return de_an

    def _province(self) -> str:
        return self.instance.removeprefix("tinh-") if self.instance.startswith("tinh-") else "00"
