"""Hội đồng thẩm định and thẩm định thực tế: the councils (decision, chair, secretary, members from the
roster, the đề án appraised; each member's declaration and opinion; the minutes with the result the
service computed), the roster, the field trips (visits on set dates, findings per visit).

A council member (``hoi_dong``) signed in sees only the councils they sit on and, on each, their own
forms: the conflict-of-interest declaration, then their opinion (and score) — or, after declaring a
conflict, a notice that they do not vote — and, as chair or secretary, the minutes. The Sở (or the
Cục) founds councils, keeps the roster and schedules field trips. The appraisal service decides.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError, Calls
from kc_console.roles import Officer
from kc_console.web.common import Forbidden, calls, checked_form, ctx, redirect, render, require
from kc_console.web.de_an_actions import CONCLUSIONS, defaults
from kc_console.web.forms import Field, nest, parse, refusal_errors
from kc_kernel import vocabulary as vocab

ROWS = 5
STAGES = (("co_so", "Thẩm định cấp cơ sở (Sở Công Thương)"), ("cap_bo", "Thẩm định cấp Bộ (Cục)"))
OUTCOMES = tuple((c, vocab.label("visit_outcome", c)) for c in ("dat", "can_bo_sung", "khong_dat"))
ENROL_FIELDS = [
    Field("subject", "Tên đăng nhập", maxlength=100, hint="Tài khoản người đó dùng để đăng nhập bảng điều khiển"),
    Field("name", "Họ tên", maxlength=200),
    Field("title", "Chức vụ", required=False, maxlength=200),
    Field("organisation", "Cơ quan", required=False, maxlength=200),
]
DECLARATION_FIELDS = [
    Field(
        "conflict", "Tôi có xung đột lợi ích với đề án này (khi đó tôi không cho ý kiến)", "checkbox", required=False
    ),
    Field("signed_on", "Ngày ký cam kết", "date", default="today"),
    Field("note", "Ghi chú", required=False, maxlength=500),
]
MINUTES_FIELDS = [
    Field("number", "Số biên bản", maxlength=100, hint="Ví dụ 01/BB-HĐTĐ"),
    Field("held_on", "Ngày họp", "date", default="today"),
]
FINDINGS_FIELDS = [
    Field("findings", "Kết quả thẩm định thực tế", "textarea", maxlength=500),
    Field("outcome", "Đánh giá", "select", options=OUTCOMES),
    Field("recorded_on", "Ngày ghi", "date", default="today"),
]


def opinion_fields(scoresheet: str | None) -> list[Field]:
    fields = [Field("conclusion", "Ý kiến", "select", options=CONCLUSIONS)]
    if scoresheet:
        fields.append(Field("score", f"Điểm ({vocab.label('scoresheet', scoresheet)})", "int", min=0, max=100))
    return [
        *fields,
        Field("given_on", "Ngày cho ý kiến", "date", default="today"),
        Field("comment", "Nhận xét", "textarea", required=False, maxlength=500),
    ]


def found_fields(people: list[dict[str, Any]], de_an: list[dict[str, Any]]) -> list[Field]:
    persons = tuple((p["subject"], f"{p['name']} — {p.get('title') or p['subject']}") for p in people)
    projects = tuple((d["id"], f"{d['code']} — {d['title']}") for d in de_an)
    fields = [
        Field("name", "Tên hội đồng", maxlength=300),
        Field("stage", "Cấp thẩm định", "select", options=STAGES),
        Field("decision_number", "Số quyết định thành lập", maxlength=100, hint="Ví dụ 215/QĐ-SCT"),
        Field("decided_on", "Ngày quyết định", "date", default="today"),
        Field("signer", "Người ký quyết định", maxlength=200),
        Field("chair", "Chủ tịch hội đồng", "select", options=(("", "—"), *persons)),
        Field("secretary", "Thư ký hội đồng", "select", options=(("", "—"), *persons)),
    ]
    fields += [
        Field(f"members.{i}", f"Ủy viên {i + 1}", "select", required=False, options=(("", "—"), *persons))
        for i in range(ROWS)
    ]
    fields += [
        Field(f"de_an_ids.{i}", f"Đề án thẩm định {i + 1}", "select", required=i == 0, options=(("", "—"), *projects))
        for i in range(ROWS)
    ]
    return fields


def trip_fields(de_an: list[dict[str, Any]]) -> list[Field]:
    projects = tuple((d["id"], f"{d['code']} — {d['title']}") for d in de_an)
    fields = [
        Field("name", "Tên đoàn", maxlength=300, hint="Ví dụ: Đoàn thẩm định thực tế tại cơ sở, tháng 3/2024"),
        Field("decision_number", "Số quyết định lập đoàn", maxlength=100),
        Field("starts_on", "Từ ngày", "date"),
        Field("ends_on", "Đến ngày", "date"),
        Field("team", "Thành viên đoàn (cách nhau bằng dấu phẩy)", maxlength=1000),
    ]
    for i in range(ROWS):
        fields += [
            Field(
                f"visits.{i}.de_an_id",
                f"Lần thăm {i + 1}: đề án",
                "select",
                required=i == 0,
                options=(("", "—"), *projects),
            ),
            Field(f"visits.{i}.on", f"Lần thăm {i + 1}: ngày", "date", required=i == 0),
            Field(f"visits.{i}.place", f"Lần thăm {i + 1}: địa điểm (cơ sở, xã)", required=i == 0, maxlength=300),
        ]
    return fields


def found_body(values: dict[str, Any]) -> dict[str, Any]:
    body = nest(values)
    body["members"] = [m for m in body.get("members", []) if m]
    body["de_an_ids"] = list(dict.fromkeys(d for d in body.get("de_an_ids", []) if d))
    return body


def trip_body(values: dict[str, Any]) -> dict[str, Any]:
    body = nest(values)
    body["team"] = [t.strip() for t in str(body.get("team") or "").split(",") if t.strip()]
    body["visits"] = [v for v in body.get("visits", []) if isinstance(v, dict) and v.get("de_an_id")]
    return body


def router() -> APIRouter:
    api = APIRouter()

    def may_found(officer: Officer) -> bool:
        return officer.may("found_council")

    async def _candidates(api_calls: Calls, where: str) -> list[dict[str, Any]]:
        """Đề án a council may appraise or a trip visit: those submitted or past the base appraisal."""
        found: list[dict[str, Any]] = []
        for status in ("da_nop", "dat_co_so", "da_gui_bo", "de_xuat"):
            listed = await api_calls.get("appraisal", "/de-an", instance=where, params={"status": status, "limit": 100})
            found += listed.get("items", [])
        own = [{"id": d["de_an_id"], "code": d["code"], "title": d["title"]} for d in found]
        if where != "bo":
            return own
        # at the ministry: the provinces' national đề án sent up for the ministry-level appraisal
        sent = await api_calls.get("appraisal", "/national-de-an", instance=where, params={"status": "da_gui_bo"})
        return own + [
            {
                "id": d["de_an_id"],
                "code": d["code"],
                "title": f"{d['title']} ({vocab.label('instance', d['instance'])})",
            }
            for d in sent.get("items", [])
        ]

    async def _list(
        request: Request,
        officer: Officer,
        *,
        status: int = 200,
        form: str = "",
        errors: dict[str, str] | None = None,
        other: list[str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> Response:
        api_calls = calls(request, officer)
        where = officer.instance
        councils = (await api_calls.get("appraisal", "/councils", instance=where))["items"]
        trips = (
            (await api_calls.get("appraisal", "/field-trips", instance=where))["items"] if not _bound(officer) else []
        )
        people: list[dict[str, Any]] = []
        candidates: list[dict[str, Any]] = []
        if may_found(officer):
            people = (await api_calls.get("appraisal", "/roster", instance=where))["people"]
            candidates = await _candidates(api_calls, where)
        found = found_fields(people, candidates)
        trip = trip_fields(candidates)
        return render(
            request,
            "councils.html",
            status=status,
            active="hoi-dong",
            title="Hội đồng thẩm định",
            councils=councils,
            trips=trips,
            people=people,
            may_found=may_found(officer),
            member_view=_bound(officer),
            enrol_fields=ENROL_FIELDS,
            found_fields=found,
            trip_fields=trip,
            form=form,
            errors=errors or {},
            other_errors=other or [],
            values=values or (defaults(found) | defaults(trip) | defaults(ENROL_FIELDS)),
            rows=ROWS,
        )

    @api.get("/hoi-dong")
    async def list_page(request: Request) -> Response:
        officer = require(request)
        return await _list(request, officer)

    async def _create(request: Request, name: str, fields_of: Any, path: str, body_of: Any, done: str) -> Response:
        officer = require(request)
        if not may_found(officer):
            raise Forbidden("Chỉ Sở Công Thương (hoặc Cục) thành lập hội đồng, lập danh sách và đoàn thẩm định")
        form = await checked_form(request)
        api_calls = calls(request, officer)
        people = (await api_calls.get("appraisal", "/roster", instance=officer.instance))["people"]
        fields = fields_of(people, await _candidates(api_calls, officer.instance))
        parsed = parse(form, fields)
        if parsed.errors:
            return await _list(request, officer, status=422, form=name, errors=parsed.errors, values=parsed.raw)
        try:
            created = await api_calls.post("appraisal", path, instance=officer.instance, json=body_of(parsed.values))
        except ApiError as exc:
            mine, other = refusal_errors(exc, fields, statuses=(404, 409, 422))
            return await _list(request, officer, status=422, form=name, errors=mine, other=other, values=parsed.raw)
        ctx(request).store.log(officer.username, name, path)
        if path == "/councils":
            return redirect(f"/hoi-dong/{created['id']}", done)
        if path == "/field-trips":
            return redirect(f"/hoi-dong/doan/{created['id']}", done)
        return redirect("/hoi-dong", done)

    @api.post("/hoi-dong/danh-sach")
    async def enrol(request: Request) -> Response:
        return await _create(
            request,
            "danh-sach",
            lambda _p, _d: ENROL_FIELDS,
            "/roster",
            nest,
            "Đã thêm vào danh sách cán bộ, chuyên gia.",
        )

    @api.post("/hoi-dong/moi")
    async def found(request: Request) -> Response:
        return await _create(
            request, "thanh-lap", found_fields, "/councils", found_body, "Đã thành lập hội đồng thẩm định."
        )

    @api.post("/hoi-dong/doan")
    async def schedule(request: Request) -> Response:
        return await _create(
            request, "doan", lambda _p, d: trip_fields(d), "/field-trips", trip_body, "Đã lên lịch thẩm định thực tế."
        )

    # -- one council ----------------------------------------------------------------------------------------------
    async def _council(
        request: Request,
        officer: Officer,
        council_id: str,
        *,
        status: int = 200,
        form: str = "",
        errors: dict[str, str] | None = None,
        other: list[str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> Response:
        council = await calls(request, officer).get(
            "appraisal", f"/councils/{_id(council_id)}", instance=officer.instance
        )
        names = {m["subject"]: m["name"] for m in council["members"]}
        ops = opinion_fields(council.get("scoresheet"))
        return render(
            request,
            "council_page.html",
            status=status,
            active="hoi-dong",
            title=council["name"],
            k=council,
            names=names,
            seat=council.get("viewer"),
            declaration_fields=DECLARATION_FIELDS,
            opinion_fields=ops,
            minutes_fields=MINUTES_FIELDS,
            form=form,
            errors=errors or {},
            other_errors=other or [],
            values=values or (defaults(DECLARATION_FIELDS) | defaults(ops) | defaults(MINUTES_FIELDS)),
        )

    @api.get("/hoi-dong/{council_id}")
    async def council_page(request: Request, council_id: str) -> Response:
        officer = require(request)
        return await _council(request, officer, council_id)

    async def _member_act(request: Request, council_id: str, de_an_id: str, act: str) -> Response:
        officer = require(request)
        if not officer.may("council_member"):
            raise Forbidden(
                "Chỉ thành viên hội đồng (đăng nhập bằng tài khoản của mình) ký cam kết, cho ý kiến, lập biên bản"
            )
        form = await checked_form(request)
        api_calls = calls(request, officer)
        council = await api_calls.get("appraisal", f"/councils/{_id(council_id)}", instance=officer.instance)
        fields = {
            "cam-ket": DECLARATION_FIELDS,
            "y-kien": opinion_fields(council.get("scoresheet")),
            "bien-ban": MINUTES_FIELDS,
        }[act]
        name = f"{act}-{de_an_id}"
        parsed = parse(form, fields)
        if parsed.errors:
            return await _council(
                request, officer, council_id, status=422, form=name, errors=parsed.errors, values=parsed.raw
            )
        path = {"cam-ket": "declarations", "y-kien": "opinions", "bien-ban": "minutes"}[act]
        body = parsed.values | {"de_an_id": de_an_id, "version": council["version"]}
        if act == "cam-ket":
            body["conflict"] = bool(parsed.values.get("conflict"))
        try:
            await api_calls.post("appraisal", f"/councils/{council['id']}/{path}", instance=officer.instance, json=body)
        except ApiError as exc:
            mine, other = refusal_errors(exc, fields, statuses=(403, 404, 409, 422))
            return await _council(
                request, officer, council_id, status=exc.status, form=name, errors=mine, other=other, values=parsed.raw
            )
        ctx(request).store.log(officer.username, f"hoi-dong-{act}", f"{council['name']}: {de_an_id}")
        done = {"cam-ket": "Đã ký cam kết.", "y-kien": "Đã ghi ý kiến của bạn.", "bien-ban": "Đã lập biên bản."}[act]
        return redirect(f"/hoi-dong/{council['id']}", done)

    @api.post("/hoi-dong/{council_id}/{de_an_id}/{act}")
    async def member_act(request: Request, council_id: str, de_an_id: str, act: str) -> Response:
        if act not in ("cam-ket", "y-kien", "bien-ban"):
            raise ApiError(404, "Không tìm thấy", "Không có thao tác này / no such act")
        return await _member_act(request, council_id, _id(de_an_id), act)

    # -- one field trip -------------------------------------------------------------------------------------------
    async def _trip(
        request: Request,
        officer: Officer,
        trip_id: str,
        *,
        status: int = 200,
        form: str = "",
        errors: dict[str, str] | None = None,
        other: list[str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> Response:
        trip = await calls(request, officer).get("appraisal", f"/field-trips/{_id(trip_id)}", instance=officer.instance)
        return render(
            request,
            "field_trip.html",
            status=status,
            active="hoi-dong",
            title=trip["name"],
            t=trip,
            may_record=may_found(officer),
            findings_fields=FINDINGS_FIELDS,
            form=form,
            errors=errors or {},
            other_errors=other or [],
            values=values or defaults(FINDINGS_FIELDS),
        )

    @api.get("/hoi-dong/doan/{trip_id}")
    async def trip_page(request: Request, trip_id: str) -> Response:
        officer = require(request)
        return await _trip(request, officer, trip_id)

    @api.post("/hoi-dong/doan/{trip_id}/ket-qua/{visit}")
    async def findings(request: Request, trip_id: str, visit: int) -> Response:
        officer = require(request)
        if not may_found(officer):
            raise Forbidden("Chỉ Sở Công Thương (hoặc Cục) ghi kết quả thẩm định thực tế")
        form = await checked_form(request)
        parsed = parse(form, FINDINGS_FIELDS)
        name = f"ket-qua-{visit}"
        if parsed.errors:
            return await _trip(
                request, officer, trip_id, status=422, form=name, errors=parsed.errors, values=parsed.raw
            )
        try:
            await calls(request, officer).post(
                "appraisal",
                f"/field-trips/{_id(trip_id)}/findings",
                instance=officer.instance,
                json=parsed.values | {"visit": visit},
            )
        except ApiError as exc:
            mine, other = refusal_errors(exc, FINDINGS_FIELDS, statuses=(404, 409, 422))
            return await _trip(
                request, officer, trip_id, status=422, form=name, errors=mine, other=other, values=parsed.raw
            )
        ctx(request).store.log(officer.username, "tham-dinh-thuc-te", f"{trip_id}: {visit}")
        return redirect(f"/hoi-dong/doan/{_id(trip_id)}", "Đã ghi kết quả lần thăm.")

    return api


def _bound(officer: Officer) -> bool:
    from kc_runtime.web.auth import ROLES

    role = ROLES.get(officer.role)
    return role is not None and role.council_bound


def _id(text: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ApiError(404, "Không tìm thấy", "Mã không hợp lệ / not an id") from None
