"""Public events of the registry service (cơ sở công nghiệp nông thôn)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from kc_contracts.base import ContractEvent, contract


@contract
class EstablishmentRegisteredV1(ContractEvent):
    """A rural industrial establishment (cơ sở CNNT) was registered by a province."""

    type = "registry.establishment.registered"
    version = 1

    establishment_id: UUID
    name: str = Field(description="Tên cơ sở (UTF-8 NFC)")
    province_code: str = Field(description="Mã tỉnh as recorded, e.g. '40'")
    commune_code: str = Field(description="Mã xã/phường as recorded")
    legal_form: str = Field(description="Loại hình: doanh_nghiep, hop_tac_xa, ho_kinh_doanh ...")
    registered_at: datetime
