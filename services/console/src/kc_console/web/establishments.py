"""Cơ sở CNNT: search without accents, register, edit (a version conflict said plainly), eligibility on
a date with each reason, the legal dossier (upload, verify, reject), recognitions and OCOP with their
validity, support history, and the .xlsx import with its dry-run report row by row."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError
from kc_console.roles import Officer
from kc_console.web.common import Forbidden, calls, checked_form, ctx, redirect, render, require
from kc_console.web.forms import Field, parse, parse_date, refusal_errors
from kc_kernel.vocabulary import label, labels
from starlette.datastructures import UploadFile

LEGAL_FORMS = tuple(
    (c, label("legal_form", c))
    for c in ("ho_kinh_doanh", "hop_tac_xa", "lien_hiep_hop_tac_xa", "to_hop_tac", "doanh_nghiep_nho_va_vua")
)
UNIT_SYSTEMS = tuple(labels("unit_system").items())
DOCUMENT_KINDS = tuple(labels("document_kind").items())
SCHEMES = tuple(labels("recognition_scheme").items())
LEVELS = (("", "—"), *labels("recognition_level").items())
MAX_UPLOAD = 10 << 20


def establishment_fields(new: bool) -> list[Field]:
    fields = [
        Field("name", "Tên cơ sở", maxlength=300, required=new),
        Field("legal_form", "Loại hình", "select", options=LEGAL_FORMS, required=new),
    ]
    if new:
        fields += [
            Field(
                "tax_code", "Mã số thuế", required=False, maxlength=20, hint="10 hoặc 13 chữ số (có kiểm tra số cuối)"
            ),
            Field("registration_number", "Số đăng ký (khi không có mã số thuế)", required=False, maxlength=50),
        ]
    fields += [
        Field("unit_system", "Danh mục đơn vị hành chính của mã xã", "select", options=UNIT_SYSTEMS, required=new),
        Field("commune_code", "Mã xã, phường (5 chữ số)", maxlength=5, required=new),
        Field("street", "Địa chỉ (thôn, xóm, đường)", required=False, maxlength=300),
        Field("sectors", "Ngành nghề (mã)", "select", required=False, options=()),
        Field("employees", "Số lao động", "int", required=False, min=0),
        Field("representative", "Người đại diện", required=False, maxlength=200),
        Field("phone", "Điện thoại", required=False, maxlength=20),
        Field("email", "Thư điện tử", required=False, maxlength=200),
        Field("women_owned", "Chủ cơ sở là nữ", "checkbox", required=False),
        Field("ethnic_minority_owned", "Chủ cơ sở là người dân tộc thiểu số", "checkbox", required=False),
    ]
    return fields


def with_sectors(fields: list[Field], sectors: dict[str, str]) -> list[Field]:
    out = []
    for f in fields:
        if f.name == "sectors":
            f = Field("sectors", "Ngành nghề", "select", required=False, options=(("", "—"), *sorted(sectors.items())))
        out.append(f)
    return out


def body_of(values: dict[str, Any]) -> dict[str, Any]:
    body = dict(values)
    if body.get("sectors"):
        body["sectors"] = [body["sectors"]]
    else:
        body.pop("sectors", None)
    return body


def _id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ApiError(404, "Không tìm thấy", "Mã cơ sở không hợp lệ") from None


def _province(officer: Officer) -> None:
    if officer.instance == "bo" or officer.is_unit:
        raise Forbidden("Sổ đăng ký cơ sở CNNT do Sở Công Thương các tỉnh quản lý")


def router() -> APIRouter:
    api = APIRouter()

    async def sector_labels(request: Request, officer: Officer) -> dict[str, str]:
        try:
            rules = await calls(request, officer).get("registry", "/rules")
        except ApiError:
            return {}
        labels = rules.get("sector_labels") or {}
        return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}

    @api.get("/co-so")
    async def search(request: Request, q: str = "", recognition: str = "", trang: int = 1) -> Response:
        officer = require(request)
        _province(officer)
        trang = max(1, min(trang, 10_000))
        params = {"q": q[:200], "limit": 50, "offset": (trang - 1) * 50}
        if recognition in ("ocop", "san_pham_cnnt_tieu_bieu"):
            params["recognition"] = recognition
        page = await calls(request, officer).get("registry", "/establishments", params=params)
        return render(
            request,
            "co_so_list.html",
            active="co-so",
            title="Cơ sở công nghiệp nông thôn",
            items=page["items"],
            total=page["total"],
            q=q,
            recognition=recognition,
            page=trang,
            pages=max(1, -(-page["total"] // 50)),
            may_register=officer.may("register"),
            legal_forms=dict(LEGAL_FORMS),
        )

    @api.get("/co-so/moi")
    async def new_page(request: Request) -> Response:
        officer = require(request)
        _province(officer)
        fields = with_sectors(establishment_fields(True), await sector_labels(request, officer))
        return _form(request, fields, {"unit_system": "tu_2025"}, {}, [], None)

    @api.post("/co-so/moi")
    async def register(request: Request) -> Response:
        officer = require(request)
        form = await checked_form(request)
        _province(officer)
        fields = with_sectors(establishment_fields(True), await sector_labels(request, officer))
        parsed = parse(form, fields)
        if parsed.errors:
            return _form(request, fields, parsed.raw, parsed.errors, [], None, status=422)
        try:
            made = await calls(request, officer).post("registry", "/establishments", json=body_of(parsed.values))
        except ApiError as exc:
            mine, other = refusal_errors(exc, fields)
            return _form(request, fields, parsed.raw, mine, other, None, status=422)
        ctx(request).store.log(officer.username, "dang_ky_co_so", f"{parsed.values.get('name')} ({made['id']})")
        return redirect(f"/co-so/{made['id']}", f"Đã đăng ký cơ sở {parsed.values.get('name')}.")

    def _form(
        request: Request,
        fields: list[Field],
        values: dict[str, Any],
        errors: dict[str, str],
        other: list[str],
        e: dict[str, Any] | None,
        status: int = 200,
    ) -> Response:
        return render(
            request,
            "co_so_form.html",
            status=status,
            active="co-so",
            title=f"Sửa thông tin: {e['details'].get('name')}" if e else "Đăng ký cơ sở CNNT",
            fields=fields,
            values=values,
            errors=errors,
            other_errors=other,
            e=e,
        )

    @api.get("/co-so/{eid}")
    async def page(request: Request, eid: str, ngay: str = "") -> Response:
        officer = require(request)
        _province(officer)
        api_calls = calls(request, officer)
        e = await api_calls.get("registry", f"/establishments/{_id(eid)}")
        eligibility: dict[str, Any] | None = None
        eligibility_error = ""
        try:
            on = parse_date(ngay).isoformat() if ngay else date.today().isoformat()
        except ValueError as exc:
            on, eligibility_error = date.today().isoformat(), str(exc)
        try:
            eligibility = await api_calls.get("registry", f"/establishments/{e['id']}/eligibility", params={"on": on})
        except ApiError as exc:
            if exc.status != 422:
                raise
            eligibility_error = exc.by_field().get("on") or exc.message
            eligibility = None
        priority: dict[str, Any] | None = None
        try:  # selection priority on the same day: official area lists, sectors, valid certificates, region
            priority = await api_calls.get("registry", f"/establishments/{e['id']}/priority", params={"on": on})
        except ApiError as exc:
            if exc.status != 422:
                raise
        recognitions = await api_calls.get(
            "registry", f"/establishments/{e['id']}/recognitions", params={"valid_on": None}
        )
        history = await api_calls.get("registry", f"/establishments/{e['id']}/history")
        return render(
            request,
            "co_so_page.html",
            active="co-so",
            title=e["details"].get("name", "Cơ sở"),
            e=e,
            d=e["details"],
            eligibility=eligibility,
            eligibility_error=eligibility_error,
            priority=priority,
            on=on,
            recognitions=recognitions,
            history=history,
            may_register=officer.may("register"),
            may_download=officer.may("read_documents"),
            legal_forms=dict(LEGAL_FORMS),
            document_kinds=DOCUMENT_KINDS,
            schemes=SCHEMES,
            levels=LEVELS,
            errors={},
            values={},
        )

    @api.get("/co-so/{eid}/sua")
    async def edit_page(request: Request, eid: str) -> Response:
        officer = require(request)
        _province(officer)
        e = await calls(request, officer).get("registry", f"/establishments/{_id(eid)}")
        fields = with_sectors(establishment_fields(False), await sector_labels(request, officer))
        values = {
            k: ("on" if v is True else "" if v is False else str(v))
            for k, v in e["details"].items()
            if not isinstance(v, list)
        }
        values["sectors"] = (e["details"].get("sectors") or [""])[0]
        return _form(request, fields, values, {}, [], e)

    @api.post("/co-so/{eid}/sua")
    async def edit(request: Request, eid: str) -> Response:
        officer = require(request)
        form = await checked_form(request)
        _province(officer)
        api_calls = calls(request, officer)
        e = await api_calls.get("registry", f"/establishments/{_id(eid)}")
        fields = with_sectors(establishment_fields(False), await sector_labels(request, officer))
        parsed = parse(form, fields)
        if parsed.errors:
            return _form(request, fields, parsed.raw, parsed.errors, [], e, status=422)
        version = str(form.get("version") or "")
        body = body_of(parsed.values) | {"version": int(version) if version.isdigit() else 0}
        try:
            await api_calls.patch("registry", f"/establishments/{e['id']}", json=body)
        except ApiError as exc:
            if exc.status == 409:
                seen = version or "?"
                message = (
                    f"Thông tin cơ sở đã được người khác sửa trong lúc bạn sửa (bạn sửa từ phiên bản {seen}, "
                    f"hiện tại là phiên bản {e['version']}). Chưa có gì được ghi. Hãy mở lại trang sửa để xem "
                    "thông tin mới nhất rồi sửa lại."
                )
                return _form(request, fields, parsed.raw, {}, [message], e, status=409)
            mine, other = refusal_errors(exc, fields, statuses=(422,))
            return _form(request, fields, parsed.raw, mine, other, e, status=422)
        ctx(request).store.log(officer.username, "sua_co_so", e["details"].get("name", ""))
        return redirect(f"/co-so/{e['id']}", "Đã lưu thông tin cơ sở.")

    @api.post("/co-so/{eid}/tai-lieu")
    async def upload(request: Request, eid: str) -> Response:
        officer = require(request)
        form = await checked_form(request)
        _province(officer)
        eid = _id(eid)
        kind = str(form.get("kind") or "")
        file = form.get("file")
        if kind not in dict(DOCUMENT_KINDS):
            return redirect(f"/co-so/{eid}#ho-so", "Chưa nộp: vui lòng chọn loại tài liệu.")
        if not isinstance(file, UploadFile) or not file.filename:
            return redirect(f"/co-so/{eid}#ho-so", "Chưa nộp: vui lòng chọn tệp tài liệu.")
        data = await file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            return redirect(f"/co-so/{eid}#ho-so", "Chưa nộp: tệp quá lớn (tối đa 10 MB).")
        try:
            await calls(request, officer).post(
                "registry",
                f"/establishments/{eid}/documents",
                data={"kind": kind},
                files={"file": (file.filename[:200], data, file.content_type or "application/octet-stream")},
            )
        except ApiError as exc:
            if exc.status not in (409, 413, 422):
                raise
            return redirect(f"/co-so/{eid}#ho-so", f"Chưa nộp: {exc.message}")
        ctx(request).store.log(officer.username, "nop_tai_lieu", f"{eid}: {kind}")
        return redirect(f"/co-so/{eid}#ho-so", "Đã nộp tài liệu; tài liệu chờ xác minh.")

    @api.post("/co-so/{eid}/tai-lieu/{sha256}/{decision}")
    async def decide(request: Request, eid: str, sha256: str, decision: str) -> Response:
        officer = require(request)
        form = await checked_form(request)
        _province(officer)
        eid = _id(eid)
        if decision not in ("xac-minh", "tu-choi") or len(sha256) != 64:
            raise ApiError(404, "Không tìm thấy", "Không có thao tác này")
        text = str(form.get("text") or "").strip()
        if decision == "tu-choi" and not text:
            return redirect(f"/co-so/{eid}#ho-so", "Chưa từ chối: cần nêu lý do từ chối.")
        if len(text) > 500:
            return redirect(
                f"/co-so/{eid}#ho-so", f"Chưa ghi: ghi chú quá dài (tối đa 500 ký tự, bạn nhập {len(text)})."
            )
        path = "verify" if decision == "xac-minh" else "reject"
        body = {"note": text or None} if path == "verify" else {"reason": text}
        try:
            await calls(request, officer).post(
                "registry", f"/establishments/{eid}/documents/{sha256}/{path}", json=body
            )
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            return redirect(f"/co-so/{eid}#ho-so", f"Chưa ghi: {exc.message}")
        done = "Đã xác minh tài liệu." if path == "verify" else "Đã từ chối tài liệu."
        ctx(request).store.log(
            officer.username, "xac_minh_tai_lieu" if path == "verify" else "tu_choi_tai_lieu", sha256[:12]
        )
        return redirect(f"/co-so/{eid}#ho-so", done)

    @api.get("/co-so/{eid}/tai-lieu/{sha256}")
    async def download(request: Request, eid: str, sha256: str) -> Response:
        officer = require(request)
        _province(officer)
        response = await calls(request, officer).get(
            "registry", f"/establishments/{_id(eid)}/documents/{sha256[:64]}", raw=True
        )
        return Response(
            response.content,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{sha256[:12]}"'},
        )

    @api.post("/co-so/{eid}/cong-nhan")
    async def recognise(request: Request, eid: str) -> Response:
        officer = require(request)
        form = await checked_form(request)
        _province(officer)
        eid = _id(eid)
        fields = [
            Field("scheme", "Loại công nhận", "select", options=SCHEMES),
            Field("product_name", "Tên sản phẩm", maxlength=300),
            Field("level", "Cấp", "select", required=False, options=LEVELS),
            Field("stars", "Hạng sao (OCOP)", "int", required=False, min=1, max=5),
            Field("decision_number", "Số quyết định", maxlength=100),
            Field("decision_date", "Ngày quyết định", "date"),
            Field("issuer", "Cơ quan công nhận", maxlength=300),
        ]
        parsed = parse(form, fields)
        message = "; ".join(f"{next(f.label for f in fields if f.name == k)}: {v}" for k, v in parsed.errors.items())
        if not message:
            try:
                await calls(request, officer).post(
                    "registry",
                    f"/establishments/{eid}/recognitions",
                    json={k: v for k, v in parsed.values.items() if v != ""},
                )
            except ApiError as exc:
                if exc.status not in (409, 422):
                    raise
                labels = {f.name: f.label for f in fields}
                message = "; ".join(f"{labels.get(k, k)}: {v}" for k, v in exc.by_field().items()) or exc.message
        if message:
            return redirect(f"/co-so/{eid}#cong-nhan", f"Chưa ghi công nhận — {message}")
        ctx(request).store.log(officer.username, "ghi_cong_nhan", f"{eid}: {parsed.values.get('product_name')}")
        return redirect(f"/co-so/{eid}#cong-nhan", "Đã ghi nhận giấy chứng nhận.")

    @api.get("/co-so-nhap")
    async def import_page(request: Request) -> Response:
        officer = require(request)
        _province(officer)
        return render(
            request, "co_so_import.html", active="co-so", title="Nhập danh sách cơ sở từ tệp .xlsx", report=None
        )

    @api.post("/co-so-nhap")
    async def import_file(request: Request) -> Response:
        officer = require(request)
        form = await checked_form(request)
        _province(officer)
        file = form.get("file")
        apply = form.get("apply") == "1"
        if not isinstance(file, UploadFile) or not file.filename:
            return render(
                request,
                "co_so_import.html",
                status=422,
                active="co-so",
                title="Nhập danh sách cơ sở từ tệp .xlsx",
                report=None,
                error="Vui lòng chọn tệp .xlsx hoặc .csv",
            )
        data = await file.read(MAX_UPLOAD + 1)
        report: dict[str, Any]
        try:
            report = await calls(request, officer).post(
                "registry",
                "/imports/establishments",
                params={"dry_run": "false" if apply else "true"},
                files={"file": (file.filename[:200], data, file.content_type or "application/octet-stream")},
            )
            report["problems"] = []
        except ApiError as exc:
            if exc.status not in (413, 422):
                raise
            report = {"problems": exc.errors, "message": exc.message}
        if apply and not report["problems"]:
            ctx(request).store.log(officer.username, "nhap_co_so", f"{report.get('applied')} cơ sở")
        return render(
            request,
            "co_so_import.html",
            status=422 if report["problems"] else 200,
            active="co-so",
            title="Nhập danh sách cơ sở từ tệp .xlsx",
            report=report,
            applied=apply,
            filename=file.filename,
        )

    return api
