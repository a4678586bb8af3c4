"""Every code a service can show a person has a Vietnamese label in the one vocabulary
(kc_kernel/data/vocabulary.toml): the codes in the services' rules/*.toml, their domain enums and
status tables, the roles, and the provinces of the admin-unit catalogue."""

from __future__ import annotations

import tomllib
from enum import StrEnum
from importlib.resources import files
from typing import Any

import pytest
from kc_kernel.units import DistrictType, UnitSystem, WardType
from kc_kernel.vocabulary import has_label, labels


def _rules(package: str, name: str) -> dict[str, Any]:
    return tomllib.loads(files(package).joinpath("rules", name).read_text("utf-8"))


def _enum_codes() -> list[tuple[str, type[StrEnum]]]:
    from kc_appraisal.domain import council, de_an, field_trip
    from kc_registry.domain import eligibility, establishment, recognition

    return [
        ("council_role", council.CouncilRole),
        ("visit_outcome", field_trip.VisitOutcome),
        ("de_an_status", de_an.Status),
        ("plan_level", de_an.Level),
        ("de_an_type", de_an.DeAnType),
        ("appraisal_conclusion", de_an.Conclusion),
        ("legal_form", establishment.LegalForm),
        ("document_kind", establishment.DocumentKind),
        ("de_an_document_kind", de_an.DocumentKind),
        ("document_status", establishment.DocumentStatus),
        ("recognition_scheme", recognition.Scheme),
        ("recognition_level", recognition.Level),
        ("eligibility_outcome", eligibility.Outcome),
        ("unit_type", WardType),
        ("unit_type", DistrictType),
        ("unit_system", UnitSystem),
    ]


def _table_codes() -> list[tuple[str, str]]:
    """(kind, code) from the rules data files and the status/action tables."""
    from kc_appraisal.domain import de_an
    from kc_notifications import scheduler
    from kc_planning.domain import calendar, extension, plan
    from kc_planning.projections import programme

    codes: list[tuple[str, str]] = []
    ceilings = _rules("kc_appraisal", "ceilings.toml")
    for table in ceilings["national"]:
        codes += [("support_item", c) for c in table["items"]]
        codes += [("ceiling_unit", spec["per"]) for spec in table["items"].values()]
    for province, tables in ceilings.get("local", {}).items():  # a province's HĐND table, when on record
        codes.append(("province", province))
        codes += [("support_item", c) for table in tables for c in table["items"]]
    for table in _rules("kc_appraisal", "contents.toml")["contents"]:
        codes += [("activity_content", c) for c in table["items"]]
    for table in _rules("kc_appraisal", "adjustments.toml")["authority"]:
        for level, matrix in table.items():
            if level == "deciders":  # who holds each authority: a role on an instance
                codes += [("authority", a) for a in matrix]
                codes += [("role", d["role"]) for d in matrix.values()]
            elif isinstance(matrix, dict):
                codes.append(("authority_table", level))
                codes += [("change_type", c) for c in matrix]
                codes += [("authority", a) for a in matrix.values()]
    finance = _rules("kc_appraisal", "finance.toml")
    for table in finance["advance"]:
        codes += [("advance_group", g) for g in table["groups"]]
        codes += [("support_item", i) for group in table["groups"].values() for i in group["items"]]
    for table in finance["priority"]:
        codes += [("priority_area", a) for a in table["areas"]]
        codes += [("sector", s) for s in table["sectors"]]
        codes += [("recognition_level", level) for level in table["recognition_levels"]]
        codes.append(("recognition_scheme", table["recognition_scheme"]))
    for table in _rules("kc_appraisal", "calendars.toml")["calendar"]:
        codes.append(("plan_level", table["level"]))
        if table["province"] != "*":
            codes.append(("province", table["province"]))
    eligibility = _rules("kc_registry", "eligibility.toml")
    for table in eligibility["legal_form"]:
        codes += [("legal_form", f) for f in table["forms"]]
    for table in eligibility["sector"]:
        codes += [("sector", s) for s in table["eligible"]]
    for table in eligibility["location"]:
        for key in ("eligible_ward_types", "eligible_district_types", "current_unit_types", "in_province"):
            codes += [("unit_type", t) for t in table.get(key, [])]
        codes += [("legal_form", f) for f in table.get("no_location_limit_forms", [])]
    priority = _rules("kc_registry", "priority.toml")
    for table in priority["area"]:
        codes += [("priority_area", a) for a in table["order"]]
    codes += [("priority_area", t["area"]) for t in priority["list"]]
    for table in priority["sector_priority"]:
        codes += [("sector", s) for s in table["sectors_a"]]
    for table in priority["recognition_priority"]:
        codes += [("recognition_level", level) for level in table["levels"]]
    for table in _rules("kc_registry", "regions.toml")["regions"]:
        codes += [("region", r) for r in ("bac", "trung_tay_nguyen", "nam") if table[r]]
        codes += [("province_truoc_2025", p) for r in ("bac", "trung_tay_nguyen", "nam") for p in table[r]]
    for table in _rules("kc_registry", "recognitions.toml")["typical_product"]:
        codes += [("recognition_level", level) for level in table["levels"]]
    regions = _rules("kc_planning", "regions.toml")["regions"]
    codes += [("region", r) for r in regions]
    codes += [("province", p) for provinces in regions.values() for p in provinces]
    codes += [("de_an_action", a) for a in de_an.LIFECYCLE]
    codes += [("funding_source", s) for s in plan.FUNDING_SOURCES]
    codes += [("registration_status", s) for s in calendar.REGISTRATION_STATUSES]
    codes += [("registrant_kind", k) for k in calendar.REGISTRANT_KINDS]
    codes += [("deadline", m) for m in extension.MILESTONES]
    for table in _rules("kc_planning", "calendars.toml")["national"]:
        codes += [("deadline", m) for m in table if m.endswith("_deadline")]
    codes += [("indicator", i) for i in programme.INDICATORS]
    codes += [("deadline", k) for k in scheduler.KINDS]
    codes += [("eligibility_check", c) for c in ("location", "legal_form", "sector", "size")]
    codes += [("appraisal_stage", s) for s in ("co_so", "cap_bo")]
    codes += [("appraisal_mode", m) for m in ("hoi_dong", "can_bo")]
    for table in _rules("kc_appraisal", "results.toml")["results"]:
        codes += [("indicator", k) for keys in table["contents"].values() for k in keys]
        codes += [("activity_content", c) for c in table["contents"]]
    councils = _rules("kc_appraisal", "councils.toml")
    codes += [("scoresheet", s) for table in councils["scoresheet"] for s in table["sheets"]]
    codes += [("council_status", s) for s in ("dang_lam_viec", "da_co_bien_ban")]
    codes += [("field_trip_status", s) for s in ("da_len_lich", "da_co_ket_qua")]
    codes += [("notification_status", s) for s in ("cho_gui", "da_gui", "thu_lai", "that_bai", "huy")]
    return codes


def _event_names() -> list[str]:
    from eventsourcing.domain import Aggregate
    from kc_appraisal.domain.council import Council, Roster
    from kc_appraisal.domain.de_an import DeAn
    from kc_appraisal.domain.field_trip import FieldTrip
    from kc_planning.domain.calendar import PlanCalendar, Registration
    from kc_planning.domain.extension import ExtensionDecision
    from kc_planning.domain.national_registration import NationalRegistration
    from kc_planning.domain.plan import AnnualPlan
    from kc_registry.domain.establishment import Establishment

    names = []
    for aggregate in (
        DeAn,
        Council,
        Roster,
        FieldTrip,
        Establishment,
        PlanCalendar,
        Registration,
        AnnualPlan,
        NationalRegistration,
        ExtensionDecision,
    ):
        names += [
            name
            for name, value in vars(aggregate).items()
            if isinstance(value, type) and issubclass(value, Aggregate.Event) and name not in ("Event", "Created")
        ]
    return names


def test_every_domain_enum_member_has_a_label() -> None:
    missing = [(kind, m.value) for kind, enum in _enum_codes() for m in enum if not has_label(kind, m.value)]
    assert not missing, f"codes without a Vietnamese label in kc_kernel/data/vocabulary.toml: {missing}"


def test_every_code_in_the_rules_files_and_status_tables_has_a_label() -> None:
    codes = _table_codes()
    assert len(codes) > 100  # the walk really reads the files
    missing = sorted({(kind, code) for kind, code in codes if not has_label(kind, code)})
    assert not missing, f"codes without a Vietnamese label in kc_kernel/data/vocabulary.toml: {missing}"


def test_every_event_a_timeline_shows_has_a_label() -> None:
    names = _event_names()
    assert {"Drafted", "Approved", "Registered", "BatchApproved"} <= set(names)
    missing = [n for n in names if not has_label("event", n)]
    assert not missing, f"events without a Vietnamese name: {missing}"


def test_every_role_and_permission_has_a_label() -> None:
    from kc_runtime.web.auth import load_roles

    roles = load_roles()
    missing = [name for name in roles if not has_label("role", name)]
    assert not missing, f"roles without a Vietnamese label: {missing}"
    permissions = {p for role in roles.values() for p in role.permissions | role.reach}
    missing = [p for p in sorted(permissions) if not has_label("permission", p)]
    assert not missing, f"permissions without a Vietnamese label: {missing}"


def test_province_names_agree_with_the_admin_unit_catalogue() -> None:
    from kc_runtime.adminunits import load_catalogue

    catalogue = load_catalogue()
    assert dict(labels("province")) == {c: p.name for c, p in catalogue.provinces_now.items()}
    assert dict(labels("province_truoc_2025")) == {c: p.name for c, p in catalogue.provinces_before.items()}


@pytest.mark.parametrize("kind", sorted(k for k in ("sector", "support_item", "legal_form", "de_an_status")))
def test_labels_are_vietnamese_text_not_codes(kind: str) -> None:
    for code, text in labels(kind).items():
        assert text and text != code and "_" not in text, (kind, code, text)


def test_every_reason_a_stream_audit_gives_has_a_label() -> None:
    """The console's Kiểm toán page shows why a message failed verification by its label: every reason
    the integrity checks, the verifier and the bundle checks of ``kc audit`` can give."""
    import ast
    from pathlib import Path

    import kc_cli.audit.bundle
    import kc_contracts.integrity
    import kc_runtime.bus.streamaudit

    def name(call: ast.Call) -> str:
        return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")

    def text(node: ast.expr) -> str | None:
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    reasons: set[str | None] = set()
    for module in (kc_contracts.integrity, kc_runtime.bus.streamaudit, kc_cli.audit.bundle):
        tree = ast.parse(Path(str(module.__file__)).read_text("utf-8"))
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            if name(call) == "IntegrityError" and call.args:  # IntegrityError(reason, message)
                reasons.add(text(call.args[0]))
            elif name(call) == "fail" and len(call.args) == 5:  # audit.fail(seq, event_id, publisher, reason, message)
                reasons.add(text(call.args[3]))
            elif name(call) == "append" and call.args and isinstance(call.args[0], ast.Tuple):  # (reason, message)
                reasons.add(text(call.args[0].elts[0]))
    reasons.discard(None)
    assert {"bad_signature", "broken_chain", "not_json", "wrong_subject", "missing_tail", "changed_bytes"} <= reasons
    missing = sorted(str(r) for r in reasons if not has_label("audit_failure", r))
    assert not missing, f"audit failure reasons without a Vietnamese label: {missing}"
