"""Tra cứu công khai (no sign-in): a đề án's status by its code, and the approved plans as published
open data — nothing personal, no dossier. The console asks the services as the public
(``cong_chung`` in a province, ``tich_hop`` at the ministry: read_public only)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError, Unavailable
from kc_console.roles import Officer
from kc_console.web.common import ctx, render


def public_officer(instance: str) -> Officer:
    role = "tich_hop" if instance == "bo" else "cong_chung"
    return Officer(username="cong-chung", name="Tra cứu công khai", role=role, instance=instance)


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/tra-cuu")
    async def lookup(request: Request, ma: str = "", cap: str = "", nam: str = "") -> Response:
        c = ctx(request)
        public = public_officer(c.settings.instance)
        api_calls = c.backend.for_officer(public)
        code = " ".join(ma.split())[:50]
        found: list[dict[str, Any]] = []
        error = ""
        if code:
            places = [
                i for i in c.backend.instances() if c.backend.has("appraisal", i) and public.may("read_public", i)
            ]

            async def one(where: str) -> dict[str, Any] | None:
                try:
                    result: dict[str, Any] = await api_calls.get(
                        "appraisal", "/public/de-an", instance=where, params={"code": code}
                    )
                    return result
                except (ApiError, Unavailable):
                    return None

            found = [r for r in await asyncio.gather(*(one(w) for w in places)) if r]
            if not found:
                error = f"Không tìm thấy đề án có mã {code}."
        level = cap if cap in ("quoc_gia", "dia_phuong") else "quoc_gia"
        year = int(nam) if nam.isdigit() and 2010 <= int(nam) <= 2100 else date.today().year
        where = "bo" if level == "quoc_gia" else c.settings.instance
        open_data: dict[str, Any] | None = None
        open_error = ""
        if c.backend.has("planning", where) and public.may("read_public", where):
            try:
                open_data = await api_calls.get("planning", f"/open-data/360giving/{level}/{year}", instance=where)
            except ApiError as exc:
                open_error = exc.message
            except Unavailable:
                open_error = "Dịch vụ kế hoạch chưa sẵn sàng."
        grants = (open_data or {}).get("grants", [])
        return render(
            request,
            "public.html",
            active="tra-cuu",
            title="Tra cứu công khai",
            code=code,
            found=found,
            error=error,
            level=level,
            year=year,
            grants=grants,
            open_error=open_error,
            province_console=c.settings.instance != "bo",
        )

    return api
