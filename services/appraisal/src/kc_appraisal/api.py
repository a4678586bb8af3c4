"""HTTP API of the appraisal service: one endpoint per command, the đề án, its timeline and past states.

A handler decodes the body into the use case's command, calls the application method of the same
name and answers the đề án's state. Every command body may carry ``version`` (the version the caller
saw): a stale one is a 409. A đề án is approved by a plan decision, through one use case
(``approve_in_plan``): from planning on the bus, or — ``POST /de-an/{id}/approve`` — a decision
taken outside the system, recorded by the approving authority.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from kc_contracts.limits import MAX_BUDGET_LINES, Batch, Count, FreeForm, PositiveVnd, Vnd, totals_within
from kc_contracts.subjects import Instance
from kc_kernel.periods import PlanYear, ReportMonth
from kc_runtime.web.actor import actor_of
from kc_runtime.web.errors import problem_responses, rules_dated_by
from kc_runtime.web.fields import Text50, Text100, Text200, Text300, Text500
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kc_appraisal import commands as c
from kc_appraisal.application import AppraisalApplication
from kc_appraisal.domain.de_an import AppraisalMode, Conclusion, DeAnType, Level
from kc_appraisal.domain.de_an import Member as CouncilMember
from kc_appraisal.use_case import DeAnNotFoundError


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(None, ge=1, description="Phiên bản đề án bạn thấy (khóa lạc quan)")


class BudgetLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cost_item: Text200 = Field(description="Hạng mục chi")
    support_item: Text100 = Field(
        description="Mục trong bảng mức hỗ trợ đang có hiệu lực (GET /rules); mỗi mục có mức tối đa"
    )
    content: Text50 | None = Field(None, description="Nội dung hoạt động (1–9)")
    total_cost_vnd: Vnd
    support_requested_vnd: Vnd
    counterpart_vnd: Vnd = 0
    other_vnd: Vnd = 0
    unit_ref: Text200 | None = Field(
        None,
        description="Đơn vị tính mức tối đa mà dòng này thuộc về: mã cơ sở thụ hưởng (mục tính theo cơ sở), "
        "hoặc tên mô hình, lớp, hội chợ… (mặc định: một đơn vị cho cả đề án)",
    )


BudgetLines = Annotated[
    list[BudgetLine],
    Field(max_length=MAX_BUDGET_LINES),
    totals_within("total_cost_vnd", "support_requested_vnd", "counterpart_vnd", "other_vnd"),
]


class DeAnFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objectives: Text500 | None = None
    commune_code: str | None = Field(None, pattern=r"^\d{5}$")
    coordinating_units: list[Text200] = []
    beneficiary_ids: list[UUID] = Field([], max_length=200)
    start_on: date | None = None
    end_on: date | None = None
    expected_outputs: dict[str, Count] = Field(
        {}, max_length=50, description="hoc_vien, may_moc, mo_hinh, luot_hoi_cho …"
    )
    priority_areas: list[str] = Field(
        [],
        description="Không khai: địa bàn ưu tiên lấy từ danh sách chính thức của sổ đăng ký cho nơi sản xuất "
        "của cơ sở thụ hưởng / not typed: from the registry's official lists",
    )

    @field_validator("priority_areas")
    @classmethod
    def _areas_from_the_lists(cls, value: list[str]) -> list[str]:
        if value:
            raise ValueError(
                "Địa bàn ưu tiên không do đơn vị khai: hệ thống xét theo danh sách chính thức (TT 46/2012 Điều "
                "6.1) mà sổ đăng ký công bố cho nơi sản xuất của cơ sở thụ hưởng / priority areas are not typed: "
                "they come from the official lists the registry publishes for the beneficiaries' sites"
            )
        return value


class DraftDeAn(DeAnFields):
    code: Text50 = Field(examples=["KCĐP-40-2024-07"], description="Mã đề án, duy nhất trong hệ thống của tỉnh")
    title: Text300
    level: Level
    de_an_type: DeAnType
    plan_year: PlanYear
    province_code: str | None = Field(None, pattern=r"^\d{2}$", description="Mặc định: tỉnh của hệ thống")
    implementing_unit: Text200
    unit: str | None = Field(
        None,
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
        max_length=100,
        description="Mã đơn vị thực hiện (mặc định: tên đơn vị không dấu, nối bằng '-'; "
        "mã truy cập của đơn vị thực hiện: đơn vị của mã)",
    )
    activity_contents: list[str] = Field(min_length=1)
    budget_lines: BudgetLines = []


class EditDeAn(DeAnFields, Command):
    title: Text300 | None = None
    implementing_unit: Text200 | None = None
    activity_contents: list[str] | None = None
    budget_lines: BudgetLines | None = None


class Submit(Command):
    submitted_on: date


class Extend(Command):
    decision_number: Text100
    decided_on: date
    new_deadline: date


class Reason(Command):
    reason: Text500


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text200
    role: Text100 | None = None
    opinion: Conclusion | None = None
    conflict_declared: bool = False
    declaration_signed: bool = False


class Appraise(Command):
    mode: AppraisalMode
    members: list[Member] = []
    conclusion: Conclusion
    recommended_support_vnd: Vnd
    appraised_on: date
    field_visit: FreeForm | None = Field(None, description="Thẩm định thực tế: {on, place, team}")
    notes: Text500 | None = None
    council_id: UUID | None = Field(
        None,
        description="Hội đồng thẩm định có biên bản cho đề án này: thành viên, ý kiến và kết luận lấy từ biên bản",
    )


class OnDate(Command):
    on: date


class Approve(Command):
    plan_id: Text100 = Field("thu-cong", description="Kế hoạch (mặc định: quyết định ngoài hệ thống)")
    plan_decision: Text100
    batch: Batch = 1
    decided_on: date
    approved_support_vnd: Vnd


class Contract(Command):
    contract_number: Text100
    signed_on: date
    contracted_support_vnd: Vnd


class Progress(Command):
    month: ReportMonth
    percent: int = Field(ge=0, le=100)
    note: Text500 | None = None


class Advance(Command):
    amount_vnd: PositiveVnd
    paid_on: date


class RequestAdjustment(Command):
    change_type: str = Field(description="tang_kinh_phi, giam_kinh_phi, gia_han_sang_nam_sau, ngung_thuc_hien …")
    description: Text500
    changes: FreeForm = {}
    requested_on: date


class DecideAdjustment(Command):
    approved: bool
    authority: str | None = Field(
        None,
        pattern=r"^(bo_truong|cuc|so_cong_thuong|ubnd_tinh)$",
        description="Cấp quyết định (mặc định: thẩm quyền mà đề nghị cần; phải là thẩm quyền vai trò của bạn nắm giữ)",
    )
    decision_number: Text100
    decided_on: date


class Accept(Command):
    accepted_on: date
    outputs: dict[str, Count] = Field({}, max_length=50)
    report: Text500 | None = None
    accepted_support_vnd: Vnd | None = Field(
        None, description="Giá trị hỗ trợ được nghiệm thu (mặc định: kinh phí hợp đồng)"
    )


class Settle(Command):
    settled_on: date
    dossier_on: date
    settled_support_vnd: Vnd


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: Text100 = Field(description="Tên đăng nhập của người đó (chủ thể của mã truy cập khi đăng nhập)")
    name: Text200
    title: Text200 | None = None
    organisation: Text200 | None = None


Subject = Annotated[str, Field(min_length=1, max_length=100, description="Tên đăng nhập trong danh sách")]


class FoundCouncil(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text300 = Field(examples=["Hội đồng thẩm định đề án khuyến công địa phương năm 2024"])
    stage: str = Field("co_so", pattern=r"^(co_so|cap_bo)$", description="co_so: thẩm định cấp cơ sở; cap_bo")
    decision_number: Text100 = Field(description="Số quyết định thành lập")
    decided_on: date
    signer: Text200 = Field(description="Người ký quyết định")
    chair: Subject
    secretary: Subject
    members: list[Subject] = Field(max_length=30, description="Ủy viên (từ danh sách)")
    de_an_ids: list[UUID] = Field(min_length=1, max_length=200)
    scoresheet: str | None = Field(None, pattern=r"^[a-z_]+$", description="Phiếu chấm điểm (nếu có)")


class Declaration(Command):
    de_an_id: UUID
    conflict: bool = Field(description="Có xung đột lợi ích với đề án (khi đó không cho ý kiến)")
    signed_on: date
    note: Text500 | None = None


class Opinion(Command):
    de_an_id: UUID
    conclusion: Conclusion
    given_on: date
    score: int | None = Field(None, ge=0, le=1000, description="Điểm (hội đồng có phiếu chấm điểm)")
    comment: Text500 | None = None


class Minutes(Command):
    de_an_id: UUID
    number: Text100 = Field(description="Số biên bản")
    held_on: date
    absent: list[Subject] = Field([], max_length=30, description="Thành viên vắng mặt")


class Visit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    de_an_id: UUID
    on: date
    place: Text300
    establishment_id: UUID | None = None


class ScheduleTrip(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text300 = Field(examples=["Đoàn thẩm định thực tế tại cơ sở, tháng 3/2024"])
    decision_number: Text100
    starts_on: date
    ends_on: date
    team: list[Text200] = Field(min_length=1, max_length=30)
    visits: list[Visit] = Field(min_length=1, max_length=200)


class Findings(Command):
    visit: int = Field(ge=0, le=1000, description="Số thứ tự lần thăm (0: lần đầu theo lịch)")
    findings: Text500
    outcome: str = Field(pattern=r"^(dat|can_bo_sung|khong_dat)$")
    recorded_on: date


@dataclass(frozen=True)
class Route:
    """``POST /de-an/{id}/<path>``: the body becomes the command, the application's method of the
    same name runs it, the answer is the đề án's state."""

    path: str
    use_case: str  # the application's method
    body: type[Command]
    command: type[Any]
    tag: str
    summary: str
    renamed: Mapping[str, str] = field(default_factory=dict)  # body field → command field
    dated_by: str | None = None  # the rules as of this body field's day: none in force names it

    def to_command(self, body: Command) -> Any:
        dumped = body.model_dump(exclude={"version"})
        values = {self.renamed.get(k, k): v for k, v in dumped.items() if v is not None}
        if "members" in values:
            values["members"] = tuple(CouncilMember(**m) for m in values["members"])
        if "council_id" in values:
            values["council_id"] = str(values["council_id"])
        return self.command(**values)


ROUTES = [
    Route("submission-extension", "extend_submission", Extend, c.ExtendSubmission, "hồ sơ",
          "Ghi quyết định gia hạn nộp hồ sơ"),
    Route("submit", "submit", Submit, c.Submit, "hồ sơ", "Nộp hồ sơ (kiểm tra hạn nộp, cơ sở thụ hưởng, mức hỗ trợ)",
          dated_by="submitted_on"),
    Route("return", "return_for_supplement", Reason, c.ReturnForSupplement, "hồ sơ", "Trả lại để bổ sung"),
    Route("base-appraisal", "record_base_appraisal", Appraise, c.RecordBaseAppraisal, "thẩm định",
          "Thẩm định cấp cơ sở (Sở Công Thương)"),
    Route("ministry-appraisal", "record_ministry_appraisal", Appraise, c.RecordMinistryAppraisal, "thẩm định",
          "Thẩm định cấp Bộ"),
    Route("forward", "forward", OnDate, c.Forward, "thẩm định", "Gửi Bộ (đề án quốc gia)", {"on": "forwarded_on"}),
    Route("propose", "propose", OnDate, c.Propose, "kế hoạch", "Đề xuất vào kế hoạch", {"on": "proposed_on"}),
    Route("not-funded", "mark_not_funded", Reason, c.MarkNotFunded, "kế hoạch", "Không bố trí kinh phí"),
    Route("contract", "sign_contract", Contract, c.SignContract, "thực hiện", "Ký hợp đồng"),
    Route("progress", "report_progress", Progress, c.ReportProgress, "thực hiện", "Báo cáo tiến độ tháng"),
    Route("advances", "record_advance", Advance, c.RecordAdvance, "thực hiện", "Tạm ứng"),
    Route("adjustments", "request_adjustment", RequestAdjustment, c.RequestAdjustment, "điều chỉnh",
          "Đề nghị điều chỉnh (thẩm quyền theo quy định)"),
    Route("adjustments/decision", "decide_adjustment", DecideAdjustment, c.DecideAdjustment, "điều chỉnh",
          "Quyết định điều chỉnh (đúng thẩm quyền)"),
    Route("complete", "complete", OnDate, c.Complete, "thực hiện", "Hoàn thành", {"on": "completed_on"}),
    Route("acceptance", "accept", Accept, c.Accept, "nghiệm thu", "Nghiệm thu"),
    Route("settlement", "settle", Settle, c.Settle, "quyết toán", "Quyết toán"),
    Route("close", "close_de_an", OnDate, c.Close, "quyết toán", "Đóng đề án", {"on": "closed_on"}),
]  # fmt: skip

# the ministry's decisions on a province's national đề án, on the ministry's instance:
# ``POST /national-de-an/{instance}/{de_an_id}/<path>`` → ``AppraisalApplication.national_<use case>``
NATIONAL_ROUTES = [
    Route("ministry-appraisal", "national_record_ministry_appraisal", Appraise, c.RecordMinistryAppraisal,
          "đề án quốc gia (Bộ)", "Thẩm định cấp Bộ (Cục), gửi tỉnh qua sự kiện"),
    Route("contract", "national_sign_contract", Contract, c.SignContract, "đề án quốc gia (Bộ)",
          "Ký hợp đồng (Cục), gửi tỉnh qua sự kiện"),
    Route("adjustments/decision", "national_decide_adjustment", DecideAdjustment, c.DecideAdjustment,
          "đề án quốc gia (Bộ)", "Quyết định điều chỉnh (Bộ trưởng hoặc Cục, theo thẩm quyền), gửi tỉnh qua sự kiện"),
    Route("settlement", "national_settle", Settle, c.Settle, "đề án quốc gia (Bộ)",
          "Quyết toán (Cục), gửi tỉnh qua sự kiện"),
]  # fmt: skip


def router() -> APIRouter:
    api = APIRouter()
    errors = problem_responses(404, 409, 422)

    def app_of(request: Request) -> AppraisalApplication:
        app: AppraisalApplication = request.app.state.application
        return app

    def register(route: Route, path: str, handler: Callable[..., dict[str, Any]]) -> None:
        """A use case's route: its body model, name (the use case's), tag and summary from ``route``."""
        handler.__annotations__["body"] = route.body
        api.add_api_route(
            path,
            handler,
            methods=["POST"],
            name=route.use_case,
            tags=[route.tag],
            responses=errors,
            summary=route.summary,
        )

    def add(route: Route) -> None:
        def handler(de_an_id: UUID, body: Any, request: Request) -> dict[str, Any]:
            run = getattr(app_of(request), route.use_case)
            with rules_dated_by(route.dated_by) if route.dated_by else nullcontext():
                return run(de_an_id, route.to_command(body), actor_of(request), body.version).state()  # type: ignore[no-any-return]

        register(route, f"/de-an/{{de_an_id}}/{route.path}", handler)

    @api.post("/de-an", status_code=201, tags=["đề án"], responses=errors, summary="Tạo dự thảo đề án / draft")
    def draft(body: DraftDeAn, request: Request) -> dict[str, Any]:
        details = body.model_dump(mode="json", exclude_none=True)
        return app_of(request).draft(c.DraftDeAn(details), actor_of(request)).state()

    @api.get("/de-an", tags=["đề án"], summary="Danh sách, lọc / list")
    def list_de_an(
        request: Request,
        q: Annotated[str | None, Query(max_length=200)] = None,
        status: str | None = None,
        plan_year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        level: Level | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> dict[str, Any]:
        query = c.ListQuery(q, status, plan_year, level.value if level else None, limit, offset)
        total, items = app_of(request).list_de_an(query, actor_of(request))
        return {"total": total, "items": items}

    @api.get(
        "/public/de-an",
        tags=["tra cứu"],
        responses=problem_responses(404, 422),
        summary="Tra cứu công khai theo mã đề án: trạng thái, không có thông tin cá nhân / public status by code",
    )
    def public_status(code: Annotated[str, Query(min_length=1, max_length=50)], request: Request) -> dict[str, Any]:
        return app_of(request).public_status(code).as_json()

    @api.get(
        "/de-an/{de_an_id}",
        tags=["đề án"],
        responses=errors,
        summary="Đề án (as_of: trạng thái tại một thời điểm / state as of a past date)",
    )
    def get(de_an_id: UUID, request: Request, as_of: datetime | date | None = None) -> dict[str, Any]:
        app, actor = app_of(request), actor_of(request)
        if as_of is None:
            de_an = app.get(de_an_id, actor=actor)
            # what of the allowed actions the ministry records on its own instance (not here, on a province)
            return de_an.state() | {"ministry_actions": de_an.ministry_actions()}
        moment = as_of if isinstance(as_of, datetime) else datetime.combine(as_of, time.max, UTC)
        return app.as_of(de_an_id, moment if moment.tzinfo else moment.replace(tzinfo=UTC), actor=actor).state()

    @api.get(
        "/de-an/{de_an_id}/timeline",
        tags=["đề án"],
        responses=errors,
        summary="Lịch sử: ai, làm gì, khi nào, theo quy định nào / who, what, when, which rule",
    )
    def timeline(de_an_id: UUID, request: Request) -> list[dict[str, Any]]:
        return app_of(request).timeline(de_an_id, actor=actor_of(request))

    @api.patch("/de-an/{de_an_id}", tags=["đề án"], responses=errors, summary="Sửa dự thảo / edit the draft")
    def edit(de_an_id: UUID, body: EditDeAn, request: Request) -> dict[str, Any]:
        changes = body.model_dump(mode="json", exclude_unset=True, exclude={"version"})
        return app_of(request).edit(de_an_id, c.EditDraft(changes), actor_of(request), body.version).state()

    for route in ROUTES:
        add(route)

    def add_national(route: Route) -> None:
        def handler(instance: Instance, de_an_id: UUID, body: Any, request: Request) -> dict[str, Any]:
            run = getattr(app_of(request), route.use_case)
            return run(instance, de_an_id, route.to_command(body), actor_of(request), body.version).state()  # type: ignore[no-any-return]

        register(route, f"/national-de-an/{{instance}}/{{de_an_id}}/{route.path}", handler)

    @api.get("/national-de-an", tags=["đề án quốc gia (Bộ)"], summary="Hồ sơ đề án quốc gia của các tỉnh tại Bộ")
    def list_national(
        request: Request,
        instance: Instance | None = None,
        status: Annotated[str | None, Query(max_length=40)] = None,
        plan_year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ) -> dict[str, Any]:
        total, items = app_of(request).list_national(c.NationalQuery(instance, status, plan_year, limit, offset))
        return {"total": total, "items": items}

    @api.get(
        "/national-de-an/{instance}/{de_an_id}",
        tags=["đề án quốc gia (Bộ)"],
        responses=errors,
        summary="Hồ sơ tại Bộ của một đề án quốc gia của tỉnh: trạng thái, quyết định của Bộ, việc chờ",
    )
    def national(instance: Instance, de_an_id: UUID, request: Request) -> dict[str, Any]:
        return app_of(request).national_record(instance, de_an_id).state()

    for route in NATIONAL_ROUTES:
        add_national(route)

    @api.post(
        "/de-an/{de_an_id}/approve",
        tags=["kế hoạch"],
        responses=errors,
        summary="Ghi quyết định phê duyệt kế hoạch ngoài hệ thống (thường đến từ sự kiện plan.approved)",
    )
    def approve(de_an_id: UUID, body: Approve, request: Request) -> dict[str, Any]:
        app, actor = app_of(request), actor_of(request)
        decision = c.ApproveInPlan(
            plan_id=body.plan_id,
            plan_decision=body.plan_decision,
            batch=body.batch,
            decided_on=body.decided_on,
            lines=(c.PlanLine(de_an_id, "", body.approved_support_vnd),),
            approver=actor.name,
            correlation_id=actor.correlation_id,
            skip_failed_lines=False,
        )
        app.approve_in_plan(decision, actor=actor, expected_version=body.version)
        return app.get(de_an_id).state()

    @api.get(
        "/beneficiaries/{establishment_id}",
        tags=["cơ sở thụ hưởng"],
        responses=errors,
        summary="Thông tin cơ sở thụ hưởng nhận từ sổ đăng ký (qua sự kiện)",
    )
    def beneficiary(
        establishment_id: UUID,
        request: Request,
        instance: str | None = Query(
            None,
            pattern=r"^(bo|tinh-\d{2})$",
            description="Hệ thống đã công bố cơ sở (tinh-40 …): một mã có thể ở nhiều tỉnh",
        ),
    ) -> dict[str, Any]:
        from kc_appraisal.use_case import AmbiguousCodeError

        view = request.app.state.beneficiaries
        facts = view.facts(establishment_id, instance)
        if facts is None and instance is None and len(holders := view.holders(establishment_id)) > 1:
            raise AmbiguousCodeError(
                f"Mã cơ sở có ở nhiều tỉnh ({', '.join(holders)}); chọn tỉnh bằng ?instance= / "
                "the id is held by several instances: name one",
                field="instance",
            )
        if facts is None:
            raise DeAnNotFoundError("Chưa có cơ sở này trong dữ liệu nhận từ sổ đăng ký / unknown establishment")
        return dict(facts)

    # -- councils and field trips ------------------------------------------------------------------------
    @api.get("/roster", tags=["hội đồng"], summary="Danh sách cán bộ, chuyên gia có thể tham gia hội đồng")
    def roster(request: Request) -> dict[str, Any]:
        found = app_of(request).roster()
        return found.state() if found else {"people": []}

    @api.post("/roster", status_code=201, tags=["hội đồng"], responses=errors, summary="Thêm người vào danh sách")
    def enrol(body: Person, request: Request) -> dict[str, Any]:
        command = c.EnrolPerson(body.subject, body.name, body.title or "", body.organisation or "")
        return app_of(request).enrol(command, actor_of(request)).state()

    @api.post(
        "/councils",
        status_code=201,
        tags=["hội đồng"],
        responses=errors,
        summary="Thành lập hội đồng thẩm định (quyết định, chủ tịch, thư ký, ủy viên từ danh sách, đề án)",
    )
    def found_council(body: FoundCouncil, request: Request) -> dict[str, Any]:
        actor = actor_of(request)
        command = c.FoundCouncil(
            name=body.name,
            stage=body.stage,
            decision_number=body.decision_number,
            decided_on=body.decided_on,
            signer=body.signer,
            chair=body.chair,
            secretary=body.secretary,
            members=tuple(body.members),
            de_an_ids=tuple(str(d) for d in body.de_an_ids),
            scoresheet=body.scoresheet,
        )
        return app_of(request).found_council(command, actor).state(viewer=actor.subject)

    @api.get("/councils", tags=["hội đồng"], summary="Các hội đồng (thành viên hội đồng: hội đồng của mình)")
    def councils(request: Request, de_an_id: UUID | None = None) -> dict[str, Any]:
        actor = actor_of(request)
        found = app_of(request).councils(actor, de_an_id=str(de_an_id) if de_an_id else None)
        return {"items": [k.state(viewer=actor.subject) for k in found]}

    @api.get("/councils/{council_id}", tags=["hội đồng"], responses=errors, summary="Hội đồng")
    def council(council_id: UUID, request: Request) -> dict[str, Any]:
        actor = actor_of(request)
        return app_of(request).council(council_id, actor=actor).state(viewer=actor.subject)

    def member_route(path: str, body_type: type[Command], use: str, summary: str) -> None:
        def handler(council_id: UUID, body: Any, request: Request) -> dict[str, Any]:
            actor = actor_of(request)
            values = body.model_dump(exclude={"version"}, exclude_none=True)
            values["de_an_id"] = str(values["de_an_id"])
            if "absent" in values:
                values["absent"] = tuple(values["absent"])
            command = {"declarations": c.SignDeclaration, "opinions": c.RecordOpinion, "minutes": c.RecordMinutes}
            run = getattr(app_of(request), use)
            council = run(council_id, command[path](**values), actor, body.version)
            return council.state(viewer=actor.subject)  # type: ignore[no-any-return]

        handler.__annotations__["body"] = body_type
        api.add_api_route(f"/councils/{{council_id}}/{path}", handler, methods=["POST"], name=use,
                          tags=["hội đồng"], responses=problem_responses(403, 404, 409, 422),
                          summary=summary)  # fmt: skip

    member_route("declarations", Declaration, "sign_declaration",
                 "Thành viên ký cam kết về xung đột lợi ích (chính mình, theo mã đăng nhập)")  # fmt: skip
    member_route("opinions", Opinion, "record_opinion",
                 "Thành viên cho ý kiến (và điểm); có xung đột lợi ích thì không được")  # fmt: skip
    member_route("minutes", Minutes, "record_minutes",
                 "Chủ tịch hoặc thư ký lập biên bản: kết quả tính từ ý kiến")  # fmt: skip

    @api.post("/field-trips", status_code=201, tags=["hội đồng"], responses=errors,
              summary="Lịch thẩm định thực tế tại các cơ sở (nhiều đề án, ngày thăm)")  # fmt: skip
    def schedule_field_trip(body: ScheduleTrip, request: Request) -> dict[str, Any]:
        command = c.ScheduleFieldTrip(
            name=body.name,
            decision_number=body.decision_number,
            starts_on=body.starts_on,
            ends_on=body.ends_on,
            team=tuple(body.team),
            visits=tuple(v.model_dump() | {"de_an_id": str(v.de_an_id)} for v in body.visits),
        )
        return app_of(request).schedule_field_trip(command, actor_of(request)).state()

    @api.get("/field-trips", tags=["hội đồng"], summary="Các đoàn thẩm định thực tế")
    def field_trips(request: Request, de_an_id: UUID | None = None) -> dict[str, Any]:
        found = app_of(request).field_trips(de_an_id=str(de_an_id) if de_an_id else None)
        return {"items": [t.state() for t in found]}

    @api.get("/field-trips/{trip_id}", tags=["hội đồng"], responses=errors, summary="Đoàn thẩm định thực tế")
    def field_trip(trip_id: UUID, request: Request) -> dict[str, Any]:
        return app_of(request).field_trip(trip_id).state()

    @api.post("/field-trips/{trip_id}/findings", tags=["hội đồng"], responses=errors,
              summary="Ghi kết quả một lần thăm")  # fmt: skip
    def record_findings(trip_id: UUID, body: Findings, request: Request) -> dict[str, Any]:
        command = c.RecordFindings(body.visit, body.findings, body.outcome, body.recorded_on)
        return app_of(request).record_findings(trip_id, command, actor_of(request), body.version).state()

    @api.get("/rules", tags=["quy định"], summary="Các quy định áp dụng theo thời gian / dated rules")
    def rules(request: Request) -> dict[str, Any]:
        r = app_of(request).rules
        return {
            "calendars": [cal.__dict__ for cal in r.calendars],
            **{
                name: getattr(r, name).model_dump(mode="json")
                for name in ("national_ceilings", "advances", "priority", "settlement", "authority", "contents")
            },
            **({"results": r.results.model_dump(mode="json")} if r.results else {}),
            **(
                {
                    "councils": app_of(request).council_rules.council.model_dump(mode="json"),  # type: ignore[union-attr]
                    "scoresheets": app_of(request).council_rules.scoresheets.model_dump(mode="json"),  # type: ignore[union-attr]
                }
                if app_of(request).council_rules
                else {}
            ),
        }

    return api
