"""The Establishment aggregate: command -> expected events."""

from __future__ import annotations

import unicodedata

import pytest
from kc_registry.domain.establishment import Establishment, EstablishmentError, LegalForm


def register(**overrides: object) -> Establishment:
    args: dict[str, object] = {
        "name": "Cơ sở đúc đồng Đông Hà",
        "province_code": "40",
        "commune_code": "16681",
        "legal_form": LegalForm.ho_kinh_doanh,
        "actor": "can-bo-so-40",
    }
    return Establishment.register(**(args | overrides))  # type: ignore[arg-type]


def test_registering_records_one_registered_event_with_who_did_it() -> None:
    establishment = register(correlation_id="req-1")
    events = establishment.collect_events()
    assert [type(e).__name__ for e in events] == ["Registered"]
    assert events[0].actor == "can-bo-so-40"  # type: ignore[attr-defined]
    assert events[0].correlation_id == "req-1"  # type: ignore[attr-defined]
    assert establishment.version == 1


def test_names_are_stored_nfc_with_whitespace_collapsed() -> None:
    decomposed = unicodedata.normalize("NFD", "Hợp tác xã   gốm Đông Thành")
    establishment = register(name=decomposed)
    assert establishment.name == "Hợp tác xã gốm Đông Thành"
    assert unicodedata.is_normalized("NFC", establishment.name)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "   ", "Tên cơ sở không được để trống"),
        ("province_code", "4", "Mã tỉnh phải gồm 2 chữ số"),
        ("commune_code", "1668", "Mã xã phải gồm 5 chữ số"),
    ],
)
def test_invalid_registrations_are_refused_with_a_vietnamese_message(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(EstablishmentError, match=message):
        register(**{field: value})
