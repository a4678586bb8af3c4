"""HTTP API of the appraisal service: one endpoint per command, the đề án, its timeline and past states.

Every command body may carry ``version`` (the version the caller saw): a stale one is a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from kc_runtime.actor import actor_of
from kc_runtime.fields import Text50, Text100, Text200, Text300, Text500
from kc_runtime.http import problem_responses, rules_dated_by
from pydantic import BaseModel, ConfigDict, Field

from kc_appraisal.application import AppraisalApplication
from kc_appraisal.domain.de_an import Conclusion, DeAn, DeAnType, Level
from kc_appraisal.projections.de_an_list import DeAnList

Vnd = Annotated[int, Field(ge=0, description="VND, số nguyên không âm")]


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


class DeAnFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objectives: Text500 | None = None
    commune_code: str | None = Field(None, pattern=r"^\d{5}$")
    coordinating_units: list[Text200] = []
    beneficiary_ids: list[UUID] = Field([], max_length=200)
    start_on: date | None = None
    end_on: date | None = None
    expected_outputs: dict[str, Annotated[int, Field(ge=0)]] = Field(
        {}, description="hoc_vien, may_moc, mo_hinh, luot_hoi_cho …"
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
    budget_lines: list[BudgetLine] = []


class EditDeAn(DeAnFields, Command):
    title: Text300 | None = None
    implementing_unit: Text200 | None = None
    activity_contents: list[str] | None = None
    budget_lines: list[BudgetLine] | None = None


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
    mode: str = Field(pattern=r"^(hoi_dong|can_bo)$")
    members: list[Member] = []
    conclusion: Conclusion
    recommended_support_vnd: Vnd
    appraised_on: date
    field_visit: dict[str, Any] | None = Field(None, description="Thẩm định thực tế: {on, place, team}")
    notes: Text500 | None = None


class OnDate(Command):
    on: date


class Approve(Command):
    plan_id: Text100 = "thu-cong"
    plan_decision: Text100
    batch: int = Field(1, ge=1)
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
    amount_vnd: int = Field(gt=0)
    paid_on: date


class RequestAdjustment(Command):
    change_type: str = Field(description="tang_kinh_phi, giam_kinh_phi, gia_han_sang_nam_sau, ngung_thuc_hien …")
    description: Text500
    changes: dict[str, Any] = {}
    requested_on: date


class DecideAdjustment(Command):
    approved: bool
    authority: str = Field(pattern=r"^(bo_truong|cuc|so_cong_thuong|ubnd_tinh)$")
    decision_number: Text100
    decided_on: date


class Accept(Command):
    accepted_on: date
    outputs: dict[str, Annotated[int, Field(ge=0)]] = {}
    report: Text500 | None = None


class Settle(Command):
    settled_on: date
    dossier_on: date
    settled_support_vnd: Vnd


def router() -> APIRouter:
    api = APIRouter()
    errors = problem_responses(404, 409, 422)

    def app_of(request: Request) -> AppraisalApplication:
        app: AppraisalApplication = request.app.state.application
        return app

    def run(
        request: Request,
        de_an_id: UUID,
        body: Command,
        command: Callable[[DeAn, dict[str, Any]], Any],
    ) -> dict[str, Any]:
        actor = actor_of(request)
        return app_of(request).change(de_an_id, lambda d: command(d, actor.by), body.version, actor=actor).state()

    @api.post("/de-an", status_code=201, tags=["đề án"], responses=errors, summary="Tạo dự thảo đề án / draft")
    def draft(body: DraftDeAn, request: Request) -> dict[str, Any]:
        details = body.model_dump(mode="json", exclude_none=True)
        return app_of(request).draft(details, actor_of(request), on=datetime.now(UTC).date()).state()

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
        view: DeAnList = request.app.state.de_an_list
        actor = actor_of(request)
        units = ([actor.unit] if actor.unit else []) if actor.unit_bound else None  # a unit sees its own
        total, items = view.search(
            q=q,
            status=status,
            plan_year=plan_year,
            level=level.value if level else None,
            limit=limit,
            offset=offset,
            units=units,
        )
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
        rules = app_of(request).rules
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.edit(changes, rules=rules, on=datetime.now(UTC).date(), **by),
        )

    @api.post(
        "/de-an/{de_an_id}/submission-extension",
        tags=["hồ sơ"],
        responses=errors,
        summary="Ghi quyết định gia hạn nộp hồ sơ",
    )
    def extend(de_an_id: UUID, body: Extend, request: Request) -> dict[str, Any]:
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.extend_submission(
                decision_number=body.decision_number, decided_on=body.decided_on, new_deadline=body.new_deadline, **by
            ),
        )

    @api.post(
        "/de-an/{de_an_id}/submit",
        tags=["hồ sơ"],
        responses=errors,
        summary="Nộp hồ sơ (kiểm tra hạn nộp, cơ sở thụ hưởng, mức hỗ trợ)",
    )
    def submit(de_an_id: UUID, body: Submit, request: Request) -> dict[str, Any]:
        app = app_of(request)
        with rules_dated_by("submitted_on"):  # deadline, priority and ceilings: all as of that day
            return run(
                request,
                de_an_id,
                body,
                lambda d, by: d.submit(
                    submitted_on=body.submitted_on,
                    rules=app.rules,
                    beneficiaries=app.beneficiaries,
                    calendars=app.calendars,
                    **by,
                ),
            )

    @api.post("/de-an/{de_an_id}/return", tags=["hồ sơ"], responses=errors, summary="Trả lại để bổ sung")
    def return_(de_an_id: UUID, body: Reason, request: Request) -> dict[str, Any]:
        return run(request, de_an_id, body, lambda d, by: d.return_for_supplement(reason=body.reason, **by))

    def appraise(stage: str) -> Callable[..., dict[str, Any]]:
        def handler(de_an_id: UUID, body: Appraise, request: Request) -> dict[str, Any]:
            rules = app_of(request).rules
            return run(
                request,
                de_an_id,
                body,
                lambda d, by: d.appraise(
                    stage=stage,
                    mode=body.mode,
                    members=[m.model_dump(mode="json") for m in body.members],
                    conclusion=body.conclusion,
                    recommended_support_vnd=body.recommended_support_vnd,
                    appraised_on=body.appraised_on,
                    rules=rules,
                    field_visit=body.field_visit,
                    notes=body.notes or "",
                    **by,
                ),
            )

        return handler

    api.add_api_route(
        "/de-an/{de_an_id}/base-appraisal",
        appraise("co_so"),
        methods=["POST"],
        tags=["thẩm định"],
        responses=errors,
        summary="Thẩm định cấp cơ sở (Sở Công Thương)",
    )
    api.add_api_route(
        "/de-an/{de_an_id}/ministry-appraisal",
        appraise("cap_bo"),
        methods=["POST"],
        tags=["thẩm định"],
        responses=errors,
        summary="Thẩm định cấp Bộ",
    )

    @api.post("/de-an/{de_an_id}/forward", tags=["thẩm định"], responses=errors, summary="Gửi Bộ (đề án quốc gia)")
    def forward(de_an_id: UUID, body: OnDate, request: Request) -> dict[str, Any]:
        return run(request, de_an_id, body, lambda d, by: d.forward_to_ministry(forwarded_on=body.on, **by))

    @api.post("/de-an/{de_an_id}/propose", tags=["kế hoạch"], responses=errors, summary="Đề xuất vào kế hoạch")
    def propose(de_an_id: UUID, body: OnDate, request: Request) -> dict[str, Any]:
        app = app_of(request)
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.propose(proposed_on=body.on, rules=app.rules, beneficiaries=app.beneficiaries, **by),
        )

    @api.post(
        "/de-an/{de_an_id}/approve",
        tags=["kế hoạch"],
        responses=errors,
        summary="Phê duyệt trong kế hoạch (thường đến từ sự kiện plan.approved)",
    )
    def approve(de_an_id: UUID, body: Approve, request: Request) -> dict[str, Any]:
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.approve_in_plan(
                plan_id=body.plan_id,
                plan_decision=body.plan_decision,
                batch=body.batch,
                decided_on=body.decided_on,
                approved_support_vnd=body.approved_support_vnd,
                **by,
            ),
        )

    @api.post("/de-an/{de_an_id}/not-funded", tags=["kế hoạch"], responses=errors, summary="Không bố trí kinh phí")
    def not_funded(de_an_id: UUID, body: Reason, request: Request) -> dict[str, Any]:
        return run(request, de_an_id, body, lambda d, by: d.mark_not_funded(reason=body.reason, **by))

    @api.post("/de-an/{de_an_id}/contract", tags=["thực hiện"], responses=errors, summary="Ký hợp đồng")
    def contract(de_an_id: UUID, body: Contract, request: Request) -> dict[str, Any]:
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.sign_contract(
                contract_number=body.contract_number,
                signed_on=body.signed_on,
                contracted_support_vnd=body.contracted_support_vnd,
                **by,
            ),
        )

    @api.post("/de-an/{de_an_id}/progress", tags=["thực hiện"], responses=errors, summary="Báo cáo tiến độ tháng")
    def progress(de_an_id: UUID, body: Progress, request: Request) -> dict[str, Any]:
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.report_progress(month=body.month, percent=body.percent, note=body.note or "", **by),
        )

    @api.post("/de-an/{de_an_id}/advances", tags=["thực hiện"], responses=errors, summary="Tạm ứng")
    def advance(de_an_id: UUID, body: Advance, request: Request) -> dict[str, Any]:
        rules = app_of(request).rules
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.record_advance(amount_vnd=body.amount_vnd, paid_on=body.paid_on, rules=rules, **by),
        )

    @api.post(
        "/de-an/{de_an_id}/adjustments",
        tags=["điều chỉnh"],
        responses=errors,
        summary="Đề nghị điều chỉnh (thẩm quyền theo quy định)",
    )
    def request_adjustment(de_an_id: UUID, body: RequestAdjustment, request: Request) -> dict[str, Any]:
        rules = app_of(request).rules
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.request_adjustment(
                change_type=body.change_type,
                description=body.description,
                changes=body.changes,
                requested_on=body.requested_on,
                rules=rules,
                **by,
            ),
        )

    @api.post(
        "/de-an/{de_an_id}/adjustments/decision",
        tags=["điều chỉnh"],
        responses=errors,
        summary="Quyết định điều chỉnh (đúng thẩm quyền)",
    )
    def decide_adjustment(de_an_id: UUID, body: DecideAdjustment, request: Request) -> dict[str, Any]:
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.decide_adjustment(
                approved=body.approved,
                authority=body.authority,
                decision_number=body.decision_number,
                decided_on=body.decided_on,
                **by,
            ),
        )

    @api.post("/de-an/{de_an_id}/complete", tags=["thực hiện"], responses=errors, summary="Hoàn thành")
    def complete(de_an_id: UUID, body: OnDate, request: Request) -> dict[str, Any]:
        return run(request, de_an_id, body, lambda d, by: d.complete(completed_on=body.on, **by))

    @api.post("/de-an/{de_an_id}/acceptance", tags=["nghiệm thu"], responses=errors, summary="Nghiệm thu")
    def accept(de_an_id: UUID, body: Accept, request: Request) -> dict[str, Any]:
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.accept(accepted_on=body.accepted_on, outputs=body.outputs, report=body.report or "", **by),
        )

    @api.post("/de-an/{de_an_id}/settlement", tags=["quyết toán"], responses=errors, summary="Quyết toán")
    def settle(de_an_id: UUID, body: Settle, request: Request) -> dict[str, Any]:
        rules = app_of(request).rules
        return run(
            request,
            de_an_id,
            body,
            lambda d, by: d.settle(
                settled_on=body.settled_on,
                dossier_on=body.dossier_on,
                settled_support_vnd=body.settled_support_vnd,
                rules=rules,
                **by,
            ),
        )

    @api.post("/de-an/{de_an_id}/close", tags=["quyết toán"], responses=errors, summary="Đóng đề án")
    def close(de_an_id: UUID, body: OnDate, request: Request) -> dict[str, Any]:
        return run(request, de_an_id, body, lambda d, by: d.close(closed_on=body.on, **by))

    @api.get(
        "/beneficiaries/{establishment_id}",
        tags=["cơ sở thụ hưởng"],
        responses=errors,
        summary="Thông tin cơ sở thụ hưởng nhận từ sổ đăng ký (qua sự kiện)",
    )
    def beneficiary(establishment_id: UUID, request: Request) -> dict[str, Any]:
        facts = request.app.state.beneficiaries.facts(establishment_id)
        if facts is None:
            from kc_appraisal.application import DeAnNotFoundError

            raise DeAnNotFoundError("Chưa có cơ sở này trong dữ liệu nhận từ sổ đăng ký / unknown establishment")
        return dict(facts)

    @api.get("/rules", tags=["quy định"], summary="Các quy định áp dụng theo thời gian / dated rules")
    def rules(request: Request) -> dict[str, Any]:
        r = app_of(request).rules
        return {
            "calendars": [c.__dict__ for c in r.calendars],
            **{
                name: getattr(r, name).model_dump(mode="json")
                for name in ("national_ceilings", "advances", "priority", "settlement", "authority", "contents")
            },
        }

    return api
