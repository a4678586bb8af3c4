"""The registry's use cases (the eventsourcing Application): the only way state changes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

import structlog
from eventsourcing.persistence import IntegrityError, Tracking
from kc_kernel.units import AdminUnits
from kc_runtime.store.eventstore import ServiceApplication
from kc_runtime.web.actor import Actor

from kc_registry.commands import RecordSettledSupport
from kc_registry.documents import DocumentStore
from kc_registry.domain.eligibility import EligibilityRules, Verdict, evaluate
from kc_registry.domain.errors import (
    DocumentError,
    DuplicateEstablishmentError,
    RegistryError,
    StaleVersionError,
)
from kc_registry.domain.establishment import (
    DocumentKind,
    Establishment,
    establishment_id,
    identity_key,
)
from kc_registry.domain.priority import PriorityRules, PriorityVerdict
from kc_registry.domain.priority import evaluate as evaluate_priority
from kc_registry.domain.recognition import Level, Recognition, RecognitionRules, Scheme

T = TypeVar("T")
log = structlog.get_logger("kc.registry")


class EstablishmentNotFoundError(RegistryError):
    """No establishment with this id in this instance."""


@dataclass
class RowProblem:
    row: int
    field: str
    message: str
    message_en: str


@dataclass
class ImportReport:
    rows: int
    new: int
    existing: int
    problems: list[RowProblem] = field(default_factory=list)
    applied: bool = False
    establishment_ids: list[str] = field(default_factory=list)


class RegistryApplication(ServiceApplication):
    name = "registry"

    def __init__(
        self,
        env: dict[str, str],
        *,
        units: AdminUnits,
        instance_province: str | None,
        eligibility: EligibilityRules,
        recognitions: RecognitionRules,
        documents: DocumentStore,
        priority: PriorityRules | None = None,
        province_now_of: Callable[[str], tuple[str, list[str]]] | None = None,
    ) -> None:
        self.units = units
        self.priority_rules = priority
        self.province_now_of = province_now_of or (lambda code: (code, [code]))
        self.instance_province = instance_province
        self.eligibility_rules = eligibility
        self.recognition_rules = recognitions
        self.documents = documents
        super().__init__(env=env)

    # -- establishments --------------------------------------------------------------------------
    def check_sectors(self, details: dict[str, Any]) -> None:
        unknown = [s for s in details.get("sectors") or [] if s not in self.eligibility_rules.sector_labels]
        if unknown:
            raise RegistryError(
                f"Mã ngành nghề không có trong danh mục: {', '.join(unknown)} (xem GET /rules) / unknown sector code",
                field="sectors",
            )

    def register(self, details: dict[str, Any], actor: Actor) -> Establishment:
        self.check_sectors(details)
        establishment = Establishment.register(
            details, units=self.units, instance_province=self.instance_province, **actor.by
        )
        self._save_new(establishment)
        return establishment

    def _save_new(self, *establishments: Establishment) -> None:
        try:
            self.save(*establishments)
        except IntegrityError:
            raise DuplicateEstablishmentError(
                "Mã số thuế/số đăng ký này đã được đăng ký / this tax or registration number is already registered",
                field="tax_code",
            ) from None

    def get(self, establishment_id: UUID) -> Establishment:
        return self.find(
            establishment_id,
            Establishment,
            EstablishmentNotFoundError("Không tìm thấy cơ sở / establishment not found"),
        )

    def _load_at(self, establishment_id: UUID, expected_version: int | None) -> Establishment:
        establishment = self.get(establishment_id)
        if expected_version is not None and establishment.version != expected_version:
            raise StaleVersionError(
                f"Dữ liệu đã thay đổi (phiên bản hiện tại {establishment.version}, bạn sửa phiên bản "
                f"{expected_version}); tải lại rồi sửa / stale version: reload and retry",
                field="version",
            )
        return establishment

    def _save_existing(self, establishment: Establishment) -> None:
        try:
            self.save(establishment)
        except IntegrityError:
            raise StaleVersionError(
                "Dữ liệu vừa bị người khác thay đổi; tải lại rồi sửa / changed concurrently: reload and retry",
                field="version",
            ) from None

    def _change(
        self, establishment_id: UUID, command: Callable[[Establishment], T], expected_version: int | None = None
    ) -> tuple[Establishment, T]:
        """Load (at the expected version, if given), run one domain command, save."""
        establishment = self._load_at(establishment_id, expected_version)
        result = command(establishment)
        self._save_existing(establishment)
        return establishment, result

    def update(
        self, establishment_id: UUID, changes: dict[str, Any], expected_version: int, actor: Actor
    ) -> tuple[Establishment, dict[str, Any]]:
        self.check_sectors(changes)
        return self._change(
            establishment_id,
            lambda e: e.update(changes, units=self.units, instance_province=self.instance_province, **actor.by),
            expected_version,
        )

    def eligibility(self, establishment_id: UUID, on: date) -> Verdict:
        return evaluate(self.get(establishment_id).details, on, self.eligibility_rules, self.units)

    def priority(self, establishment_id: UUID, on: date) -> PriorityVerdict:
        """Selection priority on ``on``: official area lists, sectors in TT 46 order, valid regional or
        national typical-product certificates, the TT 26/2014 region."""
        if self.priority_rules is None:
            raise RegistryError("Chưa nạp quy định ưu tiên / no priority rules loaded", field="on")
        e = self.get(establishment_id)
        return evaluate_priority(
            e.details,
            list(e.recognitions.values()),
            on,
            self.priority_rules,
            self.units,
            province_now_of=self.province_now_of,
        )

    # -- legal dossier ---------------------------------------------------------------------------
    def attach_document(
        self, establishment_id: UUID, kind: DocumentKind, data: bytes, media_type: str, actor: Actor
    ) -> dict[str, Any]:
        self.get(establishment_id)  # unknown establishment: refuse before storing anything
        digest = self.documents.put(data)  # idempotent; the event is what makes it part of the dossier
        e, _ = self._change(
            establishment_id,
            lambda e: e.attach_document(
                kind=kind, sha256=digest, size_bytes=len(data), media_type=media_type, **actor.by
            ),
        )
        return e.documents[digest]

    def decide_document(
        self, establishment_id: UUID, sha256: str, *, verified: bool, text: str | None, actor: Actor
    ) -> dict[str, Any]:
        def decide(e: Establishment) -> None:
            if verified:
                e.verify_document(sha256, note=text, **actor.by)
            else:
                e.reject_document(sha256, reason=text or "", **actor.by)

        e, _ = self._change(establishment_id, decide)
        return e.documents[sha256]

    def document_bytes(self, establishment_id: UUID, sha256: str) -> tuple[dict[str, Any], bytes]:
        meta = self.get(establishment_id).documents.get(sha256)
        if meta is None:
            raise DocumentError("Không có tài liệu này trong hồ sơ / no such document", field="sha256")
        return meta, self.documents.get(sha256)

    # -- recognitions ----------------------------------------------------------------------------
    def record_recognition(
        self,
        establishment_id: UUID,
        *,
        scheme: Scheme,
        product_name: str,
        level: Level | None,
        stars: int | None,
        decision_number: str,
        decision_date: date,
        issuer: str,
        actor: Actor,
    ) -> Recognition:
        _, recognition = self._change(
            establishment_id,
            lambda e: e.record_recognition(
                rules=self.recognition_rules,
                recognition_id=str(uuid.uuid4()),
                scheme=scheme,
                product_name=product_name,
                level=level,
                stars=stars,
                decision_number=decision_number,
                decision_date=decision_date,
                issuer=issuer,
                **actor.by,
            ),
        )
        return recognition

    def revoke_recognition(
        self,
        establishment_id: UUID,
        recognition_id: str,
        *,
        revoked_on: date,
        reason: str,
        decision_number: str | None,
        actor: Actor,
    ) -> Recognition:
        e, _ = self._change(
            establishment_id,
            lambda e: e.revoke_recognition(
                recognition_id, revoked_on=revoked_on, reason=reason, decision_number=decision_number, **actor.by
            ),
        )
        return e.recognitions[recognition_id]

    # -- support history -------------------------------------------------------------------------
    def record_support(
        self,
        establishment_id: UUID,
        *,
        cost_item: str,
        amount_vnd: int,
        funding_source: str,
        year: int,
        reference: str,
        actor: Actor,
    ) -> Establishment:
        e, _ = self._change(
            establishment_id,
            lambda e: e.record_support(
                cost_item=cost_item,
                amount_vnd=amount_vnd,
                funding_source=funding_source,
                year=year,
                reference=reference,
                **actor.by,
            ),
        )
        return e

    def record_settled_support(self, command: RecordSettledSupport, tracking: Tracking) -> None:
        """A đề án's settlement (from the bus): each beneficiary's support history gains each cost item, its
        share of the settled support (shared equally among the beneficiaries, the remainder to the first),
        with the tracking of the message, in one transaction. An establishment of another instance, or a
        cost item already recorded from this đề án, is left as it is."""
        changed = []
        count = len(command.beneficiary_ids)
        for i, establishment in enumerate(command.beneficiary_ids):
            try:
                e = self.get(establishment)
            except EstablishmentNotFoundError:
                log.warning(
                    "settled support for an establishment not in this registry", establishment=str(establishment)
                )
                continue
            for cost in command.costs:
                share = cost.support_vnd // count + (cost.support_vnd % count if i == 0 else 0)
                if share <= 0 or any(
                    s["cost_item"].casefold() == cost.cost_item.casefold() and s["reference"] == command.reference
                    for s in e.support
                ):
                    continue
                e.record_support(
                    cost_item=cost.cost_item,
                    amount_vnd=share,
                    funding_source=command.funding_source,
                    year=command.year,
                    reference=command.reference,
                    actor=command.actor,
                    correlation_id=command.correlation_id,
                )
            changed.append(e)
        self.save_tracked(tracking, *changed)

    # -- bulk import -----------------------------------------------------------------------------
    def import_rows(
        self, rows: list[tuple[int, dict[str, Any], list[RowProblem]]], actor: Actor, *, apply: bool
    ) -> ImportReport:
        """All or nothing: with any row in error nothing is written. Rows whose establishment
        already exists (same tax / registration number) are skipped, so re-importing a file
        creates no duplicates."""
        report = ImportReport(rows=len(rows), new=0, existing=0)
        fresh: list[Establishment] = []
        seen: dict[UUID, int] = {}
        for row_number, details, parse_problems in rows:
            report.problems += parse_problems
            if parse_problems:
                continue
            try:
                self.check_sectors(details)
                clean = Establishment.check_details(details, units=self.units, instance_province=self.instance_province)
                key = identity_key(clean.get("tax_code"), clean.get("registration_number"), clean["province_code"])
            except RegistryError as exc:
                vi, _, en = str(exc).partition(" / ")
                report.problems.append(RowProblem(row_number, exc.field or "(dòng)", vi, en or vi))
                continue
            eid = establishment_id(key)
            if eid in seen:
                report.problems.append(
                    RowProblem(
                        row_number,
                        "tax_code",
                        f"Trùng với dòng {seen[eid]} trong tệp",
                        f"duplicates row {seen[eid]} of the file",
                    )
                )
                continue
            seen[eid] = row_number
            if eid in self.repository:
                report.existing += 1
                continue
            fresh.append(
                Establishment(identity=key, details=clean, actor=actor.name, correlation_id=actor.correlation_id)
            )
        report.new = len(fresh)
        if apply and not report.problems and fresh:
            self._save_new(*fresh)  # one transaction: every row or none
            report.applied = True
            report.establishment_ids = [str(e.id) for e in fresh]
        return report
