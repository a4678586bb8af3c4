"""Drafting a đề án in the console: the form's fields from the appraisal service's dated rules (support
items, activity contents), the budget rows, the API body, the values of an existing draft."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from kc_console.backend import ApiError, Calls
from kc_console.roles import Officer
from kc_console.web.forms import Field, Parsed, nest
from kc_kernel import vocabulary as vocab

BUDGET_ROWS = 3
MONEY_FIELDS = ("total_cost_vnd", "support_requested_vnd", "counterpart_vnd", "other_vnd")

_rules_cache: dict[str, tuple[float, dict[str, Any]]] = {}


async def appraisal_rules(api: Calls, instance: str) -> dict[str, Any]:
    """The appraisal service's dated rules (support items, contents), kept for five minutes."""
    known = _rules_cache.get(instance)
    if known and time.monotonic() - known[0] < 300:
        return known[1]
    rules = await api.get("appraisal", "/rules", instance=instance)
    _rules_cache[instance] = (time.monotonic(), rules)
    return dict(rules)


def support_items(rules: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The support items of the national ceilings table (every version), by their vocabulary label."""
    tables = rules.get("national_ceilings") or {}
    codes: dict[str, None] = {}
    for version in (tables.get("versions") if isinstance(tables, dict) else None) or []:
        codes.update(dict.fromkeys((version.get("params") or {}).get("items") or {}))
    return tuple((code, vocab.label("support_item", code)) for code in codes or vocab.labels("support_item"))


def contents(rules: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The activity contents (1–9) of the catalogue, by their vocabulary label."""
    tables = rules.get("contents") or {}
    codes: dict[str, None] = {}
    for version in (tables.get("versions") if isinstance(tables, dict) else None) or []:
        codes.update(dict.fromkeys((version.get("params") or {}).get("items") or {}))
    return tuple((c, vocab.label("activity_content", c)) for c in sorted(codes or vocab.labels("activity_content")))


def draft_fields(
    rules: dict[str, Any], beneficiaries: list[tuple[str, str]], *, new: bool, unit: str | None = None
) -> list[Field]:
    fields: list[Field] = []
    if new:
        fields += [
            Field("code", "Mã đề án", maxlength=50, hint="Ví dụ KCĐP-40-2025-01"),
            Field(
                "level",
                "Cấp chương trình",
                "select",
                options=(("dia_phuong", "Khuyến công địa phương"), ("quoc_gia", "Khuyến công quốc gia")),
            ),
            Field(
                "de_an_type",
                "Loại đề án",
                "select",
                options=tuple(
                    (c, vocab.label("de_an_type", c))
                    for c in ("kcdp", "kcqg_nhom", "kcqg_thu_huong", "kcqg_diem", "nhiem_vu")
                ),
            ),
            Field("plan_year", "Năm kế hoạch", "int", min=2010, max=2100, default=str(date.today().year + 1)),
        ]
    fields += [
        Field("title", "Tên đề án", maxlength=300),
        Field("implementing_unit", "Đơn vị thực hiện", maxlength=200, default=unit)
        if not unit
        else Field("implementing_unit", "Đơn vị thực hiện", "hidden", default=unit),
        Field("objectives", "Mục tiêu", "textarea", required=False, maxlength=500),
        Field("commune_code", "Mã xã nơi thực hiện (5 chữ số)", required=False, maxlength=5),
        Field("activity_contents", "Nội dung hoạt động", "select", options=contents(rules)),
    ]
    if beneficiaries:
        fields.append(
            Field(
                "beneficiary_ids",
                "Cơ sở thụ hưởng",
                "select",
                required=False,
                options=(("", "— chưa chọn —"), *beneficiaries),
            )
        )
    items = support_items(rules)
    for i in range(BUDGET_ROWS):
        fields += [
            Field(f"budget_lines.{i}.cost_item", f"Dòng {i + 1}: hạng mục chi", required=False, maxlength=200),
            Field(
                f"budget_lines.{i}.support_item",
                f"Dòng {i + 1}: mục hỗ trợ",
                "select",
                required=False,
                options=(("", "—"), *items),
            ),
            Field(f"budget_lines.{i}.total_cost_vnd", f"Dòng {i + 1}: tổng chi phí (đồng)", "money", required=False),
            Field(
                f"budget_lines.{i}.support_requested_vnd",
                f"Dòng {i + 1}: kinh phí khuyến công đề nghị (đồng)",
                "money",
                required=False,
            ),
            Field(f"budget_lines.{i}.counterpart_vnd", f"Dòng {i + 1}: vốn đối ứng (đồng)", "money", required=False),
            Field(f"budget_lines.{i}.other_vnd", f"Dòng {i + 1}: nguồn khác (đồng)", "money", required=False),
        ]
    return fields


def draft_body(parsed: Parsed, *, new: bool) -> dict[str, Any]:
    """The API's body from the draft form: budget rows with a cost item only, lists where lists are due."""
    values = dict(parsed.values)
    lines = []
    for i in range(BUDGET_ROWS):
        prefix = f"budget_lines.{i}."
        row = {k.removeprefix(prefix): v for k, v in values.items() if k.startswith(prefix)}
        for k in list(values):
            if k.startswith(prefix):
                del values[k]
        if row.get("cost_item"):
            line = {"cost_item": row["cost_item"], "support_item": row.get("support_item") or ""}
            line |= {m: int(row.get(m) or 0) for m in MONEY_FIELDS}
            lines.append(line)
    body = nest(values)
    body["budget_lines"] = lines
    if "activity_contents" in body:
        body["activity_contents"] = [body["activity_contents"]]
    body["beneficiary_ids"] = [body["beneficiary_ids"]] if body.get("beneficiary_ids") else []
    if not new:
        body.pop("code", None)
    return body


def budget_errors(parsed: Parsed) -> None:
    """Row 1 of the budget is required; a row's money without a cost item is a mistake to show."""
    if not parsed.values.get("budget_lines.0.cost_item"):
        parsed.errors.setdefault("budget_lines.0.cost_item", "Đề án cần ít nhất một dòng dự toán")
    for i in range(BUDGET_ROWS):
        p = f"budget_lines.{i}."
        if not parsed.values.get(p + "cost_item") and any(parsed.values.get(p + m) for m in MONEY_FIELDS):
            parsed.errors.setdefault(p + "cost_item", "Nhập hạng mục chi cho dòng có số tiền")
        if parsed.values.get(p + "cost_item") and not parsed.values.get(p + "support_item"):
            parsed.errors.setdefault(
                p + "support_item", "Chọn mục hỗ trợ: mỗi dòng thuộc một mục có mức hỗ trợ tối đa (không có mục «khác»)"
            )


def form_values_from_state(state: dict[str, Any]) -> dict[str, str]:
    d = state.get("details", {})
    values = {
        k: str(d.get(k) or "")
        for k in (
            "code",
            "title",
            "implementing_unit",
            "objectives",
            "commune_code",
            "level",
            "de_an_type",
            "plan_year",
        )
    }
    values["activity_contents"] = (d.get("activity_contents") or [""])[0]
    values["beneficiary_ids"] = (d.get("beneficiary_ids") or [""])[0]
    for i, line in enumerate((d.get("budget_lines") or [])[:BUDGET_ROWS]):
        for k in ("cost_item", "support_item", *MONEY_FIELDS):
            v = line.get(k)
            values[f"budget_lines.{i}.{k}"] = f"{v:,}".replace(",", ".") if isinstance(v, int) else str(v or "")
    return values


async def beneficiary_options(api: Calls, instance: str, officer: Officer) -> list[tuple[str, str]]:
    if instance == "bo" or not api.backend.has("registry", instance) or not officer.may("read", instance):
        return []
    try:
        page = await api.get("registry", "/establishments", instance=instance, params={"limit": 200})
    except ApiError:
        return []
    return [(str(e["id"]), str(e.get("name") or e["id"])) for e in page.get("items", [])]


def totals(state: dict[str, Any]) -> dict[str, int]:
    lines = state.get("details", {}).get("budget_lines") or []
    return {m: sum(int(line.get(m) or 0) for line in lines) for m in MONEY_FIELDS}
