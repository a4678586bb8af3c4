"""The đề án as drafted and edited: code, title, level and type, contents from the dated catalogue,
beneficiaries, budget lines. Checked whole on every draft and edit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from uuid import UUID

from kc_kernel.periods import check_plan_year

from kc_appraisal.domain.de_an.budget import check_budget_lines
from kc_appraisal.domain.de_an.lifecycle import DeAnType, Level
from kc_appraisal.domain.de_an.values import text
from kc_appraisal.domain.errors import AppraisalError, BeneficiaryError
from kc_appraisal.domain.rules import Rulebook


def check_details(details: Mapping[str, Any], *, rules: Rulebook, on: date) -> dict[str, Any]:
    d = dict(details)
    d["title"] = text(d.get("title"), "title")
    d["code"] = text(d.get("code"), "code")
    d["implementing_unit"] = text(d.get("implementing_unit"), "implementing_unit")
    try:
        level, kind = Level(str(d.get("level"))), DeAnType(str(d.get("de_an_type")))
    except ValueError as exc:
        raise AppraisalError(
            f"Cấp chương trình hoặc loại đề án không hợp lệ / invalid level or type: {exc}", field="de_an_type"
        ) from None
    if (kind is DeAnType.local) != (level is Level.local) and kind is not DeAnType.task:
        raise AppraisalError(
            "Loại đề án không khớp cấp chương trình (KCĐP chỉ thuộc địa phương) / type and level do not match",
            field="de_an_type",
        )
    d["level"], d["de_an_type"] = level.value, kind.value
    try:
        check_plan_year(d.get("plan_year"))
    except ValueError as exc:
        raise AppraisalError(str(exc), field="plan_year") from None
    catalogue = rules.contents.on(on).params.items
    contents = [str(c) for c in d.get("activity_contents") or []]
    unknown = [c for c in contents if c not in catalogue]
    if not contents or unknown:
        raise AppraisalError(
            f"Nội dung hoạt động phải thuộc danh mục {rules.contents.reference(on)}: "
            f"{', '.join(unknown) or 'trống'} / activity contents must come from the catalogue",
            field="activity_contents",
        )
    if kind is DeAnType.flagship and len(set(contents)) < 2:
        raise AppraisalError(
            "Đề án điểm cần ít nhất 2 nội dung liên kết / a flagship needs ≥ 2 contents", field="activity_contents"
        )
    d["activity_contents"] = contents
    d["beneficiary_ids"] = [str(UUID(str(b))) for b in d.get("beneficiary_ids") or []]
    if kind is DeAnType.named and not d["beneficiary_ids"]:
        raise BeneficiaryError(
            "Đề án cho đơn vị thụ hưởng cụ thể cần ít nhất một cơ sở / a named-beneficiary đề án needs a beneficiary",
            field="beneficiary_ids",
        )
    d["budget_lines"] = check_budget_lines(list(d.get("budget_lines") or []))
    # area priority comes from the registry's official lists of the beneficiaries' sites, never from a
    # tag the applicant types: one recorded on an older draft is kept as history and never judged
    d["expected_outputs"] = {str(k): int(v) for k, v in (d.get("expected_outputs") or {}).items()}
    return d
