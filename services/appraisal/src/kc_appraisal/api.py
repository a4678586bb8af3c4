"""HTTP API of the appraisal service: one endpoint per command, the đề án, its timeline and past states.

A handler decodes the body into the use case's command, calls the application method of the same
name and answers the đề án's state. Every command body may carry ``version`` (the version the caller
saw): a stale one is a 409. A đề án is approved by a plan decision, through one use case
(``approve_in_plan``): from planning on the bus, or — ``POST /de-an/{id}/approve`` — a decision
taken outside the system, recorded by the approving authority.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Query, Request
from kc_contracts.limits import MAX_BUDGET_LINES, Batch, Count, FreeForm, PositiveVnd, Vnd, totals_within
from kc_runtime.actor import actor_of
from kc_runtime.fields import Text50, Text100, Text200, Text300, Text500
from kc_runtime.http import problem_responses, rules_dated_by
from pydantic import BaseModel, ConfigDict, Field

from kc_appraisal import commands as c
from kc_appraisal.application import AppraisalApplication, DeAnNotFoundError
from kc_appraisal.domain.de_an import AppraisalMode, Conclusion, DeAn, DeAnType, Level
from kc_appraisal.domain.de_an import Member as CouncilMember


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(None, ge=1, description="Phiên bản đề án bạn thấy (khóa lạc quan)")


class BudgetLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cost_item: Text200 = Field(description="Hạng mục chi")
    support_item: Text100 = Field("khac", description="Mục trong bảng mức hỗ trợ (GET /rules)")
    content: Text50 | None = Field(None, description="Nội dung hoạt động (1–9)")
    total_cost_vnd: Vnd
    support_requested_vnd: Vnd
    counterpart_vnd: Vnd = 0
    other_vnd: Vnd = 0


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
    priority_areas: list[str] = Field([], description="vung_dbkk, bien_gioi, hai_dao, dan_toc_thieu_so …")


class DraftDeAn(DeAnFields):
    code: Text50 = Field(examples=["KCĐP-40-2024-07"], description="Mã đề án, duy nhất trong hệ thống của tỉnh")
    title: Text300
    level: Level
    de_an_type: DeAnType
    plan_year: int = Field(ge=2010, le=2100)
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
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
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
    authority: str = Field(pattern=r"^(bo_truong|cuc|so_cong_thuong|ubnd_tinh)$")
    decision_number: Text100
    decided_on: date


class Accept(Command):
    accepted_on: date
    outputs: dict[str, Count] = Field({}, max_length=50)
    report: Text500 | None = None


class Settle(Command):
    settled_on: date
    dossier_on: date
    settled_support_vnd: Vnd


C = TypeVar("C")


def _appraisal(body: Appraise, command: Callable[..., C]) -> C:
    return command(
        mode=body.mode,
        conclusion=body.conclusion,
        recommended_support_vnd=body.recommended_support_vnd,
        appraised_on=body.appraised_on,
        members=tuple(CouncilMember(**m.model_dump()) for m in body.members),
        field_visit=body.field_visit,
        notes=body.notes or "",
    )


def router() -> APIRouter:
    api = APIRouter()
    errors = problem_responses(404, 409, 422)

    def app_of(request: Request) -> AppraisalApplication:
        app: AppraisalApplication = request.app.state.application
        return app

    def command(
        path: str,
        use_case: Callable[[AppraisalApplication], Callable[..., DeAn]],
        to_command: Callable[[Any], Any],
        body_model: type[Command],
        *,
        tags: list[str | Enum],
        summary: str,
        dated_by: str | None = None,
    ) -> None:
        """``POST /de-an/{id}/<path>``: the body as the use case's command, the đề án's state back."""

        def handler(de_an_id: UUID, body: Any, request: Request) -> dict[str, Any]:
            app = app_of(request)
            run = use_case(app)
            if dated_by is None:
                return run(de_an_id, to_command(body), actor_of(request), body.version).state()
            with rules_dated_by(dated_by):  # the rules as of that day: none in force names the field
                return run(de_an_id, to_command(body), actor_of(request), body.version).state()

        handler.__annotations__["body"] = body_model
        api.add_api_route(
            f"/de-an/{{de_an_id}}/{path}",
            handler,
            methods=["POST"],
            name=path.replace("/", "_").replace("-", "_"),
            tags=tags,
            responses=errors,
            summary=summary,
        )

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
            return app.get(de_an_id, actor=actor).state()
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

    # (path, use case, body → command, body model, tags, summary[, rules dated by])
    command(
        "submission-extension",
        lambda a: a.extend_submission,
        lambda b: c.ExtendSubmission(b.decision_number, b.decided_on, b.new_deadline),
        Extend,
        tags=["hồ sơ"],
        summary="Ghi quyết định gia hạn nộp hồ sơ",
    )
    command(
        "submit",
        lambda a: a.submit,
        lambda b: c.Submit(b.submitted_on),
        Submit,
        tags=["hồ sơ"],
        summary="Nộp hồ sơ (kiểm tra hạn nộp, cơ sở thụ hưởng, mức hỗ trợ)",
        dated_by="submitted_on",  # deadline, priority and ceilings: all as of that day
    )
    command(
        "return",
        lambda a: a.return_for_supplement,
        lambda b: c.ReturnForSupplement(b.reason),
        Reason,
        tags=["hồ sơ"],
        summary="Trả lại để bổ sung",
    )
    command(
        "base-appraisal",
        lambda a: a.record_base_appraisal,
        lambda b: _appraisal(b, c.RecordBaseAppraisal),
        Appraise,
        tags=["thẩm định"],
        summary="Thẩm định cấp cơ sở (Sở Công Thương)",
    )
    command(
        "ministry-appraisal",
        lambda a: a.record_ministry_appraisal,
        lambda b: _appraisal(b, c.RecordMinistryAppraisal),
        Appraise,
        tags=["thẩm định"],
        summary="Thẩm định cấp Bộ",
    )
    command(
        "forward",
        lambda a: a.forward,
        lambda b: c.Forward(b.on),
        OnDate,
        tags=["thẩm định"],
        summary="Gửi Bộ (đề án quốc gia)",
    )
    command(
        "propose",
        lambda a: a.propose,
        lambda b: c.Propose(b.on),
        OnDate,
        tags=["kế hoạch"],
        summary="Đề xuất vào kế hoạch",
    )

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

    command(
        "not-funded",
        lambda a: a.mark_not_funded,
        lambda b: c.MarkNotFunded(b.reason),
        Reason,
        tags=["kế hoạch"],
        summary="Không bố trí kinh phí",
    )
    command(
        "contract",
        lambda a: a.sign_contract,
        lambda b: c.SignContract(b.contract_number, b.signed_on, b.contracted_support_vnd),
        Contract,
        tags=["thực hiện"],
        summary="Ký hợp đồng",
    )
    command(
        "progress",
        lambda a: a.report_progress,
        lambda b: c.ReportProgress(b.month, b.percent, b.note or ""),
        Progress,
        tags=["thực hiện"],
        summary="Báo cáo tiến độ tháng",
    )
    command(
        "advances",
        lambda a: a.record_advance,
        lambda b: c.RecordAdvance(b.amount_vnd, b.paid_on),
        Advance,
        tags=["thực hiện"],
        summary="Tạm ứng",
    )
    command(
        "adjustments",
        lambda a: a.request_adjustment,
        lambda b: c.RequestAdjustment(b.change_type, b.description, b.requested_on, b.changes),
        RequestAdjustment,
        tags=["điều chỉnh"],
        summary="Đề nghị điều chỉnh (thẩm quyền theo quy định)",
    )
    command(
        "adjustments/decision",
        lambda a: a.decide_adjustment,
        lambda b: c.DecideAdjustment(b.approved, b.authority, b.decision_number, b.decided_on),
        DecideAdjustment,
        tags=["điều chỉnh"],
        summary="Quyết định điều chỉnh (đúng thẩm quyền)",
    )
    command(
        "complete",
        lambda a: a.complete,
        lambda b: c.Complete(b.on),
        OnDate,
        tags=["thực hiện"],
        summary="Hoàn thành",
    )
    command(
        "acceptance",
        lambda a: a.accept,
        lambda b: c.Accept(b.accepted_on, b.outputs, b.report or ""),
        Accept,
        tags=["nghiệm thu"],
        summary="Nghiệm thu",
    )
    command(
        "settlement",
        lambda a: a.settle,
        lambda b: c.Settle(b.settled_on, b.dossier_on, b.settled_support_vnd),
        Settle,
        tags=["quyết toán"],
        summary="Quyết toán",
    )
    command(
        "close",
        lambda a: a.close_de_an,
        lambda b: c.Close(b.on),
        OnDate,
        tags=["quyết toán"],
        summary="Đóng đề án",
    )

    @api.get(
        "/beneficiaries/{establishment_id}",
        tags=["cơ sở thụ hưởng"],
        responses=errors,
        summary="Thông tin cơ sở thụ hưởng nhận từ sổ đăng ký (qua sự kiện)",
    )
    def beneficiary(establishment_id: UUID, request: Request) -> dict[str, Any]:
        facts = request.app.state.beneficiaries.facts(establishment_id)
        if facts is None:
            raise DeAnNotFoundError("Chưa có cơ sở này trong dữ liệu nhận từ sổ đăng ký / unknown establishment")
        return dict(facts)

    @api.get("/rules", tags=["quy định"], summary="Các quy định áp dụng theo thời gian / dated rules")
    def rules(request: Request) -> dict[str, Any]:
        r = app_of(request).rules
        return {
            "calendars": [cal.__dict__ for cal in r.calendars],
            **{
                name: getattr(r, name).model_dump(mode="json")
                for name in ("national_ceilings", "advances", "priority", "settlement", "authority", "contents")
            },
        }

    return api
