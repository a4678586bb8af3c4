"""Báo cáo: the provincial view (a province's console) or the national one (the ministry's), with charts
(Chart.js, vendored), the programme indicators, the view as of a date, and the rebuild digest next to
the live one. The rebuild comparison is also the Kiểm toán page's (:mod:`kc_console.web.audit`)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import Calls
from kc_console.web.common import Forbidden, calls, ctx, render, require
from kc_console.web.forms import parse_date
from kc_kernel import vocabulary as vocab

REBUILD_TIMEOUT_S = 180.0  # a replay of the whole bus log (the ministry reads every province's)
EVERYTHING = "9999-12-31T23:59:59+00:00"  # an as-of rebuild that leaves nothing out (side tables)
SOURCES = (
    ("quoc_gia", "Ngân sách trung ương"),
    ("dia_phuong", "Ngân sách địa phương"),
    ("doi_ung", "Vốn đối ứng"),
    ("khac", "Nguồn khác"),
)
# the state support as it moves, beside each other (the programme view's amounts per status)
STAGES = (
    ("approved_vnd", "Phê duyệt"),
    ("contracted_vnd", "Hợp đồng"),
    ("advanced_vnd", "Tạm ứng"),
    ("accepted_vnd", "Nghiệm thu"),
    ("settled_vnd", "Quyết toán"),
)
GROUP_KINDS = {
    "activity": "activity_content",
    "status": "de_an_status",
    "province_now": "province",
    "province_code": "province_truoc_2025",
    "region": "region",
    "commune_code": "commune",
}


def _label(kind: str | None, code: Any) -> str:
    if code is None or code == "":
        return "Chưa xác định"
    if kind and vocab.has_label(kind, code):
        return vocab.label(kind, code)
    if kind == "province_truoc_2025" and vocab.has_label("province", code):
        return vocab.label("province", code)
    return str(code)


def table(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    kind = GROUP_KINDS.get(by)
    out = []
    for row in rows:
        total = sum(int(row.get(s) or 0) for s, _ in SOURCES)
        out.append(row | {"name": _label(kind, row.get(by)), "total": total})
    return out


def chart(rows: list[dict[str, Any]], title: str) -> str:
    """The data of a stacked bar chart (amounts by source, in millions of đồng), as JSON for charts.js."""
    return json.dumps(
        {
            "title": title,
            "labels": [r["name"] for r in rows],
            "datasets": [
                {"label": name, "data": [round(int(r.get(code) or 0) / 1_000_000, 1) for r in rows]}
                for code, name in SOURCES
            ],
            "unit": "triệu đồng",
        },
        ensure_ascii=False,
    )


def end_of_day(text: str) -> str:
    """A date typed dd/mm/yyyy → the end of that day in Viet Nam, as an ISO moment."""
    day = parse_date(text)
    return (datetime.combine(day, datetime.min.time(), vocab.VIETNAM_TIME) + timedelta(days=1, seconds=-1)).isoformat()


async def rebuild_comparison(api: Calls, where: str, attempts: int = 3) -> dict[str, Any]:
    """As ``kc audit rebuild``: replay the bus into side tables (the live view untouched), compare digests."""
    attempt = 0
    while attempt < attempts:
        attempt += 1
        began = time.perf_counter()
        rebuilt = await api.get(
            "planning", "/views/as-of", instance=where, params={"at": EVERYTHING}, wait_s=REBUILD_TIMEOUT_S
        )
        seconds = time.perf_counter() - began
        live = (await api.get("planning", "/views/digest", instance=where))["digest"]
        if rebuilt["digest"] == live:
            break
    return {
        "events": rebuilt["events"],
        "seconds": round(seconds, 1),
        "rebuilt": rebuilt["digest"],
        "live": live,
        "equal": rebuilt["digest"] == live,
        "attempts": attempt,
    }


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/bao-cao")
    async def reports(request: Request, nam: str = "", ngay: str = "", dung_lai: int = 0) -> Response:
        officer = require(request)
        if not officer.may("read") or officer.is_unit:
            raise Forbidden("Vai trò của bạn không xem báo cáo tổng hợp")
        where = ctx(request).settings.instance
        api_calls = calls(request, officer)
        year = int(nam) if nam.isdigit() and 2010 <= int(nam) <= 2100 else None
        national = where == "bo"
        params: dict[str, Any] = {"year": year}
        error, as_of = "", ""
        if ngay:
            try:
                as_of = end_of_day(ngay)
            except ValueError as exc:
                error = str(exc)
        if as_of:
            view = await api_calls.get(
                "planning",
                "/views/as-of",
                instance=where,
                params={"at": as_of, "year": year},
                wait_s=REBUILD_TIMEOUT_S,
            )
            data = view["national"] if national else view["province"]
            digest = view["digest"]
        else:
            if national:
                data = await api_calls.get("planning", "/views/national", instance=where, params=params)
            else:
                params["province_code"] = where.removeprefix("tinh-")
                data = await api_calls.get("planning", "/views/province", instance=where, params=params)
            digest = (await api_calls.get("planning", "/views/digest", instance=where))["digest"]
        comparison = await rebuild_comparison(api_calls, where) if dung_lai else None
        groups = (
            [
                ("by_province_now", "province_now", "Theo tỉnh (sau sáp nhập 2025)"),
                ("by_region", "region", "Theo vùng"),
                ("by_activity", "activity", "Theo nội dung hoạt động"),
            ]
            if national
            else [
                ("by_activity", "activity", "Theo nội dung hoạt động"),
                ("by_status", "status", "Theo trạng thái"),
                ("by_commune", "commune_code", "Theo xã, phường"),
            ]
        )
        sections = [(title, table(data.get(key) or [], by)) for key, by, title in groups]
        totals = table(data.get("totals") or [], "all")
        first_title, first_rows = sections[0]
        return render(
            request,
            "reports.html",
            active="bao-cao",
            title="Báo cáo toàn quốc" if national else f"Báo cáo khuyến công {ctx(request).instance_name}",
            sections=sections,
            stages=STAGES,
            by_status=table(data.get("by_status") or [], "status"),
            totals=totals[0] if totals else None,
            indicators=data.get("indicators"),
            chart_data=chart(first_rows, first_title),
            sources=SOURCES,
            year=year or "",
            ngay=ngay,
            as_of=as_of,
            digest=digest,
            comparison=comparison,
            error=error,
        )

    return api
