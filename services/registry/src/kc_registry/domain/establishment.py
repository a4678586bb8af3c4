"""Cơ sở công nghiệp nông thôn (CNNT): the beneficiaries of the programme (ND 45/2012 Art. 2,
amended by ND 235/2025), with their legal dossier, recognitions and support history.

One event stream per establishment. Its id is derived from the tax / registration number, so the
same establishment can never be registered twice (the event store refuses a second stream start).
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event
from kc_kernel.units import AdminUnits, CurrentCommune, LegacyWard, UnitSystem
from kc_kernel.vocabulary import label

from kc_registry.domain.errors import (
    DocumentError,
    OutsideProvinceError,
    RecognitionError,
    RegistryError,
    UnknownAdminUnitError,
)
from kc_registry.domain.recognition import Level, Recognition, RecognitionRules, Scheme, validity
from kc_registry.domain.taxcode import normalize_tax_code

NAMESPACE = uuid.UUID("8b0f3c7e-5a61-4a4b-9d55-6b1f0e2c4d10")


class LegalForm(StrEnum):
    """Loại hình (ND 45/2012 Art. 2; liên hiệp HTX added by ND 235/2025)."""

    doanh_nghiep_nho_va_vua = "doanh_nghiep_nho_va_vua"
    hop_tac_xa = "hop_tac_xa"
    lien_hiep_hop_tac_xa = "lien_hiep_hop_tac_xa"
    to_hop_tac = "to_hop_tac"
    ho_kinh_doanh = "ho_kinh_doanh"
    # beneficiaries that are not cơ sở CNNT in the narrow sense (DOMAIN §3)
    doanh_nghiep_ha_tang_ccn = "doanh_nghiep_ha_tang_ccn"  # invests in industrial-cluster infrastructure
    nghe_nhan = "nghe_nhan"  # Nghệ nhân nhân dân / ưu tú (ND 235/2025)


class DocumentKind(StrEnum):
    giay_dang_ky_kinh_doanh = "giay_dang_ky_kinh_doanh"  # business registration
    bao_cao_tai_chinh = "bao_cao_tai_chinh"  # financial statements
    khac = "khac"  # other


class DocumentStatus(StrEnum):
    pending = "cho_xac_minh"
    verified = "da_xac_minh"
    rejected = "bi_tu_choi"


def clean_text(value: str) -> str:
    """UTF-8 NFC with whitespace collapsed: how every name is stored."""
    return unicodedata.normalize("NFC", " ".join(value.split()))


def identity_key(tax_code: str | None, registration_number: str | None, province_code: str) -> str:
    if tax_code:
        return f"mst:{tax_code}"
    if registration_number:
        return f"dkkd:{province_code}:{clean_text(registration_number).upper()}"
    raise RegistryError(
        "Cần mã số thuế hoặc số đăng ký / a tax code or a registration number is required",
        field="tax_code",
    )


def establishment_id(key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, key)


def resolve_unit(
    units: AdminUnits, system: UnitSystem, commune_code: str, chosen_current: str | None = None
) -> tuple[LegacyWard | None, CurrentCommune, bool]:
    """The recorded unit, the current unit it is (or became), and whether that was ambiguous.

    A legacy ward that was split on 1/7/2025 went to several communes: the officer may name the
    one the production site is in (``chosen_current``); otherwise the main successor is taken and
    the record says the succession is ambiguous.
    """
    if system is UnitSystem.current:
        current = units.current_commune(commune_code)
        if current is None:
            raise UnknownAdminUnitError(
                f"Mã xã/phường {commune_code!r} không có trong danh mục từ 01/07/2025 / unknown commune code",
                field="commune_code",
            )
        return None, current, False
    legacy = units.legacy_ward(commune_code)
    if legacy is None:
        raise UnknownAdminUnitError(
            f"Mã xã/phường {commune_code!r} không có trong danh mục trước 01/07/2025 / unknown legacy ward code",
            field="commune_code",
        )
    succession = units.successor(commune_code)
    if succession is None:
        raise UnknownAdminUnitError(
            f"Không tìm thấy đơn vị kế thừa của {commune_code!r} / no successor unit found",
            field="commune_code",
        )
    if chosen_current:
        for candidate in succession.candidates:
            if candidate.code == chosen_current:
                return legacy, candidate, False
        names = ", ".join(f"{c.code} {c.name}" for c in succession.candidates)
        raise UnknownAdminUnitError(
            f"{legacy.name} được sắp xếp vào: {names}; không phải {chosen_current} / "
            "the chosen current commune is not a successor of this ward",
            field="current_commune_code",
        )
    return legacy, succession.default, succession.split


class Establishment(Aggregate):
    """A cơ sở CNNT. Public command methods check and compute; ``@event`` methods only assign."""

    class Registered(Aggregate.Created):
        identity: str
        details: dict[str, Any]
        actor: str
        correlation_id: str | None

    class Updated(Aggregate.Event):
        changes: dict[str, Any]
        details: dict[str, Any]  # the whole record after the change, so readers need no history
        actor: str
        correlation_id: str | None

    class DocumentAttached(Aggregate.Event):
        kind: str
        sha256: str
        size_bytes: int
        media_type: str
        actor: str
        correlation_id: str | None

    class DocumentVerified(Aggregate.Event):
        sha256: str
        kind: str
        size_bytes: int
        note: str | None
        actor: str
        correlation_id: str | None

    class DocumentRejected(Aggregate.Event):
        sha256: str
        kind: str
        size_bytes: int
        reason: str
        actor: str
        correlation_id: str | None

    class RecognitionRecorded(Aggregate.Event):
        recognition: dict[str, Any]
        actor: str
        correlation_id: str | None

    class RecognitionRevoked(Aggregate.Event):
        recognition_id: str
        revoked_on: date
        reason: str
        decision_number: str | None
        actor: str
        correlation_id: str | None

    class SupportRecorded(Aggregate.Event):
        support: dict[str, Any]
        actor: str
        correlation_id: str | None

    # -- registration ----------------------------------------------------------------------------
    @staticmethod
    def create_id(identity: str, **_: Any) -> uuid.UUID:
        return establishment_id(identity)

    @event(Registered)
    def __init__(self, identity: str, details: dict[str, Any], actor: str, correlation_id: str | None) -> None:
        self.identity = identity
        self.details = dict(details)
        self.documents: dict[str, dict[str, Any]] = {}
        self.recognitions: dict[str, Recognition] = {}
        self.support: list[dict[str, Any]] = []

    @classmethod
    def register(
        cls,
        details: dict[str, Any],
        *,
        units: AdminUnits,
        instance_province: str | None,
        actor: str,
        correlation_id: str | None = None,
    ) -> Establishment:
        clean = cls.check_details(details, units=units, instance_province=instance_province)
        identity = identity_key(clean.get("tax_code"), clean.get("registration_number"), clean["province_code"])
        return cls(identity=identity, details=clean, actor=actor, correlation_id=correlation_id)

    @staticmethod
    def check_details(details: dict[str, Any], *, units: AdminUnits, instance_province: str | None) -> dict[str, Any]:
        """Validate and normalise the descriptive fields; derive province and current unit."""
        clean = dict(details)
        name = clean_text(str(clean.get("name", "")))
        if not name:
            raise RegistryError("Tên cơ sở không được để trống / name must not be empty", field="name")
        clean["name"] = name
        if clean.get("tax_code"):
            clean["tax_code"] = normalize_tax_code(str(clean["tax_code"]))
        for text_field in ("street", "representative", "craft_village", "registration_number"):
            if clean.get(text_field):
                clean[text_field] = clean_text(str(clean[text_field]))
        system = UnitSystem(clean.get("unit_system") or UnitSystem.current)
        clean["unit_system"] = system.value
        chosen = clean.get("current_commune_code") if system is UnitSystem.legacy else None
        legacy, current, ambiguous = resolve_unit(units, system, str(clean.get("commune_code", "")), chosen)
        clean["succession_ambiguous"] = ambiguous
        if instance_province is not None and current.province.code != instance_province:
            raise OutsideProvinceError(
                f"Đơn vị {clean['commune_code']} ({current.name}) thuộc {current.province.name}, không thuộc "
                f"{label('province', instance_province)} của hệ thống này "
                "/ the unit is outside this instance's province",
                field="commune_code",
            )
        clean["province_code"] = legacy.province.code if legacy else current.province.code
        clean["current_commune_code"] = current.code
        clean["current_province_code"] = current.province.code
        clean["district_code"] = legacy.district_code if legacy else None
        for figure in ("employees", "capital_vnd", "revenue_vnd"):
            value = clean.get(figure)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise RegistryError(
                    f"{figure} phải là số nguyên không âm / must be a non-negative integer", field=figure
                )
        return clean

    # -- updates ---------------------------------------------------------------------------------
    def update(
        self,
        changes: dict[str, Any],
        *,
        units: AdminUnits,
        instance_province: str | None,
        actor: str,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """Apply the changed fields; the identity (tax / registration number) cannot change."""
        for fixed in ("tax_code", "registration_number"):
            if fixed in changes and changes[fixed] != self.details.get(fixed):
                raise RegistryError(
                    "Không được đổi mã số thuế/số đăng ký: đăng ký cơ sở mới / "
                    "the tax or registration number identifies the establishment and cannot change",
                    field=fixed,
                )
        merged = self.check_details(self.details | changes, units=units, instance_province=instance_province)
        diff = {k: v for k, v in merged.items() if self.details.get(k) != v}
        if diff:
            self._updated(changes=diff, details=merged, actor=actor, correlation_id=correlation_id)
        return diff

    @event(Updated)
    def _updated(
        self, changes: dict[str, Any], details: dict[str, Any], actor: str, correlation_id: str | None
    ) -> None:
        self.details = dict(details)

    # -- legal dossier ---------------------------------------------------------------------------
    def attach_document(
        self,
        *,
        kind: DocumentKind,
        sha256: str,
        size_bytes: int,
        media_type: str,
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        if sha256 in self.documents:
            raise DocumentError(
                "Tài liệu này đã có trong hồ sơ / this document is already in the dossier", field="file"
            )
        self._document_attached(
            kind=kind.value,
            sha256=sha256,
            size_bytes=size_bytes,
            media_type=media_type,
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(DocumentAttached)
    def _document_attached(
        self, kind: str, sha256: str, size_bytes: int, media_type: str, actor: str, correlation_id: str | None
    ) -> None:
        self.documents[sha256] = {
            "kind": kind,
            "sha256": sha256,
            "size_bytes": size_bytes,
            "media_type": media_type,
            "status": DocumentStatus.pending.value,
            "decided_by": None,
            "note": None,
        }

    def _pending_document(self, sha256: str) -> dict[str, Any]:
        document = self.documents.get(sha256)
        if document is None:
            raise DocumentError(f"Không có tài liệu {sha256[:12]}… trong hồ sơ / no such document", field="sha256")
        if document["status"] != DocumentStatus.pending.value:
            raise DocumentError(
                f"Tài liệu đã được xử lý («{label('document_status', document['status'])}») "
                "/ the document was already decided",
                field="sha256",
            )
        return document

    def verify_document(self, sha256: str, *, note: str | None, actor: str, correlation_id: str | None = None) -> None:
        document = self._pending_document(sha256)
        self._document_verified(
            sha256=sha256,
            kind=document["kind"],
            size_bytes=document["size_bytes"],
            note=note,
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(DocumentVerified)
    def _document_verified(
        self,
        sha256: str,
        kind: str,
        size_bytes: int,
        note: str | None,
        actor: str,
        correlation_id: str | None,
    ) -> None:
        self.documents[sha256] |= {"status": DocumentStatus.verified.value, "decided_by": actor, "note": note}

    def reject_document(self, sha256: str, *, reason: str, actor: str, correlation_id: str | None = None) -> None:
        document = self._pending_document(sha256)
        if not reason.strip():
            raise DocumentError("Cần nêu lý do từ chối / a reason is required", field="reason")
        self._document_rejected(
            sha256=sha256,
            kind=document["kind"],
            size_bytes=document["size_bytes"],
            reason=clean_text(reason),
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(DocumentRejected)
    def _document_rejected(
        self, sha256: str, kind: str, size_bytes: int, reason: str, actor: str, correlation_id: str | None
    ) -> None:
        self.documents[sha256] |= {
            "status": DocumentStatus.rejected.value,
            "decided_by": actor,
            "note": reason,
        }

    # -- recognitions ----------------------------------------------------------------------------
    def record_recognition(
        self,
        *,
        rules: RecognitionRules,
        recognition_id: str,
        scheme: Scheme,
        product_name: str,
        level: Level | None,
        stars: int | None,
        decision_number: str,
        decision_date: date,
        issuer: str,
        actor: str,
        correlation_id: str | None = None,
    ) -> Recognition:
        product = clean_text(product_name)
        if not product:
            raise RecognitionError("Cần tên sản phẩm / product name is required", field="product_name")
        if not decision_number.strip():
            raise RecognitionError("Cần số quyết định / decision number is required", field="decision_number")
        duplicate = any(
            r.decision_number == decision_number.strip() and r.product_name == product
            for r in self.recognitions.values()
        )
        if duplicate:
            raise RecognitionError(
                "Quyết định này đã được ghi nhận cho sản phẩm / this decision is already recorded",
                field="decision_number",
            )
        valid_to, rule = validity(
            rules,
            scheme=scheme,
            level=level,
            stars=stars,
            decision_date=decision_date,
            held=list(self.recognitions.values()),
            product_name=product,
        )
        recognition = Recognition(
            id=recognition_id,
            scheme=scheme,
            product_name=product,
            level=level if scheme is Scheme.typical_product else None,
            stars=stars if scheme is Scheme.ocop else None,
            decision_number=decision_number.strip(),
            decision_date=decision_date,
            issuer=clean_text(issuer),
            valid_from=decision_date,
            valid_to=valid_to,
            rule_version=rule,
        )
        self._recognition_recorded(
            recognition=recognition_to_dict(recognition), actor=actor, correlation_id=correlation_id
        )
        return recognition

    @event(RecognitionRecorded)
    def _recognition_recorded(self, recognition: dict[str, Any], actor: str, correlation_id: str | None) -> None:
        r = recognition_from_dict(recognition)
        self.recognitions[r.id] = r

    def revoke_recognition(
        self,
        recognition_id: str,
        *,
        revoked_on: date,
        reason: str,
        decision_number: str | None,
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        r = self.recognitions.get(recognition_id)
        if r is None:
            raise RecognitionError("Không có giấy chứng nhận này / no such recognition", field="recognition_id")
        if r.revoked_on is not None:
            raise RecognitionError("Giấy chứng nhận đã bị thu hồi / already revoked", field="recognition_id")
        if revoked_on < r.valid_from:
            raise RecognitionError(
                "Ngày thu hồi trước ngày cấp / revocation date is before the issue date", field="revoked_on"
            )
        if not reason.strip():
            raise RecognitionError("Cần nêu lý do thu hồi / a reason is required", field="reason")
        self._recognition_revoked(
            recognition_id=recognition_id,
            revoked_on=revoked_on,
            reason=clean_text(reason),
            decision_number=decision_number,
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(RecognitionRevoked)
    def _recognition_revoked(
        self,
        recognition_id: str,
        revoked_on: date,
        reason: str,
        decision_number: str | None,
        actor: str,
        correlation_id: str | None,
    ) -> None:
        r = self.recognitions[recognition_id]
        self.recognitions[recognition_id] = Recognition(
            **(r.__dict__ | {"revoked_on": revoked_on, "revoke_reason": reason})
        )

    def recognitions_valid_on(self, day: date) -> list[Recognition]:
        return [r for r in self.recognitions.values() if r.valid_on(day)]

    # -- support history (no double funding) -----------------------------------------------------
    def record_support(
        self,
        *,
        cost_item: str,
        amount_vnd: int,
        funding_source: str,
        year: int,
        reference: str,
        actor: str,
        correlation_id: str | None = None,
    ) -> None:
        if not isinstance(amount_vnd, int) or isinstance(amount_vnd, bool) or amount_vnd <= 0:
            raise RegistryError(
                "Số tiền phải là số nguyên VND dương / amount must be positive integer VND",
                field="amount_vnd",
            )
        item = clean_text(cost_item)
        if any(s["cost_item"].casefold() == item.casefold() and s["reference"] == reference for s in self.support):
            raise RegistryError("Khoản hỗ trợ này đã được ghi / this support is already recorded", field="reference")
        self._support_recorded(
            support={
                "cost_item": item,
                "amount_vnd": amount_vnd,
                "funding_source": funding_source,
                "year": year,
                "reference": clean_text(reference),
            },
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(SupportRecorded)
    def _support_recorded(self, support: dict[str, Any], actor: str, correlation_id: str | None) -> None:
        self.support.append(dict(support))

    def support_for(self, cost_item: str) -> list[dict[str, Any]]:
        return [s for s in self.support if s["cost_item"].casefold() == clean_text(cost_item).casefold()]


def recognition_to_dict(r: Recognition) -> dict[str, Any]:
    return {
        "id": r.id,
        "scheme": r.scheme.value,
        "product_name": r.product_name,
        "level": r.level.value if r.level else None,
        "stars": r.stars,
        "decision_number": r.decision_number,
        "decision_date": r.decision_date.isoformat(),
        "issuer": r.issuer,
        "valid_from": r.valid_from.isoformat(),
        "valid_to": r.valid_to.isoformat(),
        "rule_version": r.rule_version,
        "revoked_on": r.revoked_on.isoformat() if r.revoked_on else None,
        "revoke_reason": r.revoke_reason,
    }


def recognition_from_dict(d: dict[str, Any]) -> Recognition:
    return Recognition(
        id=d["id"],
        scheme=Scheme(d["scheme"]),
        product_name=d["product_name"],
        level=Level(d["level"]) if d.get("level") else None,
        stars=d.get("stars"),
        decision_number=d["decision_number"],
        decision_date=date.fromisoformat(d["decision_date"]),
        issuer=d["issuer"],
        valid_from=date.fromisoformat(d["valid_from"]),
        valid_to=date.fromisoformat(d["valid_to"]),
        rule_version=d["rule_version"],
        revoked_on=date.fromisoformat(d["revoked_on"]) if d.get("revoked_on") else None,
        revoke_reason=d.get("revoke_reason"),
    )
