"""Open data: approved plan lines as a 360Giving-compatible JSON package.

Each approved line is a grant: the đề án (id, title), the amount awarded in VND, the award date
(the approval decision), the implementing unit as recipient organisation, the plan's owner as
funding organisation, the province as beneficiary location and the programme (national / local).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator
from kc_runtime.text import fold
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from kc_planning.domain.plan import AnnualPlan

PREFIX = "VN-KC"  # identifier prefix of this publisher (to register with org-id.guide before publishing)
GRANT_SCHEMA_REF = "https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.2/schema/360-giving-schema.json"


def _slug(text: str) -> str:
    return "-".join(fold(text).split())


def funder(owner: str) -> dict[str, str]:
    if owner == "bo":
        return {"id": f"{PREFIX}-BO-CONG-THUONG", "name": "Bộ Công Thương"}
    return {"id": f"{PREFIX}-UBND-{owner.upper()}", "name": f"Ủy ban nhân dân tỉnh (mã {owner.removeprefix('tinh-')})"}


def package(plan: AnnualPlan, *, published: str) -> dict[str, Any]:
    grants = []
    batches = {b["batch"]: b for b in plan.batches}
    for key, line in plan.lines.items():
        amount = line["approved_support_vnd"]
        if not amount:
            continue
        p = line["proposal"]
        decision = batches[line["batch"]]
        grants.append(
            {
                "id": f"{PREFIX}-{plan.owner}-{plan.year}-{key}",
                "title": p["title"],
                "description": f"Đề án khuyến công {p['code']}; nội dung hoạt động "
                f"{', '.join(p['activity_contents'])}; quyết định {decision['decision_number']} (đợt {line['batch']}).",
                "currency": "VND",
                "amountAwarded": int(amount),
                # a full timestamp (Vietnam time): the standard's oneOf(date pattern, date-time) is then unambiguous
                "awardDate": f"{decision['decision_date']}T00:00:00+07:00",
                "recipientOrganization": [
                    {
                        "id": f"{PREFIX}-DV-{_slug(p.get('implementing_unit') or p['instance'])}",
                        "name": p.get("implementing_unit") or p["instance"],
                    }
                ],
                "fundingOrganization": [funder(plan.owner)],
                "beneficiaryLocation": [
                    {
                        "name": f"Tỉnh mã {p['province_code']}",
                        "countryCode": "VN",
                        "geoCode": p["province_code"],
                        "geoCodeType": "GSO",
                    }
                ],
                "grantProgramme": [
                    {
                        "code": f"{'KCQG' if plan.level == 'quoc_gia' else 'KCĐP'}-{plan.year}",
                        "title": f"Chương trình khuyến công {'quốc gia' if plan.level == 'quoc_gia' else 'địa phương'}"
                        f" năm {plan.year}",
                    }
                ],
                "dateModified": published,
            }
        )
    return {
        "version": "1.4",
        "title": f"Kế hoạch khuyến công năm {plan.year} ({plan.owner})",
        "issued": published,
        "modified": published,
        "publisher": funder(plan.owner),
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "grants": grants,
    }


@cache
def validator() -> Draft202012Validator:
    folder = files("kc_planning").joinpath("rules", "open_data")
    grant = json.loads(folder.joinpath("360-giving-schema.json").read_text("utf-8"))
    pkg = json.loads(folder.joinpath("360-giving-package-schema.json").read_text("utf-8"))
    # the schema names its dialect "http://…/draft/2020-12/schema", which referencing does not detect
    resource = DRAFT202012.create_resource(grant)
    registry = Registry().with_resources([(GRANT_SCHEMA_REF, resource), (grant["$id"], resource)])
    return Draft202012Validator(pkg, registry=registry)


def problems(document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator().iter_errors(document)]
