"""Kế hoạch: the plan calendar and its deadlines, registrations, plan lines, the envelope by source,
approving a batch (decision number, date, signer), amendments and the .xlsx export."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError, Calls
from kc_console.roles import Officer
from kc_console.web.common import Forbidden, calls, checked_form, ctx, redirect, render, require
from kc_console.web.forms import Field, parse, parse_money, refusal_errors, show_date

REGISTRATIONS_SHOWN = 20
STATUSES = ("da_nop", "da_chap_nhan", "tra_lai")
SOURCES = (("quoc_gia", "Ngân sách trung ương"), ("dia_phuong", "Ngân sách địa phương"), ("khac", "Nguồn khác"))
APPROVE_FIELDS = [
    Field("decision_number", "Số quyết định", maxlength=100, hint="Ví dụ 3208/QĐ-BCT"),
    Field("decision_date", "Ngày quyết định", "date", default="today"),
    Field("signer", "Người ký", maxlength=200, hint="Ví dụ Bộ trưởng Bộ Công Thương"),
]
AMEND_FIELDS = [  # named apart from the approval's: both forms are on one page (one id each)
    Field("amend_decision_number", "Số quyết định điều chỉnh", maxlength=100, hint="Ví dụ 512/QĐ-BCT"),
    Field("amend_decision_date", "Ngày quyết định điều chỉnh", "date", default="today"),
    Field("amend_signer", "Người ký quyết định điều chỉnh", maxlength=200),
    Field("amend_reason", "Lý do điều chỉnh", "textarea", maxlength=500),
]
CALENDAR_FIELDS = [
    Field("registration_deadline", "Hạn đăng ký kế hoạch", "date"),
    Field("dossier_deadline", "Hạn nộp hồ sơ đề án", "date"),
    Field("legal_basis", "Căn cứ (văn bản)", maxlength=300),
    Field("reason", "Lý do thay đổi", required=False, maxlength=300),
]
REGISTRATION_FIELDS = [
    Field("registrant", "Đơn vị đăng ký", maxlength=200),
    Field(
        "registrant_kind",
        "Loại đơn vị",
        "select",
        options=(
            ("xa", "UBND xã, phường"),
            ("to_chuc_dich_vu", "Tổ chức dịch vụ khuyến công"),
            ("so_cong_thuong", "Sở Công Thương"),
            ("don_vi_khac", "Đơn vị khác"),
        ),
    ),
    Field("filed_on", "Ngày đăng ký", "date", default="today"),
    Field("extension", "Số quyết định gia hạn (khi đăng ký muộn)", required=False, maxlength=100),
    Field("items.0.title", "Tên nội dung đăng ký", maxlength=300),
    Field(
        "items.0.content",
        "Nội dung hoạt động (1–9)",
        "select",
        required=False,
        options=(("", "—"), *((str(i), str(i)) for i in range(1, 10))),
    ),
    Field("items.0.support_vnd", "Kinh phí đề nghị (đồng)", "money", required=False),
    Field("items.0.commune_code", "Mã xã (5 chữ số)", required=False, maxlength=5),
]


def owner_of(level: str, officer: Officer) -> str:
    """Where a plan of this level lives: the national plan at the ministry, a local plan in its province."""
    return "bo" if level == "quoc_gia" else officer.instance


def _level(level: str, officer: Officer) -> str:
    if level in ("quoc_gia", "dia_phuong"):
        if level == "dia_phuong" and officer.instance == "bo":
            return "quoc_gia"
        return level
    return "quoc_gia" if officer.instance == "bo" else "dia_phuong"


def _year(text: str) -> int:
    return int(text) if text.isdigit() and 2010 <= int(text) <= 2100 else date.today().year + 1


def _money_text(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


async def registrations_of(api: Calls, officer: Officer, level: str, year: int) -> dict[str, Any] | None:
    """The registrations for this plan filed with the officer's province (planning's ``GET /registrations``,
    which scopes them: a unit's account sees its own): the latest, and how many in each status. Accepting
    and returning them is the Đăng ký kế hoạch screen's; the ministry reads the provinces' filings there."""
    if officer.instance == "bo" or not api.backend.has("planning", officer.instance):
        return None
    params: dict[str, Any] = {"year": year, "level": level}
    try:
        listing, *counts = await asyncio.gather(
            api.get("planning", "/registrations", params=params | {"limit": REGISTRATIONS_SHOWN}),
            *(api.get("planning", "/registrations", params=params | {"status": s, "limit": 1}) for s in STATUSES),
        )
    except ApiError as exc:
        if exc.status in (403, 404):
            return None
        raise
    return {
        "total": int(listing.get("total", 0)),
        "items": list(listing.get("items", [])),
        "by_status": [(s, int(c.get("total", 0))) for s, c in zip(STATUSES, counts, strict=True)],
    }


def router() -> APIRouter:
    api = APIRouter()

    async def _page(
        request: Request,
        officer: Officer,
        level: str,
        year: int,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        other: list[str] | None = None,
        values: dict[str, Any] | None = None,
        form: str = "",
    ) -> Response:
        where = owner_of(level, officer)
        api_calls = calls(request, officer)
        plan: dict[str, Any] | None = None
        calendar: dict[str, Any] | None = None
        try:
            plan = await api_calls.get("planning", f"/plans/{level}/{year}", instance=where)
        except ApiError as exc:
            if exc.status != 404:
                raise
        try:
            calendar = await api_calls.get("planning", f"/calendars/{level}/{year}", instance=where)
        except ApiError as exc:
            if exc.status not in (403, 404):
                raise
        lines = []
        pending = []
        for de_an_id, line in (plan or {}).get("lines", {}).items():
            proposal = line.get("proposal") or {}
            row = {
                "de_an_id": de_an_id,
                "code": proposal.get("code", ""),
                "title": proposal.get("title", ""),
                "province_code": proposal.get("province_code", ""),
                "instance": proposal.get("instance", ""),
                "implementing_unit": proposal.get("implementing_unit", ""),
                "recommended": int(proposal.get("recommended_support_vnd") or 0),
                "approved": line.get("approved_support_vnd"),
                "batch": line.get("batch"),
            }
            lines.append(row)
            if row["approved"] is None:
                pending.append(row)
        envelope_total = sum(int(v) for v in (plan or {}).get("envelope", {}).values())
        approved = [row for row in lines if row["approved"] is not None]
        codes = {row["de_an_id"]: row["code"] or row["de_an_id"][:8] for row in lines}
        amendments = [
            a | {"lines": [{"code": codes.get(k, k[:8]), "amount": v} for k, v in (a.get("changes") or {}).items()]}
            for a in (plan or {}).get("amendments", [])
        ]
        registrations = await registrations_of(api_calls, officer, level, year)
        return render(
            request,
            "plans.html",
            status=status,
            active="ke-hoach",
            title=f"Kế hoạch {'khuyến công quốc gia' if level == 'quoc_gia' else 'khuyến công địa phương'} năm {year}",
            level=level,
            year=year,
            where=where,
            plan=plan,
            lines=lines,
            pending=pending,
            approved=approved,
            amendments=amendments,
            registrations=registrations,
            amend_fields=AMEND_FIELDS,
            calendar=calendar,
            envelope_total=envelope_total,
            sources=SOURCES,
            may_approve=officer.may("approve_plan", where),
            may_plan=officer.may("plan", where),
            may_propose=officer.may("propose", where),
            approve_fields=APPROVE_FIELDS,
            calendar_fields=CALENDAR_FIELDS,
            registration_fields=REGISTRATION_FIELDS,
            errors=errors or {},
            other_errors=other or [],
            values=values
            or {
                "decision_date": show_date(date.today()),
                "amend_decision_date": show_date(date.today()),
                "filed_on": show_date(date.today()),
                **{f"amend.{row['de_an_id']}": _money_text(int(row["approved"])) for row in approved},
            },
            form=form,
            province_console=officer.instance != "bo",
        )

    @api.get("/ke-hoach")
    async def page(request: Request, cap: str = "", nam: str = "") -> Response:
        officer = require(request)
        level = _level(cap, officer)
        return await _page(request, officer, level, _year(nam))

    @api.post("/ke-hoach/{level}/{year}/phe-duyet")
    async def approve(request: Request, level: str, year: int) -> Response:
        officer = require(request)
        form = await checked_form(request)
        level, year = _level(level, officer), _year(str(year))
        where = owner_of(level, officer)
        if not officer.may("approve_plan", where):
            raise Forbidden("Vai trò của bạn không phê duyệt kế hoạch")
        parsed = parse(form, APPROVE_FIELDS)
        amounts: dict[str, int] = {}
        for key, value in form.multi_items():
            if key.startswith("chon.") and value == "on":
                de_an_id = key.removeprefix("chon.")
                text = str(form.get(f"amounts.{de_an_id}") or "")
                try:
                    amounts[de_an_id] = parse_money(text)
                except ValueError as exc:
                    parsed.errors[f"amounts.{de_an_id}"] = str(exc)
        if not amounts and not parsed.errors:
            parsed.errors["chon"] = "Chọn ít nhất một đề án để phê duyệt trong đợt này"
        values = dict(parsed.raw) | {k: v for k, v in form.multi_items() if isinstance(v, str)}
        if parsed.errors:
            return await _page(
                request, officer, level, year, status=422, errors=parsed.errors, values=values, form="approve"
            )
        body = parsed.values | {"amounts": amounts}
        try:
            result = await calls(request, officer).post(
                "planning", f"/plans/{level}/{year}/approvals", instance=where, json=body
            )
        except ApiError as exc:
            names = [*(f.name for f in APPROVE_FIELDS), *(f"amounts.{k}" for k in amounts)]
            mine, other = refusal_errors(exc, [Field(n, n) for n in names])
            return await _page(
                request, officer, level, year, status=422, errors=mine, other=other, values=values, form="approve"
            )
        batch = (result.get("batches") or [{}])[-1]
        ctx(request).store.log(
            officer.username, "phe_duyet_ke_hoach", f"{level} {year}: {body['decision_number']}, {len(amounts)} đề án"
        )
        return redirect(
            f"/ke-hoach?cap={level}&nam={year}",
            f"Đã phê duyệt đợt {batch.get('batch', '')} theo quyết định {body['decision_number']}: "
            f"{len(amounts)} đề án.",
        )

    @api.post("/ke-hoach/{level}/{year}/dieu-chinh")
    async def amend(request: Request, level: str, year: int) -> Response:
        """Điều chỉnh kế hoạch: new amounts for approved lines (0 withdraws one) under a decision."""
        officer = require(request)
        form = await checked_form(request)
        level, year = _level(level, officer), _year(str(year))
        where = owner_of(level, officer)
        if not officer.may("approve_plan", where):
            raise Forbidden("Vai trò của bạn không điều chỉnh kế hoạch")
        plan = await calls(request, officer).get("planning", f"/plans/{level}/{year}", instance=where)
        current = {
            k: int(line["approved_support_vnd"])
            for k, line in plan.get("lines", {}).items()
            if line.get("approved_support_vnd") is not None
        }
        parsed = parse(form, AMEND_FIELDS)
        changes: dict[str, int] = {}
        for de_an_id, amount in current.items():
            text = str(form.get(f"amend.{de_an_id}") or "").strip()
            if not text:
                continue
            try:
                new = parse_money(text)
            except ValueError as exc:
                parsed.errors[f"amend.{de_an_id}"] = str(exc)
                continue
            if new != amount:
                changes[de_an_id] = new
        if not changes and not parsed.errors:
            parsed.errors["amend"] = "Chưa có dòng nào thay đổi số tiền: sửa số tiền (0 để rút khỏi kế hoạch)"
        values = dict(parsed.raw) | {k: v for k, v in form.multi_items() if isinstance(v, str)}
        if parsed.errors:
            return await _page(
                request, officer, level, year, status=422, errors=parsed.errors, values=values, form="amend"
            )
        body = {k.removeprefix("amend_"): v for k, v in parsed.values.items()} | {"changes": changes}
        try:
            await calls(request, officer).post(
                "planning", f"/plans/{level}/{year}/amendments", instance=where, json=body
            )
        except ApiError as exc:
            by_field = {
                (f"amend.{k.removeprefix('changes.')}" if k.startswith("changes.") else f"amend_{k}"): v
                for k, v in exc.by_field().items()
            }
            names = [*(f.name for f in AMEND_FIELDS), *(f"amend.{k}" for k in current), "amend_changes"]
            mine, other = refusal_errors(exc, [Field(n, n) for n in names], errors=by_field)
            if "amend_changes" in mine:
                mine["amend"] = mine.pop("amend_changes")
            return await _page(
                request, officer, level, year, status=422, errors=mine, other=other, values=values, form="amend"
            )
        ctx(request).store.log(
            officer.username, "dieu_chinh_ke_hoach", f"{level} {year}: {body['decision_number']}, {len(changes)} đề án"
        )
        return redirect(
            f"/ke-hoach?cap={level}&nam={year}",
            f"Đã điều chỉnh kế hoạch theo quyết định {body['decision_number']}: {len(changes)} đề án.",
        )

    @api.post("/ke-hoach/{level}/{year}/du-toan")
    async def envelope(request: Request, level: str, year: int) -> Response:
        officer = require(request)
        form = await checked_form(request)
        level, year = _level(level, officer), _year(str(year))
        where = owner_of(level, officer)
        amounts, errors = {}, {}
        for source, _ in SOURCES:
            text = str(form.get(f"envelope.{source}") or "").strip()
            if text:
                try:
                    amounts[source] = parse_money(text)
                except ValueError as exc:
                    errors[f"envelope.{source}"] = str(exc)
        decision = str(form.get("envelope_decision") or "").strip()
        if not decision:
            errors["envelope_decision"] = "Vui lòng nhập căn cứ giao dự toán"
        values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        if errors:
            return await _page(request, officer, level, year, status=422, errors=errors, values=values, form="envelope")
        try:
            await calls(request, officer).put(
                "planning",
                f"/plans/{level}/{year}/envelope",
                instance=where,
                json={"envelope": amounts, "decision_number": decision},
            )
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            mine = {("envelope_decision" if k == "decision_number" else k): v for k, v in exc.by_field().items()}
            return await _page(
                request,
                officer,
                level,
                year,
                status=422,
                errors=mine,
                other=[] if mine else [exc.message],
                values=values,
                form="envelope",
            )
        ctx(request).store.log(officer.username, "giao_du_toan", f"{level} {year}: {decision}")
        return redirect(f"/ke-hoach?cap={level}&nam={year}", "Đã ghi dự toán theo nguồn.")

    @api.post("/ke-hoach/{level}/{year}/lich")
    async def set_calendar(request: Request, level: str, year: int) -> Response:
        officer = require(request)
        form = await checked_form(request)
        level, year = _level(level, officer), _year(str(year))
        where = owner_of(level, officer)
        parsed = parse(form, CALENDAR_FIELDS)
        if parsed.errors:
            return await _page(
                request, officer, level, year, status=422, errors=parsed.errors, values=parsed.raw, form="calendar"
            )
        body = {k: v for k, v in parsed.values.items() if v} | (
            {} if parsed.values.get("reason") else {"reason": "lập lịch"}
        )
        try:
            await calls(request, officer).put("planning", f"/calendars/{level}/{year}", instance=where, json=body)
        except ApiError as exc:
            mine, other = refusal_errors(exc, CALENDAR_FIELDS)
            return await _page(
                request, officer, level, year, status=422, errors=mine, other=other, values=parsed.raw, form="calendar"
            )
        ctx(request).store.log(officer.username, "lich_ke_hoach", f"{level} {year}")
        return redirect(f"/ke-hoach?cap={level}&nam={year}", "Đã ghi lịch kế hoạch.")

    @api.post("/ke-hoach/{level}/{year}/dang-ky")
    async def register(request: Request, level: str, year: int) -> Response:
        officer = require(request)
        form = await checked_form(request)
        level, year = _level(level, officer), _year(str(year))
        where = owner_of(level, officer)
        parsed = parse(form, REGISTRATION_FIELDS)
        if parsed.errors:
            return await _page(
                request, officer, level, year, status=422, errors=parsed.errors, values=parsed.raw, form="registration"
            )
        item = {
            k.removeprefix("items.0."): v
            for k, v in parsed.values.items()
            if k.startswith("items.0.") and v not in ("", None)
        }
        body = {k: v for k, v in parsed.values.items() if not k.startswith("items.") and v not in ("", None)}
        body |= {"level": level, "year": year, "items": [item]}
        try:
            result = await calls(request, officer).post("planning", "/registrations", instance=where, json=body)
        except ApiError as exc:
            mine, other = refusal_errors(exc, REGISTRATION_FIELDS)
            return await _page(
                request,
                officer,
                level,
                year,
                status=422,
                errors=mine,
                other=other,
                values=parsed.raw,
                form="registration",
            )
        on_time = "đúng hạn" if result.get("on_time") else "muộn hạn (có quyết định gia hạn)"
        ctx(request).store.log(officer.username, "dang_ky_ke_hoach", f"{level} {year}: {body['registrant']}")
        return redirect(f"/ke-hoach?cap={level}&nam={year}", f"Đã đăng ký kế hoạch ({on_time}).")

    @api.get("/ke-hoach/{level}/{year}/xuat.xlsx")
    async def export(request: Request, level: str, year: int) -> Response:
        officer = require(request)
        level, year = _level(level, officer), _year(str(year))
        response = await calls(request, officer).get(
            "planning", f"/plans/{level}/{year}/export.xlsx", instance=owner_of(level, officer), raw=True
        )
        return Response(
            response.content,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="ke-hoach-{level}-{year}.xlsx"'},
        )

    return api
