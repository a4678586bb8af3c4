"""How the ``kc`` commands show what the APIs return: labels from the one vocabulary instead of codes,
dates as dd/mm/yyyy, moments in Viet Nam time."""

from __future__ import annotations

import json
import re
from typing import Any

from kc_kernel.vocabulary import format_date, format_datetime, format_money, label

# coded fields an event records, and the vocabulary kind that names their values
CODED_FIELDS = {
    "status": "de_an_status",
    "stage": "appraisal_stage",
    "mode": "appraisal_mode",
    "conclusion": "appraisal_conclusion",
    "change_type": "change_type",
    "authority": "authority",
    "support_item": "support_item",
    "level": "plan_level",
    "de_an_type": "de_an_type",
    "funding_source": "funding_source",
    "province_code": "province",
}


def event_name(event: dict[str, Any]) -> str:
    """``Appraised`` with ``stage=co_so`` reads "Thẩm định cơ sở"; the others by their label."""
    stage = (event.get("data") or {}).get("stage")
    if event.get("event") == "Appraised" and stage:
        return label("appraisal_stage", stage)
    return label("event", event.get("event"))


_ACTOR = re.compile(r"^(?P<name>.*) \((?P<role>[a-z_]+)@(?P<scope>[a-z0-9-]+)\)$")


def actor(text: str | None) -> str:
    """``can-bo (so_ct@tinh-31)`` (as events record who acted) reads "can-bo (Sở Công Thương, Thành
    phố Hải Phòng)"; anything else as recorded."""
    found = _ACTOR.match(text or "")
    if not found:
        return text or ""
    return f"{found['name']} ({label('role', found['role'])}, {label('instance', found['scope'])})"


def moment(value: Any) -> str:
    try:
        return format_datetime(value)
    except (TypeError, ValueError):
        return str(value or "—")


def value_of(key: str, value: Any) -> str:
    if key in CODED_FIELDS and isinstance(value, str):
        return label(CODED_FIELDS[key], value)
    if key.endswith("_vnd") and isinstance(value, int):
        return format_money(value)
    if key.endswith(("_on", "_deadline")) and isinstance(value, str):
        try:
            return format_date(value)
        except ValueError:
            return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def details(data: dict[str, Any], limit: int = 200) -> str:
    """An event's facts on one line: ``stage=Thẩm định cơ sở; recommended_support_vnd=1.000 đồng``."""
    parts = [f"{key}={value_of(key, value)[:60]}" for key, value in data.items() if value not in (None, [], {}, "")]
    return "; ".join(parts)[:limit]
