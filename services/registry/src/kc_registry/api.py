"""HTTP API of the registry (FastAPI). Thin: validate, call the application, shape the answer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from kc_registry.application import RegistryApplication
from kc_registry.domain.establishment import LegalForm


class RegisterEstablishment(BaseModel):
    name: str = Field(
        min_length=1, max_length=300, description="Tên cơ sở", examples=["Cơ sở đúc đồng Đông Hà"]
    )
    province_code: str = Field(description="Mã tỉnh (2 chữ số)", examples=["40"])
    commune_code: str = Field(description="Mã xã/phường (5 chữ số)", examples=["16681"])
    legal_form: LegalForm


class EstablishmentOut(BaseModel):
    id: UUID
    version: int
    name: str
    province_code: str
    commune_code: str
    legal_form: LegalForm


def router() -> APIRouter:
    api = APIRouter(tags=["establishments"])

    def application(request: Request) -> RegistryApplication:
        app: RegistryApplication = request.app.state.application
        return app

    @api.post("/establishments", status_code=201, response_model=EstablishmentOut)
    def register(
        body: RegisterEstablishment,
        request: Request,
        x_actor: Annotated[str, Header()] = "anonymous",
        x_correlation_id: Annotated[str | None, Header()] = None,
    ) -> EstablishmentOut:
        e = application(request).register_establishment(
            name=body.name,
            province_code=body.province_code,
            commune_code=body.commune_code,
            legal_form=body.legal_form,
            actor=x_actor,
            correlation_id=x_correlation_id,
        )
        return EstablishmentOut(
            id=e.id,
            version=e.version,
            name=e.name,
            province_code=e.province_code,
            commune_code=e.commune_code,
            legal_form=LegalForm(e.legal_form),
        )

    @api.get("/establishments/{establishment_id}", response_model=EstablishmentOut)
    def get(establishment_id: UUID, request: Request) -> EstablishmentOut:
        e = application(request).get_establishment(establishment_id)
        return EstablishmentOut(
            id=e.id,
            version=e.version,
            name=e.name,
            province_code=e.province_code,
            commune_code=e.commune_code,
            legal_form=LegalForm(e.legal_form),
        )

    return api
