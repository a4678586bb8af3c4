"""Dated rule versions: rules the law can change are data with an effective date and a legal basis.

Each service keeps its rules (eligibility, ceilings, deadlines, catalogues) in TOML files; a file
holds one or more *rule sets*, each a list of versions. Every decision a service takes records the
``version`` it applied, so a decision can be explained (and re-checked) years later.
"""

from __future__ import annotations

import tomllib
from datetime import date
from importlib.resources import files
from itertools import pairwise
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

P = TypeVar("P")


class NoRuleInForceError(LookupError):
    """No version of a rule set is in force on the asked date."""


class RuleVersion(BaseModel, Generic[P]):
    """One version of a rule: in force from ``effective_from`` to ``effective_to`` (inclusive)."""

    model_config = ConfigDict(frozen=True)

    version: str
    effective_from: date
    effective_to: date | None = None
    legal_basis: str
    params: P

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


class DatedRules(BaseModel, Generic[P]):
    """The versions of one rule set, without overlaps; asks "which version is in force on D"."""

    model_config = ConfigDict(frozen=True)

    name: str
    versions: tuple[RuleVersion[P], ...]

    @model_validator(mode="after")
    def _no_overlap(self) -> DatedRules[P]:
        ordered = sorted(self.versions, key=lambda v: v.effective_from)
        for before, after in pairwise(ordered):
            if before.effective_to is None or before.effective_to >= after.effective_from:
                raise ValueError(f"rule set {self.name}: {before.version} and {after.version} overlap")
        for v in ordered:
            if v.effective_to is not None and v.effective_to < v.effective_from:
                raise ValueError(f"rule set {self.name}: {v.version} ends before it starts")
        object.__setattr__(self, "versions", tuple(ordered))
        return self

    def on(self, day: date) -> RuleVersion[P]:
        for version in self.versions:
            if version.in_force(day):
                return version
        raise NoRuleInForceError(
            f"Không có quy định '{self.name}' hiệu lực ngày {day:%d/%m/%Y} / "
            f"no version of rule '{self.name}' is in force on {day.isoformat()}"
        )

    def reference(self, day: date) -> str:
        """``eligibility.location@ND235/2025`` — the string decision events carry."""
        return f"{self.name}@{self.on(day).version}"


def rules_from_records(name: str, params: type[P], records: list[dict[str, Any]]) -> DatedRules[P]:
    """Build a rule set from plain records (as read from TOML): the non-meta keys are the params."""
    meta = {"version", "effective_from", "effective_to", "legal_basis"}
    versions = [
        RuleVersion[params](  # type: ignore[valid-type]
            **{k: v for k, v in r.items() if k in meta},
            params={k: v for k, v in r.items() if k not in meta},
        )
        for r in records
    ]
    return DatedRules[params](name=name, versions=tuple(versions))  # type: ignore[valid-type]


def read_rules(package: str, name: str) -> dict[str, Any]:
    """One TOML file of a service's dated rules, ``<package>/rules/<name>`` (shipped inside the package)."""
    return tomllib.loads(files(package).joinpath("rules", name).read_text("utf-8"))
