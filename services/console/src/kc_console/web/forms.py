"""Forms described as data: each field's name (the API's own field name, so a problem+json error
naming it lands beside it), its Vietnamese label and kind; the parser turns posted text into the
API's JSON and reports what a person must correct, in Vietnamese, before anything is sent."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kc_console.backend import ApiError
from starlette.datastructures import FormData


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | textarea | date | month | money | int | select | checkbox | hidden | file
    required: bool = True
    options: tuple[tuple[str, str], ...] = ()
    hint: str = ""
    maxlength: int | None = None
    default: Any = None
    min: int | None = None
    max: int | None = None

    @property
    def id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)


@dataclass
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)


_MONEY = re.compile(r"^\d{1,3}([. ]\d{3})*$|^\d+$")


def parse_money(text: str) -> int:
    """``1.234.567`` or ``1234567`` (đồng, integer) → 1234567."""
    clean = text.strip().removesuffix("đồng").removesuffix("đ").strip()
    if not _MONEY.match(clean):
        raise ValueError("Số tiền là số nguyên đồng, ví dụ 150.000.000")
    return int(clean.replace(".", "").replace(" ", ""))


def parse(form: FormData, fields: list[Field]) -> Parsed:
    out = Parsed()
    for f in fields:
        if f.kind == "file":
            continue
        raw = form.get(f.name)
        text = raw.strip() if isinstance(raw, str) else ""
        out.raw[f.name] = text
        if f.kind == "checkbox":
            out.values[f.name] = text in ("on", "true", "1")
            continue
        if not text:
            if f.required:
                out.errors[f.name] = "Vui lòng nhập trường này"
            continue
        limit = f.maxlength or 2000
        if len(text) > limit:
            out.errors[f.name] = f"Quá dài: tối đa {limit} ký tự (bạn nhập {len(text)})"
            continue
        try:
            out.values[f.name] = _convert(f, text)
        except ValueError as exc:
            out.errors[f.name] = str(exc)
    return out


def parse_date(text: str) -> date:
    """``dd/mm/yyyy`` as a person writes it (``yyyy-mm-dd`` also taken)."""
    text = text.strip()
    day = re.match(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$", text)
    try:
        if day:
            return date(int(day[3]), int(day[2]), int(day[1]))
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("Ngày không hợp lệ: viết dạng dd/mm/yyyy, ví dụ 30/10/2023") from None


def show_date(value: date | str) -> str:
    """A date for a form field: ``dd/mm/yyyy``."""
    day = value if isinstance(value, date) else parse_date(value)
    return f"{day:%d/%m/%Y}"


def _convert(f: Field, text: str) -> Any:
    if f.kind == "date":
        return parse_date(text).isoformat()
    if f.kind == "month":
        if not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", text):
            raise ValueError("Tháng dạng yyyy-mm")
        return text
    if f.kind == "money":
        value = parse_money(text)
        _bounds(f, value)
        return value
    if f.kind == "int":
        if not re.match(r"^-?\d{1,12}$", text):
            raise ValueError("Phải là số nguyên")
        value = int(text)
        _bounds(f, value)
        return value
    if f.kind == "select" and f.options and text not in {v for v, _ in f.options}:
        raise ValueError("Vui lòng chọn một giá trị trong danh sách")
    return text


def _bounds(f: Field, value: int) -> None:
    if f.min is not None and value < f.min:
        raise ValueError(f"Tối thiểu {f.min}")
    if f.max is not None and value > f.max:
        raise ValueError(f"Tối đa {f.max}")


def nest(values: dict[str, Any]) -> dict[str, Any]:
    """``{"budget_lines.0.cost_item": …}`` → ``{"budget_lines": [{"cost_item": …}]}`` (lists by index)."""
    root: dict[str, Any] = {}
    for key, value in values.items():
        parts = key.split(".")
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt_is_index = not last and parts[i + 1].isdigit()
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append({})
                if last:
                    node[index] = value
                else:
                    if not isinstance(node[index], (dict, list)) or (
                        nxt_is_index and not isinstance(node[index], list)
                    ):
                        node[index] = [] if nxt_is_index else {}
                    node = node[index]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, [] if nxt_is_index else {})
    return root


def api_field_errors(errors: dict[str, str], fields: list[Field]) -> tuple[dict[str, str], list[str]]:
    """Split an API's field errors into those a form field shows and the rest (shown at the top)."""
    names = {f.name for f in fields}
    mine, other = {}, []
    for name, message in errors.items():
        if name in names:
            mine[name] = message
        else:
            # an error about a whole list ("budget_lines") goes to the list's first field, if shown
            first = next((n for n in names if n.startswith(name + ".")), None)
            if first:
                mine.setdefault(first, message)
            else:
                other.append(message if name in ("", "(body)", "(query)") else f"{message}")
    return mine, other


def refusal_errors(
    exc: ApiError,
    fields: list[Field],
    *,
    statuses: tuple[int, ...] = (409, 422),
    errors: dict[str, str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """What a form shows when the service refuses it (one of ``statuses``): the errors beside their
    fields, the rest at the top — or, when no field is named, the refusal's own message. Any other
    failure is raised on. ``errors``: the service's field errors renamed to the form's, if they differ."""
    if exc.status not in statuses:
        raise exc
    mine, other = api_field_errors(exc.by_field() if errors is None else errors, fields)
    return mine, other or ([] if mine else [exc.message])
