"""Public events of the registry service (cơ sở công nghiệp nông thôn, hồ sơ pháp lý, công nhận).

Data minimisation (DOMAIN §2): the beneficiaries' legal documents stay in the province. Events say
only a document's kind, SHA-256, size and verification — never its bytes or file name. A 12-digit
personal identification number used as a household's tax code is not published either.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kc_contracts.base import ContractEvent, contract
from kc_contracts.limits import MAX_VND


class EligibilityPeriod(BaseModel):
    """From ``start`` to ``end`` (inclusive; null = open) the verdict is ``outcome``."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date | None = None
    outcome: str = Field(description="dat | khong_dat | chua_xac_dinh")
    rules: list[str] = Field(description="rule versions applied, e.g. eligibility.location@ND235/2025")


class PriorityAreaPeriod(BaseModel):
    """From ``start`` to ``end`` (inclusive; null = open) the production site is on an official list of
    priority areas (TT 46/2012 Art. 6.1) — a fact from the lists, never a tag the applicant declares."""

    model_config = ConfigDict(frozen=True)

    area: str = Field(description="vung_cao_bien_gioi_dtts | huyen_ngheo_30a | xa_nong_thon_moi | dbkk_nd108")
    start: date
    end: date | None = None
    rule: str = Field(description="The list and version, e.g. priority.list.huyen_ngheo_30a@NQ30a/2008")
    to_confirm: bool = Field(False, description="The list's text is not on record: it holds what was assumed")


class _EstablishmentFacts(ContractEvent):
    """Descriptive facts other instances may know (all optional: added after v1 was published)."""

    tax_code: str | None = Field(None, description="MST (10 or 13 digits); never a personal ID number")
    unit_system: str | None = Field(None, description="truoc_2025 | tu_2025: which unit list commune_code is from")
    current_commune_code: str | None = Field(None, description="Mã xã/phường/đặc khu from 1/7/2025")
    current_province_code: str | None = Field(None, description="Mã tỉnh from 1/7/2025 (34 provinces)")
    district_code: str | None = Field(None, description="Mã huyện before 1/7/2025 (historical)")
    sectors: list[str] | None = Field(None, description="Ngành nghề sản xuất (catalogue codes)")
    women_owned: bool | None = None
    ethnic_minority_owned: bool | None = None
    craft_village: str | None = Field(None, description="Làng nghề the establishment belongs to")
    cleaner_production: bool | None = None
    eligibility: list[EligibilityPeriod] | None = Field(
        None, description="Điều kiện thụ hưởng theo thời gian: the verdict per period, split at every rule change"
    )
    priority_areas: list[PriorityAreaPeriod] | None = Field(
        None, description="Địa bàn ưu tiên theo danh sách chính thức, theo thời gian (TT 46/2012 Art. 6.1)"
    )
    region: str | None = Field(None, description="Khu vực (TT 26/2014 Art. 3.1.c) of the province as recorded")


@contract
class EstablishmentRegisteredV1(_EstablishmentFacts):
    """A rural industrial establishment (cơ sở CNNT) was registered by a province."""

    type = "registry.establishment.registered"
    version = 1

    establishment_id: UUID
    name: str = Field(description="Tên cơ sở (UTF-8 NFC)")
    province_code: str = Field(description="Mã tỉnh as recorded, e.g. '40'")
    commune_code: str = Field(description="Mã xã/phường as recorded")
    legal_form: str = Field(description="Loại hình: doanh_nghiep_nho_va_vua, hop_tac_xa, ho_kinh_doanh ...")
    registered_at: datetime


@contract
class EstablishmentUpdatedV1(_EstablishmentFacts):
    """An establishment's details changed; carries the full current facts and which fields changed."""

    type = "registry.establishment.updated"
    version = 1

    establishment_id: UUID
    establishment_version: int
    changed_fields: list[str]
    name: str
    province_code: str
    commune_code: str
    legal_form: str
    updated_at: datetime


class _DocumentFact(ContractEvent):
    establishment_id: UUID
    document_kind: str = Field(description="giay_dang_ky_kinh_doanh | bao_cao_tai_chinh | khac")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=1)
    at: datetime


@contract
class DocumentAttachedV1(_DocumentFact):
    """A legal-dossier document was received by the Sở (the bytes stay in the province)."""

    type = "registry.establishment.document-attached"
    version = 1


@contract
class DocumentVerifiedV1(_DocumentFact):
    """A Sở officer verified a legal-dossier document."""

    type = "registry.establishment.document-verified"
    version = 1

    verified_by: str


@contract
class DocumentRejectedV1(_DocumentFact):
    """A Sở officer rejected a legal-dossier document, with the reason."""

    type = "registry.establishment.document-rejected"
    version = 1

    rejected_by: str
    reason: str


@contract
class RecognitionRecordedV1(ContractEvent):
    """A certificate was recorded: typical rural industrial product (level) or OCOP (stars)."""

    type = "registry.establishment.recognition-recorded"
    version = 1

    establishment_id: UUID
    recognition_id: str
    scheme: str = Field(description="san_pham_cnnt_tieu_bieu | ocop")
    level: str | None = Field(None, description="xa | huyen | tinh | khu_vuc | quoc_gia")
    stars: int | None = Field(None, ge=3, le=5)
    product_name: str
    decision_number: str
    decision_date: date
    issuer: str
    valid_from: date
    valid_to: date
    rule_version: str


@contract
class RecognitionRevokedV1(ContractEvent):
    """A certificate was revoked."""

    type = "registry.establishment.recognition-revoked"
    version = 1

    establishment_id: UUID
    recognition_id: str
    revoked_on: date
    reason: str
    decision_number: str | None = None


@contract
class SupportRecordedV1(ContractEvent):
    """State support received for a cost item (so a second funding of the same item is caught)."""

    type = "registry.establishment.support-recorded"
    version = 1

    establishment_id: UUID
    cost_item: str
    amount_vnd: int = Field(gt=0, le=MAX_VND, description="Integer VND")
    funding_source: str = Field(description="quoc_gia | dia_phuong | khac")
    year: int
    reference: str = Field(description="Đề án / decision the support came from")
