"""Đề án: the list with filters, a đề án's page (budget lines, ceilings applied, state, timeline,
documents), the actions allowed now as buttons opening forms, and drafting a new one."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError, Calls
from kc_console.roles import Officer
from kc_console.web.common import Forbidden, calls, checked_form, ctx, redirect, render, require
from kc_console.web.forms import Field, Parsed, api_field_errors, nest, parse, parse_date, show_date
from kc_contracts.subjects import check_instance
from kc_kernel import vocabulary as vocab

BUDGET_ROWS = 3
MEMBER_ROWS = 5


@dataclass(frozen=True)
class Action:
    path: str
    permission: str
    fields: tuple[Field, ...]
    method: str = "POST"
    intro: str = ""


def _d(name: str, label: str, **kw: Any) -> Field:
    return Field(name, label, "date", default=kw.pop("default", "today"), **kw)


CONCLUSIONS = tuple(
    (c, vocab.label("appraisal_conclusion", c)) for c in ("dong_y", "dong_y_co_chinh_sua", "khong_dong_y")
)
MODES = (("hoi_dong", "Hội đồng thẩm định"), ("can_bo", "Cán bộ thẩm định"))
AUTHORITIES = (
    ("bo_truong", "Bộ trưởng Bộ Công Thương"),
    ("cuc", "Cục Công Thương địa phương"),
    ("so_cong_thuong", "Sở Công Thương"),
    ("ubnd_tinh", "UBND tỉnh"),
)


def _appraisal_fields() -> tuple[Field, ...]:
    members: list[Field] = []
    for i in range(MEMBER_ROWS):
        members += [
            Field(f"members.{i}.name", f"Thành viên {i + 1}: họ tên", required=False, maxlength=200),
            Field(f"members.{i}.role", f"Thành viên {i + 1}: vai trò trong hội đồng", required=False, maxlength=100),
            Field(
                f"members.{i}.opinion",
                f"Thành viên {i + 1}: ý kiến",
                "select",
                required=False,
                options=(("", "—"), *CONCLUSIONS),
            ),
            Field(
                f"members.{i}.declaration_signed",
                f"Thành viên {i + 1}: đã ký cam kết không xung đột lợi ích",
                "checkbox",
                required=False,
            ),
        ]
    return (
        Field("mode", "Hình thức thẩm định", "select", options=MODES),
        Field("conclusion", "Kết luận", "select", options=CONCLUSIONS),
        Field("recommended_support_vnd", "Kinh phí hỗ trợ đề nghị (đồng)", "money"),
        _d("appraised_on", "Ngày thẩm định"),
        Field("notes", "Ghi chú", "textarea", required=False, maxlength=500),
        *members,
    )


ACTIONS: dict[str, Action] = {
    "gia_han_nop": Action(
        "submission-extension",
        "appraise",
        (
            Field("decision_number", "Số quyết định gia hạn", maxlength=100),
            _d("decided_on", "Ngày quyết định"),
            _d("new_deadline", "Hạn nộp mới", default=None),
        ),
    ),
    "nop": Action(
        "submit",
        "draft",
        (_d("submitted_on", "Ngày nộp hồ sơ"),),
        intro="Hạn nộp, điều kiện cơ sở thụ hưởng và mức hỗ trợ tối đa được kiểm tra theo quy định "
        "có hiệu lực vào ngày nộp.",
    ),
    "tra_lai": Action(
        "return", "appraise", (Field("reason", "Lý do trả lại (đơn vị sẽ thấy)", "textarea", maxlength=500),)
    ),
    "tham_dinh_co_so": Action("base-appraisal", "appraise", _appraisal_fields()),
    "gui_bo": Action("forward", "appraise", (_d("on", "Ngày gửi Bộ"),)),
    "tham_dinh_cap_bo": Action("ministry-appraisal", "appraise_national", _appraisal_fields()),
    "de_xuat_ke_hoach": Action("propose", "appraise", (_d("on", "Ngày đề xuất"),)),
    "de_xuat_ke_hoach_dia_phuong": Action("propose", "appraise", (_d("on", "Ngày đề xuất"),)),
    "phe_duyet": Action(
        "approve",
        "approve_plan",
        (
            Field("plan_decision", "Số quyết định phê duyệt kế hoạch", maxlength=100),
            Field("batch", "Đợt", "int", default="1", min=1),
            _d("decided_on", "Ngày quyết định"),
            Field("approved_support_vnd", "Kinh phí được duyệt (đồng)", "money"),
        ),
        intro="Thường được ghi tự động khi kế hoạch được phê duyệt (Kế hoạch → Phê duyệt đợt).",
    ),
    "khong_bo_tri": Action("not-funded", "appraise", (Field("reason", "Lý do", "textarea", maxlength=500),)),
    "ky_hop_dong": Action(
        "contract",
        "appraise",
        (
            Field("contract_number", "Số hợp đồng", maxlength=100),
            _d("signed_on", "Ngày ký"),
            Field("contracted_support_vnd", "Kinh phí hỗ trợ theo hợp đồng (đồng)", "money"),
        ),
    ),
    "bao_cao_tien_do": Action(
        "progress",
        "draft",
        (
            Field("month", "Tháng báo cáo", "month", default="this_month"),
            Field("percent", "Tiến độ (%)", "int", min=0, max=100),
            Field("note", "Nội dung đã thực hiện", "textarea", required=False, maxlength=500),
        ),
    ),
    "tam_ung": Action(
        "advances",
        "draft",
        (Field("amount_vnd", "Số tiền tạm ứng (đồng)", "money", min=1), _d("paid_on", "Ngày tạm ứng")),
        intro="Mức tạm ứng tối đa theo quy định được kiểm tra khi ghi.",
    ),
    "de_nghi_dieu_chinh": Action(
        "adjustments",
        "draft",
        (
            Field(
                "change_type",
                "Loại điều chỉnh",
                "select",
                options=(
                    ("tang_kinh_phi", "Tăng kinh phí"),
                    ("giam_kinh_phi", "Giảm kinh phí"),
                    ("thay_doi_noi_dung", "Thay đổi nội dung"),
                    ("thay_doi_dia_diem", "Thay đổi địa điểm"),
                    ("thay_doi_don_vi_thu_huong", "Thay đổi đơn vị thụ hưởng"),
                    ("thay_doi_don_vi_phoi_hop", "Thay đổi đơn vị phối hợp"),
                    ("thay_doi_thoi_gian_trong_nam", "Thay đổi thời gian trong năm"),
                    ("gia_han_sang_nam_sau", "Gia hạn sang năm sau"),
                    ("ngung_thuc_hien", "Ngừng thực hiện"),
                ),
            ),
            Field("description", "Nội dung đề nghị", "textarea", maxlength=500),
            _d("requested_on", "Ngày đề nghị"),
        ),
    ),
    "quyet_dinh_dieu_chinh": Action(
        "adjustments/decision",
        "appraise",
        (
            Field("approved", "Đồng ý điều chỉnh", "checkbox", required=False),
            Field("authority", "Cấp quyết định", "select", options=AUTHORITIES),
            Field("decision_number", "Số quyết định", maxlength=100),
            _d("decided_on", "Ngày quyết định"),
        ),
    ),
    "hoan_thanh": Action("complete", "draft", (_d("on", "Ngày hoàn thành"),)),
    "nghiem_thu": Action(
        "acceptance",
        "appraise",
        (
            _d("accepted_on", "Ngày nghiệm thu"),
            Field("report", "Biên bản, kết quả nghiệm thu", "textarea", required=False, maxlength=500),
        ),
    ),
    "quyet_toan": Action(
        "settlement",
        "appraise",
        (
            _d("settled_on", "Ngày quyết toán"),
            _d("dossier_on", "Ngày nộp hồ sơ quyết toán"),
            Field("settled_support_vnd", "Kinh phí quyết toán (đồng)", "money"),
        ),
    ),
    "dong": Action("close", "appraise", (_d("on", "Ngày đóng đề án"),)),
}
EDIT = "sua_du_thao"
MONEY_FIELDS = ("total_cost_vnd", "support_requested_vnd", "counterpart_vnd", "other_vnd")


def allowed(officer: Officer, state: dict[str, Any], instance: str) -> list[tuple[str, str]]:
    """(action, label) of what this officer may do now: the đề án's own allowed actions, less those the
    role may not do (the service checks again when the form is sent)."""
    out = []
    for code in state.get("allowed_actions", []):
        if code == EDIT:
            if officer.may("draft", instance):
                out.append((code, vocab.label("de_an_action", code)))
            continue
        action = ACTIONS.get(code)
        if action and officer.may(action.permission, instance):
            out.append((code, vocab.label("de_an_action", code)))
    return out


def defaults(fields: tuple[Field, ...] | list[Field]) -> dict[str, str]:
    today = date.today()
    out = {}
    for f in fields:
        if f.default == "today":
            out[f.name] = show_date(today)
        elif f.default == "this_month":
            out[f.name] = f"{today:%Y-%m}"
        elif f.default is not None:
            out[f.name] = str(f.default)
    return out


_rules_cache: dict[str, tuple[float, dict[str, Any]]] = {}


async def appraisal_rules(api: Calls, instance: str) -> dict[str, Any]:
    """The appraisal service's dated rules (support items, contents), kept for five minutes."""
    known = _rules_cache.get(instance)
    if known and time.monotonic() - known[0] < 300:
        return known[1]
    rules = await api.get("appraisal", "/rules", instance=instance)
    _rules_cache[instance] = (time.monotonic(), rules)
    return dict(rules)


def support_items(rules: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The support items of the national ceilings table (every version), by their vocabulary label."""
    tables = rules.get("national_ceilings") or {}
    codes: dict[str, None] = {}
    for version in (tables.get("versions") if isinstance(tables, dict) else None) or []:
        codes.update(dict.fromkeys((version.get("params") or {}).get("items") or {}))
    return tuple((code, vocab.label("support_item", code)) for code in codes or vocab.labels("support_item"))


def contents(rules: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The activity contents (1–9) of the catalogue, by their vocabulary label."""
    tables = rules.get("contents") or {}
    codes: dict[str, None] = {}
    for version in (tables.get("versions") if isinstance(tables, dict) else None) or []:
        codes.update(dict.fromkeys((version.get("params") or {}).get("items") or {}))
    return tuple((c, vocab.label("activity_content", c)) for c in sorted(codes or vocab.labels("activity_content")))


def draft_fields(
    rules: dict[str, Any], beneficiaries: list[tuple[str, str]], *, new: bool, unit: str | None = None
) -> list[Field]:
    fields: list[Field] = []
    if new:
        fields += [
            Field("code", "Mã đề án", maxlength=50, hint="Ví dụ KCĐP-40-2025-01"),
            Field(
                "level",
                "Cấp chương trình",
                "select",
                options=(("dia_phuong", "Khuyến công địa phương"), ("quoc_gia", "Khuyến công quốc gia")),
            ),
            Field(
                "de_an_type",
                "Loại đề án",
                "select",
                options=tuple(
                    (c, vocab.label("de_an_type", c))
                    for c in ("kcdp", "kcqg_nhom", "kcqg_thu_huong", "kcqg_diem", "nhiem_vu")
                ),
            ),
            Field("plan_year", "Năm kế hoạch", "int", min=2010, max=2100, default=str(date.today().year + 1)),
        ]
    fields += [
        Field("title", "Tên đề án", maxlength=300),
        Field("implementing_unit", "Đơn vị thực hiện", maxlength=200, default=unit)
        if not unit
        else Field("implementing_unit", "Đơn vị thực hiện", "hidden", default=unit),
        Field("objectives", "Mục tiêu", "textarea", required=False, maxlength=500),
        Field("commune_code", "Mã xã nơi thực hiện (5 chữ số)", required=False, maxlength=5),
        Field("activity_contents", "Nội dung hoạt động", "select", options=contents(rules)),
    ]
    if beneficiaries:
        fields.append(
            Field(
                "beneficiary_ids",
                "Cơ sở thụ hưởng",
                "select",
                required=False,
                options=(("", "— chưa chọn —"), *beneficiaries),
            )
        )
    items = support_items(rules)
    for i in range(BUDGET_ROWS):
        fields += [
            Field(f"budget_lines.{i}.cost_item", f"Dòng {i + 1}: hạng mục chi", required=False, maxlength=200),
            Field(
                f"budget_lines.{i}.support_item",
                f"Dòng {i + 1}: mục hỗ trợ",
                "select",
                required=False,
                options=(("", "—"), *items),
            ),
            Field(f"budget_lines.{i}.total_cost_vnd", f"Dòng {i + 1}: tổng chi phí (đồng)", "money", required=False),
            Field(
                f"budget_lines.{i}.support_requested_vnd",
                f"Dòng {i + 1}: kinh phí khuyến công đề nghị (đồng)",
                "money",
                required=False,
            ),
            Field(f"budget_lines.{i}.counterpart_vnd", f"Dòng {i + 1}: vốn đối ứng (đồng)", "money", required=False),
            Field(f"budget_lines.{i}.other_vnd", f"Dòng {i + 1}: nguồn khác (đồng)", "money", required=False),
        ]
    return fields


def draft_body(parsed: Parsed, *, new: bool) -> dict[str, Any]:
    """The API's body from the draft form: budget rows with a cost item only, lists where lists are due."""
    values = dict(parsed.values)
    lines = []
    for i in range(BUDGET_ROWS):
        prefix = f"budget_lines.{i}."
        row = {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}
        for k in list(values):
            if k.startswith(prefix):
                del values[k]
        if row.get("cost_item"):
            line = {"cost_item": row["cost_item"], "support_item": row.get("support_item") or "khac"}
            line |= {m: int(row.get(m) or 0) for m in MONEY_FIELDS}
            lines.append(line)
    body = nest(values)
    body["budget_lines"] = lines
    if "activity_contents" in body:
        body["activity_contents"] = [body["activity_contents"]]
    body["beneficiary_ids"] = [body["beneficiary_ids"]] if body.get("beneficiary_ids") else []
    if not new:
        body.pop("code", None)
    return body


def budget_errors(parsed: Parsed) -> None:
    """Row 1 of the budget is required; a row's money without a cost item is a mistake to show."""
    if not parsed.values.get("budget_lines.0.cost_item"):
        parsed.errors.setdefault("budget_lines.0.cost_item", "Đề án cần ít nhất một dòng dự toán")
    for i in range(BUDGET_ROWS):
        p = f"budget_lines.{i}."
        if not parsed.values.get(p + "cost_item") and any(parsed.values.get(p + m) for m in MONEY_FIELDS):
            parsed.errors.setdefault(p + "cost_item", "Nhập hạng mục chi cho dòng có số tiền")


def form_values_from_state(state: dict[str, Any]) -> dict[str, str]:
    d = state.get("details", {})
    values = {
        k: str(d.get(k) or "")
        for k in (
            "code",
            "title",
            "implementing_unit",
            "objectives",
            "commune_code",
            "level",
            "de_an_type",
            "plan_year",
        )
    }
    values["activity_contents"] = (d.get("activity_contents") or [""])[0]
    values["beneficiary_ids"] = (d.get("beneficiary_ids") or [""])[0]
    for i, line in enumerate((d.get("budget_lines") or [])[:BUDGET_ROWS]):
        for k in ("cost_item", "support_item", *MONEY_FIELDS):
            v = line.get(k)
            values[f"budget_lines.{i}.{k}"] = f"{v:,}".replace(",", ".") if isinstance(v, int) else str(v or "")
    return values


async def beneficiary_options(api: Calls, instance: str, officer: Officer) -> list[tuple[str, str]]:
    if instance == "bo" or not api.backend.has("registry", instance) or not officer.may("read", instance):
        return []
    try:
        page = await api.get("registry", "/establishments", instance=instance, params={"limit": 200})
    except ApiError:
        return []
    return [(str(e["id"]), str(e.get("name") or e["id"])) for e in page.get("items", [])]


def instance_arg(request: Request, value: str | None) -> str:
    if not value:
        return ctx(request).settings.instance
    try:
        return check_instance(value)
    except ValueError:
        raise Forbidden("Mã hệ thống không hợp lệ") from None


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/de-an")
    async def list_page(
        request: Request,
        q: str = "",
        status: str = "",
        plan_year: str = "",
        level: str = "",
        noi: str = "",
        trang: int = 1,
    ) -> Response:
        officer = require(request)
        if officer.is_unit:
            return redirect("/cong-don-vi")
        where = instance_arg(request, noi)
        page_size = 50
        trang = max(1, min(trang, 10_000))
        params = {
            "q": q[:200],
            "status": status[:40],
            "plan_year": plan_year if plan_year.isdigit() else None,
            "level": level if level in ("quoc_gia", "dia_phuong") else None,
            "limit": page_size,
            "offset": (trang - 1) * page_size,
        }
        found = await calls(request, officer).get("appraisal", "/de-an", instance=where, params=params)
        backend = ctx(request).backend
        places = [i for i in backend.instances() if backend.has("appraisal", i) and officer.may("read", i)]
        return render(
            request,
            "de_an_list.html",
            active="de-an",
            title="Đề án",
            items=found["items"],
            total=found["total"],
            q=q,
            status_filter=status,
            plan_year=plan_year,
            level=level,
            where=where,
            places=places,
            page=trang,
            pages=max(1, -(-found["total"] // page_size)),
            statuses=list(vocab.labels("de_an_status").items()),
            may_draft=officer.may("draft"),
        )

    @api.get("/de-an/moi")
    async def new_page(request: Request) -> Response:
        officer = require(request)
        if not officer.may("draft"):
            raise Forbidden("Vai trò của bạn không lập đề án")
        return await _draft_form(request, officer, values=None, errors={}, other=[])

    @api.post("/de-an/moi")
    async def create(request: Request) -> Response:
        officer = require(request)
        form = await checked_form(request)
        if not officer.may("draft"):
            raise Forbidden("Vai trò của bạn không lập đề án")
        api_calls = calls(request, officer)
        instance = ctx(request).settings.instance
        rules = await appraisal_rules(api_calls, instance)
        fields = draft_fields(
            rules, await beneficiary_options(api_calls, instance, officer), new=True, unit=officer.unit
        )
        parsed = parse(form, fields)
        budget_errors(parsed)
        if parsed.errors:
            return await _draft_form(request, officer, values=parsed.raw, errors=parsed.errors, other=[], status=422)
        body = draft_body(parsed, new=True)
        try:
            made = await api_calls.post("appraisal", "/de-an", json=body)
        except ApiError as exc:
            if exc.status != 422 and exc.status != 409:
                raise
            mine, other = api_field_errors(exc.by_field(), fields)
            return await _draft_form(
                request,
                officer,
                values=parsed.raw,
                errors=mine,
                other=other or ([exc.message] if not mine else []),
                status=422,
            )
        ctx(request).store.log(officer.username, "lap_de_an", f"{body.get('code')} ({made['id']})")
        return redirect(f"/de-an/{instance}/{made['id']}", f"Đã lập dự thảo đề án {body.get('code')}.")

    async def _draft_form(
        request: Request,
        officer: Officer,
        *,
        values: dict[str, str] | None,
        errors: dict[str, str],
        other: list[str],
        status: int = 200,
        state: dict[str, Any] | None = None,
        where: str | None = None,
    ) -> Response:
        api_calls = calls(request, officer)
        instance = where or ctx(request).settings.instance
        rules = await appraisal_rules(api_calls, instance)
        fields = draft_fields(
            rules, await beneficiary_options(api_calls, instance, officer), new=state is None, unit=officer.unit
        )
        shown = values if values is not None else (form_values_from_state(state) if state else defaults(fields))
        return render(
            request,
            "de_an_form.html",
            status=status,
            active="cong-don-vi" if officer.is_unit else "de-an",
            title="Sửa dự thảo đề án" if state else "Lập đề án mới",
            fields=fields,
            values=shown,
            errors=errors,
            other_errors=other,
            state=state,
            where=instance,
            action=f"/de-an/{instance}/{state['id']}/sua" if state else "/de-an/moi",
            budget_rows=BUDGET_ROWS,
        )

    @api.get("/de-an/{where}/{de_an_id}")
    async def page(request: Request, where: str, de_an_id: str, as_of: str = "") -> Response:
        officer = require(request)
        where = instance_arg(request, where)
        api_calls = calls(request, officer)
        try:
            as_of = parse_date(as_of).isoformat() if as_of else ""
        except ValueError:
            as_of = ""
        params = {"as_of": as_of} if as_of else None
        state = await api_calls.get("appraisal", f"/de-an/{_uuid(de_an_id)}", instance=where, params=params)
        timeline = await api_calls.get("appraisal", f"/de-an/{state['id']}/timeline", instance=where)
        actions = [] if as_of else allowed(officer, state, where)
        return render(
            request,
            "de_an_page.html",
            active="cong-don-vi" if officer.is_unit else "de-an",
            title=f"Đề án {state['details'].get('code', '')}",
            d=state,
            details=state["details"],
            timeline=timeline,
            actions=actions,
            where=where,
            as_of=as_of,
            totals=_totals(state),
        )

    @api.get("/de-an/{where}/{de_an_id}/sua")
    async def edit_page(request: Request, where: str, de_an_id: str) -> Response:
        officer = require(request)
        where = instance_arg(request, where)
        state = await calls(request, officer).get("appraisal", f"/de-an/{_uuid(de_an_id)}", instance=where)
        return await _draft_form(request, officer, values=None, errors={}, other=[], state=state, where=where)

    @api.post("/de-an/{where}/{de_an_id}/sua")
    async def edit(request: Request, where: str, de_an_id: str) -> Response:
        officer = require(request)
        form = await checked_form(request)
        where = instance_arg(request, where)
        api_calls = calls(request, officer)
        state = await api_calls.get("appraisal", f"/de-an/{_uuid(de_an_id)}", instance=where)
        rules = await appraisal_rules(api_calls, where)
        fields = draft_fields(rules, await beneficiary_options(api_calls, where, officer), new=False, unit=officer.unit)
        parsed = parse(form, fields)
        budget_errors(parsed)
        version = str(form.get("version") or "")
        if parsed.errors:
            return await _draft_form(
                request,
                officer,
                values=parsed.raw,
                errors=parsed.errors,
                other=[],
                status=422,
                state=state,
                where=where,
            )
        body = draft_body(parsed, new=False) | {"version": int(version) if version.isdigit() else None}
        try:
            await api_calls.patch("appraisal", f"/de-an/{state['id']}", instance=where, json=body)
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            mine, other = api_field_errors(exc.by_field(), fields)
            other = [_conflict(exc, state)] if exc.status == 409 else other or ([exc.message] if not mine else [])
            return await _draft_form(
                request,
                officer,
                values=parsed.raw,
                errors=mine,
                other=other,
                status=exc.status,
                state=state,
                where=where,
            )
        ctx(request).store.log(officer.username, "sua_de_an", state["details"].get("code", ""))
        return redirect(f"/de-an/{where}/{state['id']}", "Đã lưu dự thảo.")

    @api.get("/de-an/{where}/{de_an_id}/hanh-dong/{code}")
    async def action_page(request: Request, where: str, de_an_id: str, code: str) -> Response:
        officer = require(request)
        where = instance_arg(request, where)
        state = await calls(request, officer).get("appraisal", f"/de-an/{_uuid(de_an_id)}", instance=where)
        action = _action(code)
        values = defaults(action.fields)
        if code in ("tham_dinh_co_so", "tham_dinh_cap_bo"):
            values["recommended_support_vnd"] = _money_text(_totals(state)["support_requested_vnd"])
        return _action_form(request, officer, state, where, code, values, {}, [])

    @api.post("/de-an/{where}/{de_an_id}/hanh-dong/{code}")
    async def act(request: Request, where: str, de_an_id: str, code: str) -> Response:
        officer = require(request)
        form = await checked_form(request)
        where = instance_arg(request, where)
        action = _action(code)
        api_calls = calls(request, officer)
        state = await api_calls.get("appraisal", f"/de-an/{_uuid(de_an_id)}", instance=where)
        parsed = parse(form, list(action.fields))
        if parsed.errors:
            return _action_form(request, officer, state, where, code, parsed.raw, parsed.errors, [], status=422)
        body = _action_body(code, parsed.values)
        version = str(form.get("version") or "")
        body["version"] = int(version) if version.isdigit() else None
        try:
            await api_calls.post("appraisal", f"/de-an/{state['id']}/{action.path}", instance=where, json=body)
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            mine, other = api_field_errors(exc.by_field(), list(action.fields))
            if exc.status == 409:
                other = [_conflict(exc, state)]
            elif not mine and not other:
                other = [exc.message]
            return _action_form(request, officer, state, where, code, parsed.raw, mine, other, status=exc.status)
        label = vocab.label("de_an_action", code)
        ctx(request).store.log(officer.username, code, f"{state['details'].get('code', '')}: {label}")
        return redirect(f"/de-an/{where}/{state['id']}", f"Đã ghi: {label}.")

    def _action_form(
        request: Request,
        officer: Officer,
        state: dict[str, Any],
        where: str,
        code: str,
        values: dict[str, str],
        errors: dict[str, str],
        other: list[str],
        status: int = 200,
    ) -> Response:
        action = _action(code)
        return render(
            request,
            "de_an_action.html",
            status=status,
            active="cong-don-vi" if officer.is_unit else "de-an",
            title=f"{vocab.label('de_an_action', code)} — {state['details'].get('code', '')}",
            d=state,
            where=where,
            code=code,
            action=action,
            fields=list(action.fields),
            member_fields=[f for f in action.fields if f.name.startswith("members.")],
            values=values,
            errors=errors,
            other_errors=other,
            may=officer.may(action.permission, where) and code in state.get("allowed_actions", []),
        )

    return api


def _uuid(text: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ApiError(404, "Không tìm thấy", "Mã đề án không hợp lệ / not a đề án id") from None


def _action(code: str) -> Action:
    action = ACTIONS.get(code)
    if action is None:
        raise ApiError(404, "Không tìm thấy", "Không có thao tác này / no such action")
    return action


def _action_body(code: str, values: dict[str, Any]) -> dict[str, Any]:
    body = nest(values)
    if code in ("tham_dinh_co_so", "tham_dinh_cap_bo"):
        members = []
        for m in body.pop("members", []) or []:
            if isinstance(m, dict) and m.get("name"):
                members.append(
                    {
                        "name": m["name"],
                        **({"role": m["role"]} if m.get("role") else {}),
                        **({"opinion": m["opinion"]} if m.get("opinion") else {}),
                        "declaration_signed": bool(m.get("declaration_signed")),
                    }
                )
        body["members"] = members
    if code == "quyet_dinh_dieu_chinh":
        body["approved"] = bool(body.get("approved"))
    return body


def _totals(state: dict[str, Any]) -> dict[str, int]:
    lines = state.get("details", {}).get("budget_lines") or []
    return {m: sum(int(line.get(m) or 0) for line in lines) for m in MONEY_FIELDS}


def _money_text(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def _conflict(exc: ApiError, state: dict[str, Any]) -> str:
    return (
        "Đề án vừa được người khác thay đổi hoặc không còn ở trạng thái cho phép thao tác này "
        f"(bạn đang xem phiên bản {state.get('version')}, trạng thái "
        f"“{vocab.label('de_an_status', state.get('status'))}”). Chưa có gì được ghi. "
        f"Hãy mở lại đề án để xem bản mới nhất. Chi tiết: {exc.message}"
    )
