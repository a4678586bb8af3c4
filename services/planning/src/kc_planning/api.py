"""HTTP API of the planning service: views (more come with plans and calendars)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from kc_planning.projections.establishments import EstablishmentsView


class CommuneCount(BaseModel):
    province_code: str
    commune_code: str
    establishments: int


def router() -> APIRouter:
    api = APIRouter(tags=["views"])

    @api.get("/views/establishments", response_model=list[CommuneCount])
    def establishments_by_commune(
        request: Request,
        province_code: str | None = Query(None, pattern=r"^\d{2}$", description="Mã tỉnh"),
    ) -> list[CommuneCount]:
        view: EstablishmentsView = request.app.state.establishments
        return [CommuneCount(**row) for row in view.by_commune(province_code)]

    return api
