"""HTTP API of the planning service: plans, calendars, registrations, views, exports, rebuild."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from kc_contracts.limits import MAX_REGISTRATION_ITEMS, PlanVnd, PositiveVnd, Vnd
from kc_kernel.periods import FIRST_PLAN_YEAR, LAST_PLAN_YEAR, PlanYear
from kc_kernel.vocabulary import label
from kc_runtime.bus.rebuild import live_digest, rebuild
from kc_runtime.spreadsheets import MAX_UPLOAD_BYTES, check_upload_size
from kc_runtime.text import unit_key
from kc_runtime.web.actor import actor_of
from kc_runtime.web.errors import problem, problem_responses
from kc_runtime.web.fields import Text100, Text200, Text300, Text500
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from kc_planning import commands as c
from kc_planning import exports, opendata, reports
from kc_planning.application import NotFoundError, PlanningApplication
from kc_planning.domain.plan import PlanError
from kc_planning.projections.establishments import EstablishmentsView
from kc_planning.projections.programme import ProgrammeQueries, ProgrammeView, programme_sources
from kc_planning.projections.registrations import RegistrationQueries

Level = Annotated[str, Field(pattern=r"^(quoc_gia|dia_phuong)$")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CommuneCount(BaseModel):
    province_code: str
    commune_code: str
    establishments: int


class BudgetEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    envelope: dict[str, PlanVnd] = Field(max_length=10, description="VND by source: quoc_gia, dia_phuong …")
    decision_number: Text100


class DecisionBody(BaseModel):
    """A decision as signed; a request model adds what the decision decides."""

    model_config = ConfigDict(extra="forbid")
    decision_number: Text100
    decision_date: date
    signer: Text200

    def decision(self) -> c.Decision:
        return c.Decision(self.decision_number, self.decision_date, self.signer)

    def decided(self) -> dict[str, Any]:
        """The fields beside the decision, as the command names them."""
        return {k: getattr(self, k) for k in type(self).model_fields if k not in DecisionBody.model_fields}


class Approve(DecisionBody):
    amounts: dict[str, PositiveVnd] | None = Field(
        None, description="đề án id → VND; bỏ trống: mọi đề án chờ duyệt theo thứ tự ưu tiên"
    )


class Amend(DecisionBody):
    changes: dict[str, Vnd] = Field(description="đề án id → VND (0 = rút khỏi kế hoạch)")
    reason: Text500


class CalendarBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    registration_deadline: date
    dossier_deadline: date
    legal_basis: Text300
    reason: Text300 = "lập lịch"


class RegistrationItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Text300
    content: str | None = Field(None, pattern=r"^[1-9]$")
    support_vnd: Vnd = 0
    commune_code: str | None = Field(None, pattern=r"^\d{5}$")


class RegistrationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Level
    year: PlanYear
    registrant: Text200
    registrant_kind: str = Field("xa", pattern=r"^(xa|to_chuc_dich_vu|so_cong_thuong|don_vi_khac)$")
    items: list[RegistrationItem] = Field(min_length=1, max_length=MAX_REGISTRATION_ITEMS)
    filed_on: date
    extension: Text100 | None = Field(None, description="Số quyết định gia hạn (khi nộp muộn)")


class RegistrationDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: date = Field(description="Ngày quyết định")
    note: Text300 | None = Field(None, description="Ghi chú (khi chấp nhận)")


class RegistrationReturn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: date = Field(description="Ngày trả lại")
    reason: Text500 = Field(description="Lý do trả lại")


Milestone = Annotated[str, Field(pattern=r"^(registration_deadline|dossier_deadline|unit_registration_deadline)$")]


class ExtensionBody(DecisionBody):
    level: Level
    year: PlanYear
    milestone: Milestone = Field(description="Mốc được gia hạn")
    grantee: Text200 = Field(description="Đơn vị được gia hạn (tên)")
    grantee_instance: str | None = Field(
        None, pattern=r"^tinh-\d{2}$", description="Tỉnh được gia hạn (Cục gia hạn cho Sở Công Thương)"
    )
    new_deadline: date
    reason: Text500


class NationalRegistrationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: PlanYear
    filed_on: date
    extension: Text100 | None = Field(None, description="Số quyết định gia hạn của Cục (khi gửi muộn)")


def _deadline(d: Any) -> dict[str, Any]:
    return {"milestone": d.milestone, "on": d.on, "source": d.reference, "authority": d.authority}


def _years(year: int | None, year_from: int | None, year_to: int | None) -> tuple[int | None, int | None]:
    """One year, or a range of years (both ends included)."""
    if year is not None:
        if year_from is not None or year_to is not None:
            raise PlanError("Chọn một năm hoặc một khoảng năm / year or a range, not both", field="year")
        return year, year
    if year_from is not None and year_to is not None and year_from > year_to:
        raise PlanError(f"Từ năm {year_from} sau đến năm {year_to} / year_from after year_to", field="year_from")
    return year_from, year_to


def router() -> APIRouter:
    api = APIRouter()
    errors = problem_responses(404, 409, 422)

    def app_of(request: Request) -> PlanningApplication:
        app: PlanningApplication = request.app.state.application
        return app

    # -- walking skeleton view -----------------------------------------------------------------------
    @api.get("/views/establishments", response_model=list[CommuneCount], tags=["views"])
    def establishments_by_commune(
        request: Request,
        province_code: str | None = Query(None, pattern=r"^\d{2}$", description="Mã tỉnh"),
    ) -> list[CommuneCount]:
        view: EstablishmentsView = request.app.state.establishments
        return [CommuneCount(**row) for row in view.by_commune(province_code)]

    # -- plans ------------------------------------------------------------------------------------------
    @api.get("/plans/{level}/{year}", tags=["kế hoạch"], responses=errors)
    def plan(level: str, year: int, request: Request) -> dict[str, Any]:
        return app_of(request).plan(level, year).state()

    @api.put("/plans/{level}/{year}/envelope", tags=["kế hoạch"], responses=errors, summary="Dự toán theo nguồn")
    def envelope(level: str, year: int, body: BudgetEnvelope, request: Request) -> Any:
        return app_of(request).set_envelope(level, year, body.envelope, body.decision_number, actor_of(request)).state()

    @api.post(
        "/plans/{level}/{year}/approvals",
        tags=["kế hoạch"],
        responses=errors,
        summary="Phê duyệt kế hoạch (một đợt) → plan.approved.v1",
    )
    def approve(level: str, year: int, body: Approve, request: Request) -> Any:
        command = c.ApprovePlan(level=level, year=year, decision=body.decision(), **body.decided())
        return app_of(request).approve(command, actor_of(request)).state()

    @api.post(
        "/plans/{level}/{year}/amendments",
        tags=["kế hoạch"],
        responses=errors,
        summary="Điều chỉnh kế hoạch → plan.amended.v1",
    )
    def amend(level: str, year: int, body: Amend, request: Request) -> Any:
        command = c.AmendPlan(level=level, year=year, decision=body.decision(), **body.decided())
        return app_of(request).amend(command, actor_of(request)).state()

    @api.get(
        "/plans/{level}/{year}/export.xlsx",
        tags=["kế hoạch"],
        response_class=Response,
        responses=errors,
        summary="Xuất kế hoạch ra .xlsx (mẫu tổng hợp)",
    )
    def export_plan(level: str, year: int, request: Request) -> Response:
        state = app_of(request).plan(level, year).state()
        title = f"KẾ HOẠCH {label('plan_level', level).upper()} NĂM {year}"
        return _xlsx(exports.summary_sheet(title, exports.plan_rows(state)), f"ke-hoach-{level}-{year}.xlsx")

    @api.get(
        "/open-data/360giving/{level}/{year}",
        tags=["dữ liệu mở"],
        responses=errors,
        summary="Kế hoạch đã phê duyệt dạng 360Giving (JSON), kiểm tra theo lược đồ chuẩn",
    )
    def open_data(level: str, year: int, request: Request) -> dict[str, Any]:
        document = opendata.package(
            app_of(request).plan(level, year), published=datetime.now(UTC).isoformat(timespec="seconds")
        )
        errors_found = opendata.problems(document)
        if errors_found:  # never publish what the standard would reject
            raise PlanError(
                "Gói dữ liệu không hợp lệ theo 360Giving / invalid package: " + "; ".join(errors_found[:5]),
                field="open_data",
            )
        return document

    # -- calendars and registrations ----------------------------------------------------------------------
    @api.put(
        "/calendars/{level}/{year}",
        tags=["lịch kế hoạch"],
        responses=errors,
        summary="Lập hoặc sửa lịch kế hoạch (mỗi thay đổi là một sự kiện)",
    )
    def set_calendar(level: str, year: int, body: CalendarBody, request: Request) -> Any:
        cal = app_of(request).set_calendar(
            level,
            year,
            {"registration_deadline": body.registration_deadline, "dossier_deadline": body.dossier_deadline},
            legal_basis=body.legal_basis,
            reason=body.reason,
            actor=actor_of(request),
        )
        return {
            "reference": cal.reference,
            "milestones": cal.milestones,
            "history": cal.history,
            "legal_basis": cal.legal_basis,
        }

    @api.get("/calendars/{level}/{year}", tags=["lịch kế hoạch"], responses=errors)
    def get_calendar(level: str, year: int, request: Request, owner: str | None = None) -> Any:
        cal = app_of(request).calendar(level, year, owner=owner)
        return {
            "reference": cal.reference,
            "milestones": cal.milestones,
            "history": cal.history,
            "legal_basis": cal.legal_basis,
        }

    @api.post(
        "/registrations",
        status_code=201,
        tags=["đăng ký kế hoạch"],
        responses=errors,
        summary="Đăng ký kế hoạch (muộn hạn: cần quyết định gia hạn)",
    )
    def register(body: RegistrationBody, request: Request) -> Any:
        details = body.model_dump(mode="json", exclude={"filed_on", "extension"})
        reg = app_of(request).file_registration(
            details, filed_on=body.filed_on, extension=body.extension, actor=actor_of(request)
        )
        return reg.state()

    @api.post(
        "/registrations/import",
        tags=["đăng ký kế hoạch"],
        responses=problem_responses(422),
        summary="Nhập bản đăng ký từ .xlsx (Đơn vị đăng ký, Tên đề án, Nội dung, Kinh phí đề nghị, Mã xã)",
    )
    async def import_registrations(
        request: Request,
        file: Annotated[UploadFile, File()],
        level: Level,
        year: int,
        filed_on: date,
    ) -> Any:
        check_upload_size(file.size)  # before reading it into memory
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        grouped, problems = await run_in_threadpool(exports.read_registrations, data)  # off the event loop
        if problems:
            return problem(
                422,
                "Dữ liệu không hợp lệ / Invalid input",
                f"{len(problems)} dòng lỗi; không bản đăng ký nào được ghi / nothing was written",
                errors=problems,
            )
        app = app_of(request)
        deadline = app.registration_deadline(level, year)
        if filed_on > deadline.on:
            raise PlanError(f"Quá hạn đăng ký ({deadline.on:%d/%m/%Y}) / too late", field="filed_on")
        actor = actor_of(request)

        def file_all() -> list[str]:
            ids = []
            for registrant, items in grouped.items():
                reg = app.file_registration(
                    {
                        "level": level,
                        "year": year,
                        "registrant": registrant,
                        "registrant_kind": "xa",
                        "items": [{k: v for k, v in i.items() if k != "row"} for i in items],
                    },
                    filed_on=filed_on,
                    extension=None,
                    actor=actor,
                )
                ids.append(str(reg.id))
            return ids

        return {"registrations": await run_in_threadpool(file_all)}

    @api.get("/registrations", tags=["đăng ký kế hoạch"], summary="Danh sách đăng ký kế hoạch (Sở tổng hợp)")
    def registrations(
        request: Request,
        year: Annotated[int | None, Query(ge=FIRST_PLAN_YEAR, le=LAST_PLAN_YEAR)] = None,
        level: Annotated[str | None, Query(pattern=r"^(quoc_gia|dia_phuong)$")] = None,
        status: Annotated[str | None, Query(pattern=r"^(da_nop|da_chap_nhan|tra_lai)$")] = None,
        commune_code: Annotated[str | None, Query(pattern=r"^\d{5}$", description="Mã xã (cũ hoặc hiện nay)")] = None,
        unit: Annotated[str | None, Query(max_length=200, description="Đơn vị đăng ký (tên hoặc mã)")] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        actor = actor_of(request)
        key = actor.unit if actor.unit_bound else (unit_key(unit) if unit else None)
        if actor.unit_bound and not key:
            return {"total": 0, "items": []}
        queries: RegistrationQueries = request.app.state.registrations
        total, rows = queries.registrations(
            year=year, level=level, status=status, commune_code=commune_code, unit=key, offset=offset, limit=limit
        )
        return {"total": total, "items": rows}

    @api.get("/registrations/{registration_id}", tags=["đăng ký kế hoạch"], responses=errors)
    def registration(registration_id: UUID, request: Request) -> dict[str, Any]:
        reg = app_of(request).registration(registration_id)
        if not actor_of(request).reaches_unit(reg.details.get("unit")):
            raise NotFoundError("Không tìm thấy bản đăng ký / no such registration")
        return reg.state()

    @api.post(
        "/registrations/{registration_id}/accept",
        tags=["đăng ký kế hoạch"],
        responses=errors,
        summary="Sở chấp nhận bản đăng ký vào tổng hợp → registration.accepted.v1",
    )
    def accept_registration(registration_id: UUID, body: RegistrationDecision, request: Request) -> Any:
        app = app_of(request)
        return app.accept_registration(registration_id, on=body.on, note=body.note, actor=actor_of(request)).state()

    @api.post(
        "/registrations/{registration_id}/return",
        tags=["đăng ký kế hoạch"],
        responses=errors,
        summary="Sở trả lại bản đăng ký, nêu lý do → registration.returned.v1",
    )
    def return_registration(registration_id: UUID, body: RegistrationReturn, request: Request) -> Any:
        app = app_of(request)
        return app.return_registration(registration_id, on=body.on, reason=body.reason, actor=actor_of(request)).state()

    @api.get(
        "/deadlines/{level}/{year}",
        tags=["đăng ký kế hoạch"],
        responses=errors,
        summary="Các hạn áp dụng tại đơn vị này (nguồn: lịch đã công bố hoặc quy định mặc định)",
    )
    def deadlines(level: str, year: int, request: Request) -> dict[str, Any]:
        app = app_of(request)
        if level not in ("quoc_gia", "dia_phuong"):
            raise PlanError("Cấp kế hoạch: quoc_gia hoặc dia_phuong / unknown level", field="level")
        found = {"registration": _deadline(app.registration_deadline(level, year))}
        if level == "quoc_gia":
            for milestone in ("registration_deadline", "dossier_deadline"):
                found[milestone] = _deadline(app.national_deadline(year, milestone))
        return {"level": level, "year": year, "deadlines": found}

    @api.post(
        "/extensions",
        status_code=201,
        tags=["đăng ký kế hoạch"],
        responses=errors,
        summary="Ghi quyết định gia hạn của cơ quan quy định hạn (Sở: kế hoạch địa phương; Cục: quốc gia)",
    )
    def grant_extension(body: ExtensionBody, request: Request) -> Any:
        command = c.GrantExtension(decision=body.decision(), **body.decided())
        return app_of(request).grant_extension(command, actor_of(request)).state()

    @api.get("/extensions", tags=["đăng ký kế hoạch"], summary="Quyết định gia hạn đã ghi nhận (của đơn vị và của Cục)")
    def extensions(
        request: Request, year: Annotated[int | None, Query(ge=FIRST_PLAN_YEAR, le=LAST_PLAN_YEAR)] = None
    ) -> list[dict[str, Any]]:
        queries: RegistrationQueries = request.app.state.registrations
        return queries.granted_extensions(year=year)

    @api.post(
        "/national-registrations",
        status_code=201,
        tags=["đăng ký kế hoạch"],
        responses=errors,
        summary="Sở gửi đăng ký kế hoạch khuyến công quốc gia của tỉnh lên Cục → national-registration.filed.v1",
    )
    def file_national(body: NationalRegistrationBody, request: Request) -> Any:
        return (
            app_of(request)
            .file_national_registration(
                body.year, filed_on=body.filed_on, extension=body.extension, actor=actor_of(request)
            )
            .state()
        )

    @api.get(
        "/national-registrations",
        tags=["đăng ký kế hoạch"],
        summary="Đăng ký kế hoạch khuyến công quốc gia các tỉnh đã gửi (tại Bộ), theo tỉnh cũ và hiện nay",
    )
    def national_registrations(
        request: Request,
        year: Annotated[int | None, Query(ge=FIRST_PLAN_YEAR, le=LAST_PLAN_YEAR)] = None,
        province_code: str | None = Query(None, pattern=r"^\d{2}$", description="Mã tỉnh (cũ hoặc hiện nay)"),
    ) -> dict[str, Any]:
        queries: RegistrationQueries = request.app.state.registrations
        return {
            "filings": queries.national_filings(year=year, province=province_code),
            "summary": queries.national(year=year) if province_code is None else None,
        }

    @api.get(
        "/national-registrations/{year}",
        tags=["đăng ký kế hoạch"],
        responses=errors,
        summary="Đăng ký kế hoạch khuyến công quốc gia của tỉnh này (các lần gửi)",
    )
    def own_national_registration(year: int, request: Request) -> dict[str, Any]:
        return app_of(request).national_registration(year).state()

    # -- views ------------------------------------------------------------------------------------------
    def view_rows(
        request: Request, year: int | None, province: str | None, level: str | None, as_of: datetime | None
    ) -> list[dict[str, Any]]:
        queries: ProgrammeQueries = request.app.state.programme
        if as_of is None:
            return queries.rows(year=year, province=province, level=level)
        raise PlanError("as_of: dùng GET /views/as-of / use the as-of endpoint", field="as_of")

    @api.get("/views/province", tags=["views"], summary="Báo cáo tỉnh: theo xã, huyện cũ, nội dung, nguồn, trạng thái")
    def provincial(
        request: Request,
        year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        province_code: str | None = Query(None, pattern=r"^\d{2}$", description="Mã tỉnh"),
    ) -> dict[str, Any]:
        queries: ProgrammeQueries = request.app.state.programme
        records: RegistrationQueries = request.app.state.registrations
        return queries.provincial(queries.rows(year=year, province=province_code)) | {
            "registrations": records.provincial(year=year)
        }

    @api.get(
        "/views/national",
        tags=["views"],
        summary="Báo cáo toàn quốc: theo tỉnh (cũ và sau sáp nhập), vùng, nội dung; chỉ tiêu chương trình",
    )
    def national(
        request: Request,
        year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        level: str | None = None,
        year_from: Annotated[int | None, Query(ge=1990, le=2100, description="Từ năm kế hoạch")] = None,
        year_to: Annotated[int | None, Query(ge=1990, le=2100, description="Đến năm kế hoạch")] = None,
    ) -> dict[str, Any]:
        queries: ProgrammeQueries = request.app.state.programme
        records: RegistrationQueries = request.app.state.registrations
        first, last = _years(year, year_from, year_to)
        rows = queries.rows(level=level, year_from=first, year_to=last)
        products = request.app.state.recognitions.products(year_from=first, year_to=last)
        return queries.national(rows, products=products) | {"registrations": records.national(year=year)}

    @api.get(
        "/views/indicators",
        tags=["views"],
        summary="Chỉ tiêu chương trình theo tỉnh và khoảng năm (cơ sở được hỗ trợ tính từ cơ sở thụ hưởng, "
        "sản phẩm tiêu biểu khu vực / quốc gia tính từ giấy chứng nhận)",
    )
    def indicators_view(
        request: Request,
        year_from: Annotated[int, Query(ge=1990, le=2100, description="Từ năm kế hoạch")],
        year_to: Annotated[int, Query(ge=1990, le=2100, description="Đến năm kế hoạch")],
        province_code: str | None = Query(None, pattern=r"^\d{2}$", description="Mã tỉnh (hiện nay)"),
    ) -> dict[str, Any]:
        first, last = _years(None, year_from, year_to)
        queries: ProgrammeQueries = request.app.state.programme
        rows = queries.rows(province=province_code, year_from=first, year_to=last)
        products = request.app.state.recognitions.products(year_from=first, year_to=last, province=province_code)
        return {
            "year_from": first,
            "year_to": last,
            "by_province": queries.indicators_by_province(rows, products),
            "totals": queries.national(rows, products=products)["indicators"],
        }

    @api.get("/views/as-of", tags=["views"], summary="Báo cáo tại một thời điểm trong quá khứ (dựng lại từ nhật ký)")
    async def as_of(
        request: Request, at: datetime, year: Annotated[int | None, Query(ge=1990, le=2100)] = None
    ) -> dict[str, Any]:
        runtime = request.app.state.runtime
        store = request.app.state.views
        moment = at if at.tzinfo else at.replace(tzinfo=UTC)
        report = await rebuild(
            ProgrammeView(),
            store,
            runtime.settings.nats_servers,
            programme_sources(runtime.settings.instance, runtime.settings.peers),
            until=moment,
            swap=False,
            trust=runtime.trust,
        )
        queries: ProgrammeQueries = request.app.state.programme
        try:
            rows = queries.rows(year=year, table=report.tables["programme"])
            national_then = queries.national(rows, supported_table=report.tables["supported"])
        finally:
            with store.transaction() as cur:
                for table in report.tables.values():
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
        return {
            "as_of": moment.isoformat(),
            "events": report.events,
            "digest": report.digest,
            "national": national_then,
            "province": queries.provincial(rows),
        }

    @api.get("/views/export.xlsx", tags=["views"], response_class=Response, summary="Xuất báo cáo ra .xlsx")
    def export_view(
        request: Request,
        year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        province_code: str | None = Query(None, pattern=r"^\d{2}$", description="Mã tỉnh"),
    ) -> Response:
        queries: ProgrammeQueries = request.app.state.programme
        rows = queries.rows(year=year, province=province_code)
        title = f"TỔNG HỢP ĐỀ ÁN KHUYẾN CÔNG{f' NĂM {year}' if year else ''}" + (
            f" — {label('province', province_code).upper()}" if province_code else ""
        )
        return _xlsx(exports.summary_sheet(title, rows), "bao-cao-khuyen-cong.xlsx")

    # -- the official report forms (issue 15 item 9) -----------------------------------------------------
    @api.get("/reports", tags=["báo cáo"], summary="Các báo cáo theo mẫu: loại, kỳ, định dạng")
    def report_forms(request: Request) -> dict[str, Any]:
        return {
            "reports": [{"code": k, "label": v} for k, v in reports.KINDS.items()],
            "periods": [{"code": k, "label": v["label"]} for k, v in reports.periods().items()],
            "formats": sorted(reports.FORMATS),
            "years": {"from": FIRST_PLAN_YEAR, "to": LAST_PLAN_YEAR},
            "forms": [
                {"version": v.version, "from": v.effective_from, "to": v.effective_to, "legal_basis": v.legal_basis}
                | v.params.model_dump()
                for v in reports.forms().versions
            ],
        }

    @api.get(
        "/reports/{report}",
        tags=["báo cáo"],
        response_class=Response,
        responses=problem_responses(404, 422),
        summary="Báo cáo theo mẫu (.xlsx hoặc PDF): tình hình thực hiện (tinh-hinh-thuc-hien) hoặc bảng tổng "
        "hợp quyết toán (quyet-toan), theo kỳ 6 tháng hoặc cả năm",
    )
    def official_report(
        report: str,
        request: Request,
        year: Annotated[int, Query(description="Năm kế hoạch")],
        period: Annotated[str, Query(max_length=40, description="Kỳ báo cáo: 6-thang, ca-nam")] = "ca-nam",
        format: Annotated[str, Query(max_length=10, description="Định dạng: xlsx, pdf")] = "xlsx",
        province_code: str | None = Query(None, pattern=r"^\d{2}$", description="Mã tỉnh (tại Bộ)"),
    ) -> Response:
        if report not in reports.KINDS:
            raise NotFoundError(
                f"Không có báo cáo «{report}»; có: "
                + ", ".join(f"«{v}» ({k})" for k, v in reports.KINDS.items())
                + " / unknown report"
            )
        if format not in reports.FORMATS:
            raise PlanError(f"Định dạng «{format}» không có; chọn xlsx hoặc pdf / unknown format", field="format")
        p = reports.period(period, year)
        instance = request.app.state.runtime.settings.instance
        queries: ProgrammeQueries = request.app.state.programme
        rows = queries.rows(year=year, province=province_code)
        if instance != "bo":  # a province reports its own đề án
            rows = [r for r in rows if r["instance"] == instance]
        names = request.app.state.establishments.names()
        build = reports.progress_report if report == "tinh-hinh-thuc-hien" else reports.settlement_table
        made = build(rows, names, instance=instance, p=p)
        data = reports.to_xlsx(made) if format == "xlsx" else reports.to_pdf(made)
        return Response(
            data,
            media_type=XLSX if format == "xlsx" else "application/pdf",
            headers={
                "Content-Disposition": reports.content_disposition(made.filename, format),
                "X-Rule-Versions": ", ".join(made.rule_versions),
                "X-Content-Type-Options": "nosniff",
            },
        )

    @api.get("/views/digest", tags=["views"], summary="Mã băm của báo cáo đang dùng (so với bản dựng lại)")
    def digest(request: Request) -> dict[str, str]:
        return {"digest": live_digest(request.app.state.views, ProgrammeView())}

    @api.post("/views/rebuild", tags=["views"], summary="Dựng lại báo cáo từ nhật ký sự kiện, thay thế nguyên tử")
    async def rebuild_views(request: Request) -> dict[str, Any]:
        runtime = request.app.state.runtime
        report = await rebuild(
            ProgrammeView(),
            request.app.state.views,
            runtime.settings.nats_servers,
            programme_sources(runtime.settings.instance, runtime.settings.peers),
            trust=runtime.trust,
        )
        return {
            "events": report.events,
            "skipped": report.skipped,
            "seconds": round(report.seconds, 3),
            "events_per_second": round(report.events_per_second),
            "digest": report.digest,
            "live_digest": live_digest(request.app.state.views, ProgrammeView()),
        }

    return api


def _xlsx(data: bytes, filename: str) -> Response:
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
