"""Administrative units in time: the vocabulary and the lookup protocol (no data, no I/O).

Before 1/7/2025: 63 provinces → districts (huyện, quận, thị xã, thành phố) → wards (xã, phường,
thị trấn). From 1/7/2025: 34 provinces → communes (xã, phường, đặc khu); the district level is gone.
An establishment keeps the unit *as recorded* with the system it was recorded in; the current unit
is derived through the official succession map.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class UnitSystem(StrEnum):
    legacy = "truoc_2025"  # 63 provinces, three tiers, until 30/6/2025
    current = "tu_2025"  # 34 provinces, two tiers, from 1/7/2025


class WardType(StrEnum):
    xa = "xa"
    phuong = "phuong"
    thi_tran = "thi_tran"
    dac_khu = "dac_khu"


class DistrictType(StrEnum):
    huyen = "huyen"
    quan = "quan"
    thi_xa = "thi_xa"
    thanh_pho = "thanh_pho"  # thành phố thuộc tỉnh / thuộc thành phố trực thuộc trung ương


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    central_city: bool  # thành phố trực thuộc trung ương


@dataclass(frozen=True)
class LegacyWard:
    code: str
    name: str
    type: WardType
    district_code: str
    district_name: str
    district_type: DistrictType
    province: Province


@dataclass(frozen=True)
class CurrentCommune:
    code: str
    name: str
    type: WardType
    province: Province


@dataclass(frozen=True)
class Succession:
    """What a legacy ward became on 1/7/2025. A split ward (part went to several communes) lists
    every candidate; ``default`` is the successor that received its main part."""

    default: CurrentCommune
    candidates: tuple[CurrentCommune, ...]

    @property
    def split(self) -> bool:
        return len(self.candidates) > 1


# The reorganisation: from this day the 34 provinces and the two-tier units are in force.
REORGANISED_ON = "2025-07-01"


class AdminUnits(Protocol):
    """Lookups by official (GSO) code. A legacy code and a current code are different keys:
    many current communes kept the code of one of the wards merged into them."""

    def legacy_ward(self, code: str) -> LegacyWard | None: ...

    def current_commune(self, code: str) -> CurrentCommune | None: ...

    def successor(self, legacy_code: str) -> Succession | None: ...

    def current_province(self, code: str) -> Province | None: ...
