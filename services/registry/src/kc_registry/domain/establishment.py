"""Cơ sở công nghiệp nông thôn (CNNT): the establishments the programme supports (ND 45/2012 Art. 2)."""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from eventsourcing.domain import Aggregate, event


class LegalForm(StrEnum):
    """Loại hình pháp lý của cơ sở (ND 45/2012 Art. 2, as amended by ND 235/2025)."""

    doanh_nghiep_nho_va_vua = "doanh_nghiep_nho_va_vua"
    hop_tac_xa = "hop_tac_xa"
    lien_hiep_hop_tac_xa = "lien_hiep_hop_tac_xa"
    to_hop_tac = "to_hop_tac"
    ho_kinh_doanh = "ho_kinh_doanh"


class EstablishmentError(ValueError):
    """A registry rule was broken; the message is Vietnamese first, then English."""


class Establishment(Aggregate):
    class Registered(Aggregate.Created):
        name: str
        province_code: str
        commune_code: str
        legal_form: str
        actor: str
        correlation_id: str | None

    @classmethod
    def register(
        cls,
        *,
        name: str,
        province_code: str,
        commune_code: str,
        legal_form: LegalForm,
        actor: str,
        correlation_id: str | None = None,
    ) -> Establishment:
        clean = unicodedata.normalize("NFC", " ".join(name.split()))
        if not clean:
            raise EstablishmentError("Tên cơ sở không được để trống / name must not be empty")
        if not (province_code.isdigit() and len(province_code) == 2):
            raise EstablishmentError(
                f"Mã tỉnh phải gồm 2 chữ số, nhận được {province_code!r} / province code must be 2 digits"
            )
        if not (commune_code.isdigit() and len(commune_code) == 5):
            raise EstablishmentError(
                f"Mã xã phải gồm 5 chữ số, nhận được {commune_code!r} / commune code must be 5 digits"
            )
        return cls(
            name=clean,
            province_code=province_code,
            commune_code=commune_code,
            legal_form=legal_form.value,
            actor=actor,
            correlation_id=correlation_id,
        )

    @event(Registered)
    def __init__(
        self,
        name: str,
        province_code: str,
        commune_code: str,
        legal_form: str,
        actor: str,
        correlation_id: str | None,
    ) -> None:
        self.name = name
        self.province_code = province_code
        self.commune_code = commune_code
        self.legal_form = legal_form
