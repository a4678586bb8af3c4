"""Đề án: the list with filters, a đề án's page (budget lines, ceilings applied, state, timeline,
documents), the actions allowed now as buttons opening forms, and drafting a new one. The action
catalogue is in :mod:`de_an_actions`, the draft form in :mod:`de_an_drafting`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError
from kc_console.roles import Officer
from kc_console.web.common import Forbidden, calls, checked_form, ctx, redirect, render, require
from kc_console.web.de_an_actions import (
    MINISTRY_ACTIONS,
    action_body,
    action_of,
    allowed,
    council_field,
    defaults,
    ministry_allowed,
    result_fields,
)
from kc_console.web.de_an_drafting import (
    BUDGET_ROWS,
    appraisal_rules,
    beneficiary_options,
    budget_errors,
    draft_body,
    draft_fields,
    form_values_from_state,
    totals,
)
from kc_console.web.forms import Field, parse, parse_date, refusal_errors
from kc_contracts.subjects import check_instance
from kc_kernel import vocabulary as vocab


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
            mine, other = refusal_errors(exc, fields)
            return await _draft_form(request, officer, values=parsed.raw, errors=mine, other=other, status=422)
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
        state = await api_calls.get("appraisal", f"/de-an/{uuid_of(de_an_id)}", instance=where, params=params)
        timeline = await api_calls.get("appraisal", f"/de-an/{state['id']}/timeline", instance=where)
        rules = await appraisal_rules(api_calls, where)
        record = None if as_of else await ministry_record(api_calls, officer, where, state)
        actions = [] if as_of else allowed(officer, state, where, rules)
        actions += ministry_allowed(officer, record, rules)
        return render(
            request,
            "de_an_page.html",
            active="cong-don-vi" if officer.is_unit else "de-an",
            title=f"Đề án {state['details'].get('code', '')}",
            d=state,
            details=state["details"],
            timeline=timeline,
            actions=actions,
            record=record,
            by_ministry=[] if as_of or officer.instance == "bo" else state.get("ministry_actions") or [],
            where=where,
            as_of=as_of,
            totals=totals(state),
            # its own files: filed by who drafts it, while it is not closed (and not on a past state)
            may_file=not as_of and officer.may("draft", where) and state.get("status") != "da_dong",
            document_kinds=list(vocab.labels("de_an_document_kind").items()),
        )

    @api.get("/de-an/{where}/{de_an_id}/sua")
    async def edit_page(request: Request, where: str, de_an_id: str) -> Response:
        officer = require(request)
        where = instance_arg(request, where)
        state = await calls(request, officer).get("appraisal", f"/de-an/{uuid_of(de_an_id)}", instance=where)
        return await _draft_form(request, officer, values=None, errors={}, other=[], state=state, where=where)

    @api.post("/de-an/{where}/{de_an_id}/sua")
    async def edit(request: Request, where: str, de_an_id: str) -> Response:
        officer = require(request)
        form = await checked_form(request)
        where = instance_arg(request, where)
        api_calls = calls(request, officer)
        state = await api_calls.get("appraisal", f"/de-an/{uuid_of(de_an_id)}", instance=where)
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
            mine, other = refusal_errors(exc, fields)
            if exc.status == 409:
                other = [_conflict(exc, state)]
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
        api_calls = calls(request, officer)
        state = await api_calls.get("appraisal", f"/de-an/{uuid_of(de_an_id)}", instance=where)
        record = await ministry_record(api_calls, officer, where, state) if code in MINISTRY_ACTIONS else None
        fields = await _fields(api_calls, "bo" if record else where, code, state)
        values = defaults(fields)
        if code in ("tham_dinh_co_so", "tham_dinh_cap_bo"):
            values["recommended_support_vnd"] = _money_text(totals(state)["support_requested_vnd"])
        if code == "quyet_toan" and (state.get("acceptance") or {}).get("accepted_support_vnd") is not None:
            values["settled_support_vnd"] = _money_text(state["acceptance"]["accepted_support_vnd"])
        rules = await appraisal_rules(api_calls, where)
        return _action_form(request, officer, state, where, code, values, {}, [], fields=fields, record=record,
                            rules=rules)  # fmt: skip

    @api.post("/de-an/{where}/{de_an_id}/hanh-dong/{code}")
    async def act(request: Request, where: str, de_an_id: str, code: str) -> Response:
        officer = require(request)
        form = await checked_form(request)
        where = instance_arg(request, where)
        action = action_of(code)
        api_calls = calls(request, officer)
        state = await api_calls.get("appraisal", f"/de-an/{uuid_of(de_an_id)}", instance=where)
        # a decision of the ministry on a province's national đề án goes to the ministry's record of it
        record = await ministry_record(api_calls, officer, where, state) if code in MINISTRY_ACTIONS else None
        fields = await _fields(api_calls, "bo" if record else where, code, state)
        rules = await appraisal_rules(api_calls, where)
        parsed = parse(form, fields)
        if parsed.errors:
            return _action_form(request, officer, state, where, code, parsed.raw, parsed.errors, [], status=422,
                                fields=fields, record=record, rules=rules)  # fmt: skip
        body = action_body(code, parsed.values)
        version = str(form.get("version") or "")
        body["version"] = int(version) if version.isdigit() else None
        if record is not None:
            target, path = "bo", f"/national-de-an/{where}/{state['id']}/{action.path}"
        else:
            target, path = where, f"/de-an/{state['id']}/{action.path}"
        try:
            await api_calls.post("appraisal", path, instance=target, json=body)
        except ApiError as exc:
            mine, other = refusal_errors(exc, fields, statuses=(403, 409, 422))
            if exc.status == 409:
                other = [_conflict(exc, state)]
            return _action_form(request, officer, state, where, code, parsed.raw, mine, other, status=exc.status,
                                fields=fields, record=record, rules=rules)  # fmt: skip
        label = vocab.label("de_an_action", code)
        ctx(request).store.log(officer.username, code, f"{state['details'].get('code', '')}: {label}")
        if record is not None:
            return redirect(
                f"/de-an/{where}/{state['id']}",
                f"Đã ghi: {label} (trên hệ thống của Bộ). Tỉnh nhận quyết định qua sự kiện; trạng thái của đề án "
                "đổi khi tỉnh ghi nhận.",
            )
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
        fields: list[Field] | None = None,
        record: dict[str, Any] | None = None,
        rules: dict[str, Any] | None = None,
    ) -> Response:
        action = action_of(code)
        fields = fields if fields is not None else list(action.fields)
        if record is not None:  # the ministry's decision, on its record of the province's đề án
            may = any(c == code for c, _ in ministry_allowed(officer, record, rules or {}))
            pending = record.get("pending_adjustment")
        else:
            may = any(c == code for c, _ in allowed(officer, state, where, rules or {}))
            pending = state.get("pending_adjustment")
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
            fields=fields,
            member_fields=[f for f in fields if f.name.startswith("members.")],
            result_fields=[f for f in fields if f.name.startswith("outputs.")],
            values=values,
            errors=errors,
            other_errors=other,
            may=may,
            record=record,
            version=(record or state).get("version"),
            pending=pending if code == "quyet_dinh_dieu_chinh" else None,
        )

    return api


async def ministry_record(api_calls: Any, officer: Officer, where: str, state: dict[str, Any]) -> dict[str, Any] | None:
    """The ministry's record of a province's national đề án (its decisions are taken on it, on bo); None
    anywhere else, or before the province sent the đề án to the ministry."""
    if officer.instance != "bo" or where == "bo" or state.get("details", {}).get("level") != "quoc_gia":
        return None
    try:
        found: dict[str, Any] = await api_calls.get(
            "appraisal", f"/national-de-an/{where}/{state['id']}", instance="bo"
        )
    except ApiError as exc:
        if exc.status in (403, 404):
            return None
        raise
    return found


async def _fields(api_calls: Any, where: str, code: str, state: dict[str, Any]) -> list[Field]:
    """The action's fields, with those that depend on the đề án: the results its activity contents allow
    at acceptance, the councils whose minutes an appraisal may follow."""
    action = action_of(code)
    fields = list(action.fields)
    if code == "nghiem_thu":
        fields += list(result_fields(await appraisal_rules(api_calls, where), state))
    elif code in ("tham_dinh_co_so", "tham_dinh_cap_bo"):
        listed = await api_calls.get("appraisal", "/councils", instance=where, params={"de_an_id": state["id"]})
        found = council_field(listed.get("items", []), state["id"], "co_so" if code == "tham_dinh_co_so" else "cap_bo")
        if found is not None:
            fields.insert(1, found)
    return fields


def uuid_of(text: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ApiError(404, "Không tìm thấy", "Mã đề án không hợp lệ / not a đề án id") from None


def _money_text(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def _conflict(exc: ApiError, state: dict[str, Any]) -> str:
    return (
        "Đề án vừa được người khác thay đổi hoặc không còn ở trạng thái cho phép thao tác này "
        f"(bạn đang xem phiên bản {state.get('version')}, trạng thái "
        f"“{vocab.label('de_an_status', state.get('status'))}”). Chưa có gì được ghi. "
        f"Hãy mở lại đề án để xem bản mới nhất. Chi tiết: {exc.message}"
    )
