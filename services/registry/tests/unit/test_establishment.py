"""The Establishment aggregate: command -> expected events."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from kc_registry.domain.errors import (
    InvalidTaxCodeError,
    OutsideProvinceError,
    RegistryError,
    UnknownAdminUnitError,
)
from kc_registry.domain.establishment import DocumentKind, Establishment, establishment_id
from kc_runtime.adminunits import load_catalogue

UNITS = load_catalogue()
SHA = "a" * 64


def register(**overrides: Any) -> Establishment:
    details = {
        "name": "Cơ sở đúc đồng Đông Hà",
        "tax_code": "0100112437",
        "legal_form": "ho_kinh_doanh",
        "commune_code": "17419",
        "unit_system": "tu_2025",
    }
    return Establishment.register(
        details | overrides, units=UNITS, instance_province="40", actor="can-bo-so-40", correlation_id="req-1"
    )


def test_registering_records_one_event_with_who_did_it_and_derived_units() -> None:
    e = register()
    events = e.collect_events()
    assert [type(x).__name__ for x in events] == ["Registered"]
    assert events[0].actor == "can-bo-so-40"  # type: ignore[attr-defined]
    assert e.details["province_code"] == e.details["current_province_code"] == "40"
    assert e.id == establishment_id("mst:0100112437")  # the same number can never open a second stream


def test_a_legacy_ward_is_kept_as_recorded_and_mapped_to_its_current_commune() -> None:
    e = register(unit_system="truoc_2025", commune_code="16675")
    assert e.details["commune_code"] == "16675"
    assert e.details["district_code"] == "412"
    assert e.details["current_commune_code"] == "16690"


def test_names_are_stored_nfc_with_whitespace_collapsed() -> None:
    e = register(name=unicodedata.normalize("NFD", "Hợp tác xã   gốm Đông Thành"))
    assert e.details["name"] == "Hợp tác xã gốm Đông Thành"


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"name": "  "}, RegistryError, "name"),
        ({"tax_code": "0100112438"}, InvalidTaxCodeError, "tax_code"),
        ({"commune_code": "99999"}, UnknownAdminUnitError, "commune_code"),
        ({"commune_code": "10507"}, OutsideProvinceError, "commune_code"),
        ({"tax_code": None}, RegistryError, "tax_code"),
        ({"employees": -1}, RegistryError, "employees"),
    ],
)
def test_invalid_registrations_are_refused_naming_the_field(
    overrides: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as caught:
        register(**overrides)
    assert caught.value.field == field  # type: ignore[attr-defined]


def test_an_update_records_only_what_changed_and_keeps_the_identity() -> None:
    e = register()
    e.collect_events()
    assert e.update(
        {"street": "Xóm 3", "name": "Cơ sở đúc đồng Đông Hà"}, units=UNITS, instance_province="40", actor="a"
    ) == {"street": "Xóm 3"}
    with pytest.raises(RegistryError, match="Không được đổi mã số thuế"):
        e.update({"tax_code": "0100109106"}, units=UNITS, instance_province="40", actor="a")
    assert [type(x).__name__ for x in e.collect_events()] == ["Updated"]


def test_a_document_is_decided_once_and_rejection_needs_a_reason() -> None:
    e = register()
    e.attach_document(
        kind=DocumentKind.bao_cao_tai_chinh, sha256=SHA, size_bytes=10, media_type="application/pdf", actor="a"
    )
    with pytest.raises(RegistryError, match="lý do"):
        e.reject_document(SHA, reason=" ", actor="a")
    e.verify_document(SHA, note=None, actor="can-bo")
    with pytest.raises(RegistryError, match="đã được xử lý"):
        e.reject_document(SHA, reason="sai", actor="a")
    assert e.documents[SHA]["status"] == "da_xac_minh"


def test_the_same_support_cannot_be_recorded_twice() -> None:
    e = register()
    e.record_support(
        cost_item="Máy đúc",
        amount_vnd=150_000_000,
        funding_source="quoc_gia",
        year=2023,
        reference="ĐA 12/2023",
        actor="a",
    )
    with pytest.raises(RegistryError, match="đã được ghi"):
        e.record_support(
            cost_item="máy đúc",
            amount_vnd=150_000_000,
            funding_source="quoc_gia",
            year=2023,
            reference="ĐA 12/2023",
            actor="a",
        )
    assert len(e.support_for("MÁY ĐÚC")) == 1
