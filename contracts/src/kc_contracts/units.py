"""Re-exported from :mod:`kc_kernel.units` (the shared kernel), for integrators who import it from the contracts."""

from kc_kernel.units import (
    REORGANISED_ON,
    AdminUnits,
    CurrentCommune,
    DistrictType,
    LegacyWard,
    Province,
    Succession,
    UnitSystem,
    WardType,
)

__all__ = [
    "REORGANISED_ON",
    "AdminUnits",
    "CurrentCommune",
    "DistrictType",
    "LegacyWard",
    "Province",
    "Succession",
    "UnitSystem",
    "WardType",
]
