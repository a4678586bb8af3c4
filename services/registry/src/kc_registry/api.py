"""HTTP API of the registry (FastAPI). Thin: validate, call the application, shape the answer."""

from __future__ import annotations

import mimetypes
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from kc_contracts.limits import Count, EstablishmentVnd, PositiveVnd
from kc_kernel.units import UnitSystem
from kc_runtime.spreadsheets import MAX_UPLOAD_BYTES, check_upload_size
from kc_runtime.web.actor import actor_of
from kc_runtime.web.errors import problem, problem_responses, rules_dated_by
from kc_runtime.web.fields import Text50, Text100, Text200, Text300, Text500
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from kc_registry import imports, rulebook
from kc_registry.application import EstablishmentNotFoundError as NotFoundError
from kc_registry.application import RegistryApplication
from kc_registry.domain.establishment import (
    DocumentKind,
    DocumentStatus,
    Establishment,
    LegalForm,
    recognition_to_dict,
)
from kc_registry.domain.recognition import Level, Scheme
from kc_registry.projections.documents import DocumentQuery, DocumentsView
from kc_registry.projections.establishments import EstablishmentQuery, EstablishmentsView

CommuneCode = Annotated[str, Field(pattern=r"^\d{5}$", description="Mã xã/phường (5 chữ số)", examples=["17419"])]
Money = EstablishmentVnd


class EstablishmentFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: Text300 | None = Field(None, description="Địa chỉ (thôn, xóm, đường) của địa điểm sản xuất")
    sectors: list[str] = Field([], max_length=20, description="Mã ngành nghề (GET /rules: sector_labels)")
    employees: Count | None = Field(None, description="Số lao động")
    capital_vnd: Money | None = None
    revenue_vnd: Money | None = None
    women_owned: bool = Field(False, description="Chủ cơ sở là nữ")
    ethnic_minority_owned: bool = Field(False, description="Chủ cơ sở là người dân tộc thiểu số")
    craft_village: Text200 | None = Field(None, description="Làng nghề được công nhận")
    cleaner_production: bool = Field(False, description="Áp dụng sản xuất sạch hơn")
    phuong_converted_on: date | None = Field(None, description="Ngày phường được chuyển đổi từ xã (NĐ 45/2012)")
    representative: Text200 | None = None
    phone: str | None = Field(None, pattern=r"^\+?[0-9 .-]{6,20}$")
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)


class RegisterEstablishment(EstablishmentFields):
    name: Text300 = Field(description="Tên cơ sở", examples=["Cơ sở đúc đồng Đông Hà"])
    tax_code: str | None = Field(None, max_length=20, description="Mã số thuế (10, 10-3 hoặc 12 chữ số)")
    registration_number: Text50 | None = Field(None, description="Số đăng ký (khi không có MST)")
    legal_form: LegalForm
    unit_system: UnitSystem = Field(UnitSystem.current, description="Danh mục đơn vị của commune_code")
    commune_code: CommuneCode
    current_commune_code: CommuneCode | None = Field(
        None, description="Khi mã xã cũ bị chia về nhiều xã mới: xã mới nơi có địa điểm sản xuất"
    )


class UpdateEstablishment(EstablishmentFields):
    version: int = Field(ge=1, description="Phiên bản bạn đang sửa (khóa lạc quan)")
    name: Text300 | None = None
    legal_form: LegalForm | None = None
    unit_system: UnitSystem | None = None
    commune_code: CommuneCode | None = None
    current_commune_code: CommuneCode | None = None
    street: Text300 | None = None


class EstablishmentOut(BaseModel):
    id: UUID
    version: int
    details: dict[str, Any]
    documents: list[dict[str, Any]]
    recognitions: list[dict[str, Any]]
    support: list[dict[str, Any]]


class EstablishmentPage(BaseModel):
    total: int
    items: list[dict[str, Any]]


class DocumentPage(BaseModel):
    total: int
    items: list[dict[str, Any]]


class RecordRecognition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scheme: Scheme
    product_name: Text300
    level: Level | None = Field(None, description="Cấp (sản phẩm CNNT tiêu biểu)")
    stars: int | None = Field(None, ge=1, le=5, description="Hạng sao (OCOP)")
    decision_number: Text100
    decision_date: date
    issuer: Text300


class RevokeRecognition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revoked_on: date
    reason: Text500
    decision_number: Text100 | None = None


class DecideDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Text500 | None = None


class RejectDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text500


class RecordSupport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cost_item: Text200 = Field(description="Hạng mục chi (e.g. 'máy đúc áp lực')")
    amount_vnd: PositiveVnd
    funding_source: str = Field(pattern=r"^(quoc_gia|dia_phuong|khac)$")
    year: int = Field(ge=2000, le=2100)
    reference: Text200 = Field(description="Đề án / quyết định")


def out(e: Establishment) -> EstablishmentOut:
    return EstablishmentOut(
        id=e.id,
        version=e.version,
        details=e.details,
        documents=list(e.documents.values()),
        recognitions=[recognition_to_dict(r) for r in e.recognitions.values()],
        support=e.support,
    )


def router() -> APIRouter:
    api = APIRouter()
    errors = problem_responses(404, 409, 422)

    def app_of(request: Request) -> RegistryApplication:
        app: RegistryApplication = request.app.state.application
        return app

    @api.post(
        "/establishments",
        status_code=201,
        response_model=EstablishmentOut,
        tags=["establishments"],
        responses=errors,
        summary="Đăng ký cơ sở CNNT / register an establishment",
    )
    def register(
        body: RegisterEstablishment,
        request: Request,
    ) -> EstablishmentOut:
        details = body.model_dump(mode="json", exclude_none=True)
        return out(app_of(request).register(details, actor_of(request)))

    @api.get(
        "/establishments",
        response_model=EstablishmentPage,
        tags=["establishments"],
        summary="Tìm kiếm, lọc / search and filter (không dấu cũng tìm được)",
    )
    def search(
        request: Request,
        q: Annotated[str | None, Query(max_length=200, description="'dong thap' = 'Đồng Tháp'")] = None,
        province_code: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
        commune_code: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
        legal_form: LegalForm | None = None,
        sector: Annotated[str | None, Query(max_length=60)] = None,
        recognition: Scheme | None = None,
        valid_on: date | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> EstablishmentPage:
        view: EstablishmentsView = request.app.state.establishments
        total, items = view.search(
            EstablishmentQuery(
                q=q,
                province_code=province_code,
                commune_code=commune_code,
                legal_form=legal_form.value if legal_form else None,
                sector=sector,
                recognition=recognition.value if recognition else None,
                valid_on=valid_on,
                limit=limit,
                offset=offset,
            )
        )
        return EstablishmentPage(total=total, items=items)

    @api.get(
        "/establishments/{establishment_id}",
        response_model=EstablishmentOut,
        tags=["establishments"],
        responses=errors,
    )
    def get(establishment_id: UUID, request: Request) -> EstablishmentOut:
        return out(app_of(request).get(establishment_id))

    @api.patch(
        "/establishments/{establishment_id}",
        response_model=EstablishmentOut,
        tags=["establishments"],
        responses=errors,
        summary="Sửa thông tin (cần 'version' hiện tại; sai phiên bản → 409)",
    )
    def update(
        establishment_id: UUID,
        body: UpdateEstablishment,
        request: Request,
    ) -> EstablishmentOut:
        changes = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
        e, _ = app_of(request).update(establishment_id, changes, body.version, actor_of(request))
        return out(e)

    @api.get(
        "/establishments/{establishment_id}/history",
        tags=["establishments"],
        responses=errors,
        summary="Lịch sử: ai làm gì, khi nào / who did what, when",
    )
    def history(establishment_id: UUID, request: Request) -> list[dict[str, Any]]:
        app = app_of(request)
        app.get(establishment_id)
        return [
            {
                "version": e.originator_version,
                "event": type(e).__name__,
                "at": getattr(e, "timestamp", None),
                "actor": getattr(e, "actor", None),
                "correlation_id": getattr(e, "correlation_id", None),
            }
            for e in app.events.get(establishment_id)
        ]

    @api.get(
        "/establishments/{establishment_id}/eligibility",
        tags=["eligibility"],
        responses=errors,
        summary="Điều kiện thụ hưởng vào ngày 'on' / eligibility on a date, reason by reason",
    )
    def eligibility(establishment_id: UUID, request: Request, on: date | None = None) -> dict[str, Any]:
        day = on or date.today()
        with rules_dated_by("on"):
            verdict = app_of(request).eligibility(establishment_id, day)
        return {
            "establishment_id": str(establishment_id),
            "on": day.isoformat(),
            "outcome": verdict.outcome.value,
            "reasons": [r.__dict__ | {"outcome": r.outcome.value} for r in verdict.reasons],
        }

    @api.get(
        "/establishments/{establishment_id}/priority",
        tags=["eligibility"],
        responses=errors,
        summary="Ưu tiên xét chọn vào ngày 'on': địa bàn (danh sách chính thức), ngành nghề, công nhận, khu vực",
    )
    def priority(establishment_id: UUID, request: Request, on: date | None = None) -> dict[str, Any]:
        day = on or date.today()
        with rules_dated_by("on"):
            verdict = app_of(request).priority(establishment_id, day)
        return {
            "establishment_id": str(establishment_id),
            "on": day.isoformat(),
            "areas": verdict.areas,
            "sector_groups": verdict.sector_groups,
            "recognition": verdict.recognition,
            "region_as_recorded": verdict.region_as_recorded,
            "region_now": verdict.region_now,
            "rank": verdict.rank(),
            "criteria": [c.__dict__ for c in verdict.criteria],
        }

    @api.get(
        "/organisations/{key}",
        tags=["rules"],
        responses=errors,
        summary="Tên cơ quan vào ngày 'on' (tên thay đổi theo thời gian, ví dụ Cục năm 2025)",
    )
    def organisation(key: str, on: date | None = None) -> dict[str, Any]:
        found = rulebook.organisations().get(key)
        if found is None:
            raise NotFoundError(f"Không có cơ quan {key!r} / unknown organisation", field="key")
        day = on or date.today()
        with rules_dated_by("on"):
            version = found.on(day)
        return {
            "key": key,
            "on": day.isoformat(),
            "name": version.params.name,
            "rule": found.reference(day),
            "legal_basis": version.legal_basis,
        }

    # -- legal dossier ---------------------------------------------------------------------------
    @api.post(
        "/establishments/{establishment_id}/documents",
        status_code=201,
        tags=["documents"],
        responses=problem_responses(404, 409, 413, 422),
        summary="Nộp tài liệu hồ sơ pháp lý (lưu tại tỉnh, không gửi đi) / upload a dossier document",
    )
    async def attach(
        establishment_id: UUID,
        request: Request,
        kind: Annotated[DocumentKind, Form()],
        file: Annotated[UploadFile, File()],
    ) -> dict[str, Any]:
        app = app_of(request)
        data = await file.read(app.documents.max_bytes + 1)
        media_type = (file.content_type or "application/octet-stream")[:100]
        return app.attach_document(establishment_id, kind, data, media_type, actor_of(request))

    @api.get(
        "/documents",
        response_model=DocumentPage,
        tags=["documents"],
        summary="Tài liệu hồ sơ của mọi cơ sở theo trạng thái, cũ nhất trước (việc cần xác minh) / documents by status",
    )
    def documents_by_status(
        request: Request,
        status: Annotated[
            DocumentStatus | None, Query(description="cho_xac_minh (chờ xác minh), da_xac_minh, bi_tu_choi")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> DocumentPage:
        view: DocumentsView = request.app.state.documents
        total, items = view.search(DocumentQuery(status=status.value if status else None, limit=limit, offset=offset))
        return DocumentPage(total=total, items=items)

    @api.get("/establishments/{establishment_id}/documents", tags=["documents"], responses=errors)
    def documents(establishment_id: UUID, request: Request) -> list[dict[str, Any]]:
        return list(app_of(request).get(establishment_id).documents.values())

    @api.get(
        "/establishments/{establishment_id}/documents/{sha256}",
        tags=["documents"],
        responses=errors,
        response_class=Response,
        summary="Tải tài liệu (chỉ trong tỉnh) / download (province only)",
    )
    def document(establishment_id: UUID, sha256: str, request: Request) -> Response:
        meta, data = app_of(request).document_bytes(establishment_id, sha256)
        # an uploaded file is never rendered by the browser (an HTML "document" would run in this
        # origin): saved as an attachment, its type not sniffed, sandboxed if opened anyway
        extension = mimetypes.guess_extension(meta["media_type"]) or ""
        return Response(
            data,
            media_type=meta["media_type"],
            headers={
                "ETag": f'"{sha256}"',
                "Content-Disposition": f'attachment; filename="tai-lieu-{sha256[:12]}{extension}"',
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'",
            },
        )

    @api.post("/establishments/{establishment_id}/documents/{sha256}/verify", tags=["documents"], responses=errors)
    def verify(
        establishment_id: UUID,
        sha256: str,
        body: DecideDocument,
        request: Request,
    ) -> dict[str, Any]:
        return app_of(request).decide_document(
            establishment_id, sha256, verified=True, text=body.note, actor=actor_of(request)
        )

    @api.post("/establishments/{establishment_id}/documents/{sha256}/reject", tags=["documents"], responses=errors)
    def reject(
        establishment_id: UUID,
        sha256: str,
        body: RejectDocument,
        request: Request,
    ) -> dict[str, Any]:
        return app_of(request).decide_document(
            establishment_id, sha256, verified=False, text=body.reason, actor=actor_of(request)
        )

    # -- recognitions ----------------------------------------------------------------------------
    @api.post(
        "/establishments/{establishment_id}/recognitions",
        status_code=201,
        tags=["recognitions"],
        responses=errors,
        summary="Ghi nhận giấy chứng nhận (SP CNNT tiêu biểu, OCOP)",
    )
    def record_recognition(
        establishment_id: UUID,
        body: RecordRecognition,
        request: Request,
    ) -> dict[str, Any]:
        with rules_dated_by("decision_date"):
            r = app_of(request).record_recognition(
                establishment_id,
                scheme=body.scheme,
                product_name=body.product_name,
                level=body.level,
                stars=body.stars,
                decision_number=body.decision_number,
                decision_date=body.decision_date,
                issuer=body.issuer,
                actor=actor_of(request),
            )
        return recognition_to_dict(r)

    @api.get(
        "/establishments/{establishment_id}/recognitions",
        tags=["recognitions"],
        responses=errors,
        summary="Giấy chứng nhận; 'valid_on' chỉ lấy những giấy còn hiệu lực ngày đó",
    )
    def recognitions(establishment_id: UUID, request: Request, valid_on: date | None = None) -> list[dict[str, Any]]:
        e = app_of(request).get(establishment_id)
        held = e.recognitions_valid_on(valid_on) if valid_on else list(e.recognitions.values())
        return [recognition_to_dict(r) | {"valid_on": r.valid_on(valid_on or date.today())} for r in held]

    @api.post(
        "/establishments/{establishment_id}/recognitions/{recognition_id}/revoke",
        tags=["recognitions"],
        responses=errors,
    )
    def revoke(
        establishment_id: UUID,
        recognition_id: str,
        body: RevokeRecognition,
        request: Request,
    ) -> dict[str, Any]:
        r = app_of(request).revoke_recognition(
            establishment_id,
            recognition_id,
            revoked_on=body.revoked_on,
            reason=body.reason,
            decision_number=body.decision_number,
            actor=actor_of(request),
        )
        return recognition_to_dict(r)

    # -- support history -------------------------------------------------------------------------
    @api.post(
        "/establishments/{establishment_id}/support",
        status_code=201,
        tags=["support"],
        responses=errors,
        summary="Ghi nhận khoản hỗ trợ đã nhận (phát hiện hỗ trợ trùng)",
    )
    def record_support(
        establishment_id: UUID,
        body: RecordSupport,
        request: Request,
    ) -> list[dict[str, Any]]:
        e = app_of(request).record_support(establishment_id, **body.model_dump(), actor=actor_of(request))
        return e.support

    @api.get("/establishments/{establishment_id}/support", tags=["support"], responses=errors)
    def support(establishment_id: UUID, request: Request, cost_item: str | None = None) -> list[dict[str, Any]]:
        e = app_of(request).get(establishment_id)
        return e.support_for(cost_item) if cost_item else e.support

    # -- bulk import -----------------------------------------------------------------------------
    @api.post(
        "/imports/establishments",
        tags=["import"],
        responses=problem_responses(413, 422),
        summary="Nhập danh sách từ .xlsx/.csv: dry_run=true kiểm tra; dry_run=false ghi tất cả hoặc không gì",
    )
    async def import_establishments(
        request: Request,
        response: Response,
        file: Annotated[UploadFile, File()],
        dry_run: bool = True,
    ) -> Any:
        app = app_of(request)
        check_upload_size(file.size)  # before reading it into memory
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        # CPU and database work: off the event loop, so the service answers others meanwhile
        rows = await run_in_threadpool(
            imports.parse_rows, file.filename or "", data, rulebook.eligibility_rules().sector_labels
        )
        report = await run_in_threadpool(app.import_rows, rows, actor_of(request), apply=not dry_run)
        summary = {
            "rows": report.rows,
            "new": report.new,
            "existing": report.existing,
            "applied": report.applied,
        }
        if report.problems:
            return problem(
                422,
                "Dữ liệu không hợp lệ / Invalid input",
                f"{len(report.problems)} lỗi; không dòng nào được ghi / {len(report.problems)} problems; "
                "nothing was written",
                errors=[
                    {"row": p.row, "field": p.field, "message": p.message, "message_en": p.message_en}
                    for p in report.problems
                ],
                **summary,
            )
        if report.applied:
            response.status_code = 201
        return summary | {"establishment_ids": report.establishment_ids}

    @api.get(
        "/imports/establishments/template.xlsx",
        tags=["import"],
        response_class=Response,
        summary="Mẫu tệp .xlsx để nhập / the import template",
    )
    def import_template() -> Response:
        return Response(
            imports.template(),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": 'attachment; filename="mau-nhap-co-so-cnnt.xlsx"'},
        )

    @api.get("/rules", tags=["rules"], summary="Các quy định áp dụng theo thời gian / dated rules in use")
    def rules() -> dict[str, Any]:
        catalogue = rulebook.catalogue()
        data: dict[str, Any] = {group: [r.model_dump(mode="json") for r in sets] for group, sets in catalogue.items()}
        data["sector_labels"] = rulebook.eligibility_rules().sector_labels
        return data

    return api
