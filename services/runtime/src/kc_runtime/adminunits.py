"""The administrative-unit catalogue, built from the ``vietnamadminunits`` package's data files.

Provenance: ``vietnamadminunits`` (MIT, © 2025 Tran Ngoc Minh Hieu), whose tables come from the
national statistics office's unit list (danhmuchanhchinh.gso.gov.vn) and the 2025 conversion
(sapnhap.bando.com.vn). Its current commune codes agree with the official list of 25/6/2025
(Công văn 1027/CTK-CSCL); ``vietnam-provinces`` differs on 123 codes, so it is not used.
We read its SQLite table and conversion JSON directly: no address parsing, no network. Unit types
come from the name prefix (the package's type column is wrong on a handful of rows).
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from kc_kernel.units import CurrentCommune, DistrictType, LegacyWard, Province, Succession, WardType

_WARD_PREFIXES = (
    ("thị trấn", WardType.thi_tran),
    ("phường", WardType.phuong),
    ("xã", WardType.xa),
    ("đặc khu", WardType.dac_khu),
)
_DISTRICT_TYPES = {
    "Huyện": DistrictType.huyen,
    "Quận": DistrictType.quan,
    "Thị xã": DistrictType.thi_xa,
    "Thành phố": DistrictType.thanh_pho,
}


def _ward_type(name: str) -> WardType:
    lowered = name.lower()
    for prefix, kind in _WARD_PREFIXES:
        if lowered.startswith(prefix + " "):
            return kind
    raise ValueError(f"unit type not recognisable from name {name!r}")


def _province(code: str, name: str) -> Province:
    return Province(code=code, name=name, central_city=name.startswith("Thành phố "))


@dataclass
class AdminUnitCatalogue:
    """Implements :class:`kc_kernel.units.AdminUnits`; also lists units for pickers and views."""

    legacy: dict[str, LegacyWard] = field(default_factory=dict)
    current: dict[str, CurrentCommune] = field(default_factory=dict)
    succession: dict[str, Succession] = field(default_factory=dict)
    provinces_now: dict[str, Province] = field(default_factory=dict)
    provinces_before: dict[str, Province] = field(default_factory=dict)
    province_successor: dict[str, str] = field(default_factory=dict)
    districts: dict[str, tuple[str, DistrictType, str]] = field(default_factory=dict)

    def legacy_ward(self, code: str) -> LegacyWard | None:
        return self.legacy.get(code)

    def current_commune(self, code: str) -> CurrentCommune | None:
        return self.current.get(code)

    def successor(self, legacy_code: str) -> Succession | None:
        return self.succession.get(legacy_code)

    def current_province(self, code: str) -> Province | None:
        return self.provinces_now.get(code)

    def legacy_province(self, code: str) -> Province | None:
        return self.provinces_before.get(code)

    def current_province_of_legacy(self, legacy_province_code: str) -> Province | None:
        """Where a legacy province went (Hải Dương 30 → Hải Phòng 31)."""
        code = self.province_successor.get(legacy_province_code)
        return self.provinces_now.get(code) if code else None


def data_dir() -> Path:
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("vietnamadminunits is not installed: run `make install`")
    return Path(spec.origin).parent / "data"


@cache
def load_catalogue() -> AdminUnitCatalogue:
    """Build the catalogue once per process (about 0.1 s, ~13,000 units)."""
    directory = data_dir()
    conversion = json.loads((directory / "converter_2025.json").read_text("utf-8"))
    cat = AdminUnitCatalogue()
    with sqlite3.connect(f"file:{directory / 'dataset.db'}?mode=ro", uri=True) as db:
        legacy_rows = db.execute(
            "SELECT provinceCode, province, districtCode, district, districtType, wardCode, ward, "
            "provinceKey, districtKey, wardKey FROM admin_units_legacy"
        ).fetchall()
        current_rows = db.execute(
            "SELECT provinceCode, province, wardCode, ward, provinceKey, wardKey FROM admin_units"
        ).fetchall()

    key_to_legacy: dict[str, str] = {}
    legacy_province_key: dict[str, str] = {}
    for p_code, p_name, d_code, d_name, d_type, w_code, w_name, p_key, d_key, w_key in legacy_rows:
        province = cat.provinces_before.setdefault(p_code, _province(p_code, p_name))
        cat.districts[d_code] = (d_name, _DISTRICT_TYPES[d_type], p_code)
        legacy_province_key[p_key] = p_code
        # island districts without wards are keyed by district ('D<code>') for the succession only
        key_to_legacy[f"{p_key}_{d_key}_{w_key or ''}"] = w_code or f"D{d_code}"
        if w_code:
            cat.legacy[w_code] = LegacyWard(
                code=w_code,
                name=" ".join(w_name.split()),
                type=_ward_type(w_name),
                district_code=d_code,
                district_name=d_name,
                district_type=_DISTRICT_TYPES[d_type],
                province=province,
            )

    key_to_current: dict[tuple[str, str], str] = {}
    current_province_key: dict[str, str] = {}
    for p_code, p_name, w_code, w_name, p_key, w_key in current_rows:
        province = cat.provinces_now.setdefault(p_code, _province(p_code, p_name))
        current_province_key[p_key] = p_code
        key_to_current[(p_key, w_key)] = w_code
        cat.current[w_code] = CurrentCommune(
            code=w_code, name=" ".join(w_name.split()), type=_ward_type(w_name), province=province
        )

    for new_key, old_keys in conversion["DICT_PROVINCE"].items():
        for old_key in old_keys:
            cat.province_successor[legacy_province_key[old_key]] = current_province_key[new_key]
    for p_key, wards in conversion["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_ward_key, old_keys in wards.items():
            commune = cat.current[key_to_current[(p_key, new_ward_key)]]
            for old_key in old_keys:
                cat.succession[key_to_legacy[old_key]] = Succession(default=commune, candidates=(commune,))
    for p_key, splits in conversion["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, targets in splits.items():
            candidates = tuple(cat.current[key_to_current[(p_key, t["newWardKey"])]] for t in targets)
            default = next(
                cat.current[key_to_current[(p_key, t["newWardKey"])]] for t in targets if t["isDefaultNewWard"]
            )
            cat.succession[key_to_legacy[old_key]] = Succession(default=default, candidates=candidates)
    return cat
