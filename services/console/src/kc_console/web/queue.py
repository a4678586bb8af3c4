"""Việc cần làm: the signed-in officer's work queue — đề án waiting for their action, dossier documents
to verify, the plan calendar's deadlines with working days left, and what is overdue."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from functools import cache
from typing import Any

import holidays
from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError, Calls, Unavailable
from kc_console.roles import Officer
from kc_console.web.common import NotSignedIn, calls, current, redirect, render
from kc_console.web.de_an_actions import holds
from kc_kernel import vocabulary as vocab

# status → (permission that acts on it, what is awaited); see the appraisal lifecycle
WAITING: dict[str, tuple[str, str]] = {
    "du_thao": ("draft", "Hoàn thiện và nộp hồ sơ"),
    "da_nop": ("appraise", "Thẩm định cơ sở hoặc trả lại"),
    "dat_co_so": ("appraise", "Gửi Bộ (quốc gia) hoặc đề xuất vào kế hoạch (địa phương)"),
    "da_gui_bo": ("appraise_national", "Thẩm định cấp Bộ"),
    "dat_cap_bo": ("appraise", "Đề xuất vào kế hoạch quốc gia"),
    "de_xuat": ("approve_plan", "Phê duyệt trong kế hoạch (Kế hoạch → Phê duyệt đợt)"),
    "da_phe_duyet": ("appraise", "Ký hợp đồng"),
    "da_ky_hop_dong": ("draft", "Báo cáo tiến độ, tạm ứng, báo cáo hoàn thành"),
    "hoan_thanh": ("appraise", "Nghiệm thu"),
    "dung_thuc_hien": ("appraise", "Nghiệm thu phần đã thực hiện"),
    "da_nghiem_thu": ("appraise", "Quyết toán"),
    "da_quyet_toan": ("appraise", "Đóng đề án"),
}
DOCUMENTS_SHOWN = 50  # documents awaiting verification listed on the page (the oldest first)


@cache
def _vn_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=[year - 1, year, year + 1])


def working_days(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (Monday–Friday, not a public holiday);
    negative when ``end`` has passed."""
    if end < start:
        return -working_days(end, start)
    days, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in _vn_holidays(day.year):
            days += 1
    return days


# the ministry's decisions on a province's national đề án, by the status its record shows (on bo)
MINISTRY_WAITING: dict[str, tuple[str, str, str]] = {
    "da_gui_bo": ("tham_dinh_cap_bo", "appraise_national", "Thẩm định cấp Bộ"),
    "da_phe_duyet": ("ky_hop_dong", "implement_national", "Ký hợp đồng (Cục)"),
    "da_nghiem_thu": ("quyet_toan", "implement_national", "Quyết toán (Cục)"),
}
# on a province, what the ministry decides for a national đề án is not the province's to do
DECIDED_BY_MINISTRY = {"da_gui_bo", "da_phe_duyet", "da_nghiem_thu"}


async def ministry_waiting(api: Calls, officer: Officer) -> list[dict[str, Any]]:
    """At the ministry: the provinces' national đề án whose record waits for a decision of this officer's
    role (appraisal, contract, settlement; an adjustment whose authority the role holds)."""
    if officer.instance != "bo" or not api.backend.has("appraisal", "bo") or not officer.may("read", "bo"):
        return []
    try:
        page = await api.get("appraisal", "/national-de-an", instance="bo", params={"limit": 500})
        rules = await api.get("appraisal", "/rules", instance="bo")
    except (ApiError, Unavailable):
        return []
    out = []
    for r in page.get("items", []):
        if r.get("awaiting"):
            continue
        awaited = None
        if (
            r.get("required_authority")
            and officer.may("decide_adjustment", "bo")
            and holds(rules, officer, r["required_authority"], "bo")
        ):
            awaited = f"Quyết định điều chỉnh ({vocab.label('authority', r['required_authority'])})"
        elif r.get("status") in MINISTRY_WAITING:
            _, permission, text = MINISTRY_WAITING[r["status"]]
            awaited = text if officer.may(permission, "bo") else None
        if awaited:
            out.append(r | {"where": r["instance"], "awaited": awaited, "updated_at": r.get("updated_at")})
    return out


async def waiting_de_an(api: Calls, officer: Officer) -> list[dict[str, Any]]:
    backend = api.backend
    wanted = set(WAITING)
    places = [i for i in backend.instances() if backend.has("appraisal", i) and officer.may("read", i)] or [
        officer.instance
    ]

    async def one(where: str) -> list[dict[str, Any]]:
        try:
            page = await api.get("appraisal", "/de-an", instance=where, params={"limit": 500})
        except (ApiError, Unavailable):
            return []
        out = []
        for d in page.get("items", []):
            status = d.get("status")
            if status not in wanted:
                continue
            permission, awaited = WAITING[status]
            if d.get("level") == "quoc_gia" and status in DECIDED_BY_MINISTRY and where != "bo":
                continue  # the ministry decides it on its own instance (its record: ``ministry_waiting``)
            if officer.may(permission, where):
                out.append(d | {"where": where, "awaited": awaited})
        return out

    found = await asyncio.gather(*(one(w) for w in places), ministry_waiting(api, officer))
    return sorted((d for chunk in found for d in chunk), key=lambda d: str(d.get("updated_at", "")), reverse=True)


async def documents_to_verify(api: Calls, officer: Officer) -> tuple[list[dict[str, Any]], int]:
    """The dossier documents waiting for verification in the officer's province, oldest first: one query
    of the registry (``GET /documents?status=cho_xac_minh``), the registry checking the role and scope."""
    where = officer.instance
    if where == "bo" or not officer.may("register") or not api.backend.has("registry", where):
        return [], 0
    try:
        page = await api.get("registry", "/documents", params={"status": "cho_xac_minh", "limit": DOCUMENTS_SHOWN})
    except (ApiError, Unavailable):
        return [], 0
    return list(page.get("items", [])), int(page.get("total", 0))


async def deadlines(api: Calls, officer: Officer, today: date) -> list[dict[str, Any]]:
    """The plan calendars' milestones for this year and next: own instance's local plan, the national plan."""
    wanted: list[tuple[str, str]] = []
    if officer.instance != "bo":
        wanted.append((officer.instance, "dia_phuong"))
    wanted.append(("bo", "quoc_gia"))
    years = (today.year, today.year + 1)

    async def one(where: str, level: str, year: int) -> list[dict[str, Any]]:
        if not api.backend.has("planning", where) or not officer.may("read_public", where):
            return []
        try:
            cal = await api.get("planning", f"/calendars/{level}/{year}", instance=where)
        except (ApiError, Unavailable):
            return []
        out = []
        for kind, day_text in (cal.get("milestones") or {}).items():
            day = date.fromisoformat(str(day_text)[:10])
            out.append(
                {
                    "level": level,
                    "year": year,
                    "kind": kind,
                    "label": {
                        "registration_deadline": "Hạn đăng ký kế hoạch",
                        "dossier_deadline": "Hạn nộp hồ sơ đề án",
                    }.get(kind, kind),
                    "day": day,
                    "working_days": working_days(today, day),
                    "legal_basis": cal.get("legal_basis", ""),
                }
            )
        return out

    chunks = await asyncio.gather(*(one(w, lv, y) for w, lv in wanted for y in years))
    return sorted((m for chunk in chunks for m in chunk), key=lambda m: m["day"])


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/")
    async def queue(request: Request) -> Response:
        officer = require_any(request)
        if officer is None:
            return redirect("/dang-nhap")
        if officer.is_admin:
            return redirect("/quan-tri")
        today = date.today()
        api_calls = calls(request, officer)
        de_an, (documents, documents_total), milestones = await asyncio.gather(
            waiting_de_an(api_calls, officer),
            documents_to_verify(api_calls, officer),
            deadlines(api_calls, officer, today),
        )
        upcoming = [m for m in milestones if m["day"] >= today]
        overdue = [m for m in milestones if m["day"] < today and m["year"] >= today.year]
        return render(
            request,
            "queue.html",
            active="viec-can-lam",
            title="Việc cần làm",
            de_an=de_an,
            documents=documents,
            documents_total=documents_total,
            upcoming=upcoming,
            overdue=overdue,
            today=today,
            label_status=lambda s: vocab.label("de_an_status", s),
        )

    return api


def require_any(request: Request) -> Officer | None:
    """The officer, None when nobody is signed in (the sign-in page), or expired (says so)."""
    officer = current(request)
    if officer is None and request.state.session_expired:
        raise NotSignedIn(expired=True)
    return officer
