"""The planning service's regions of the 34 provinces are the registry's TT 26/2014 regions of the 63
pre-2025 provinces, carried through the 2025 succession (two services, one rule: a test keeps them equal)."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib.resources import files

from kc_registry.domain.priority import region_now
from kc_registry.main import province_now_of
from kc_registry.rulebook import priority_rules
from kc_runtime.adminunits import load_catalogue


def test_planning_regions_equal_the_tt26_regions_through_the_2025_succession() -> None:
    planning = tomllib.loads(files("kc_planning").joinpath("rules", "regions.toml").read_text("utf-8"))["regions"]
    table = priority_rules().regions.on(date(2025, 7, 1)).params
    derived: dict[str, list[str]] = {}
    for code in sorted(load_catalogue().provinces_now):
        now, predecessors = province_now_of(code)
        region = region_now(table, now, predecessors)
        assert region is not None, code
        derived.setdefault(region, []).append(code)
    assert {r: sorted(c) for r, c in planning.items()} == derived
    assert {"38", "40", "42"} <= set(planning["bac"])
