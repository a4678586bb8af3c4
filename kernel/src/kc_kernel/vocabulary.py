"""Codes are for machines, labels for people (CONVENTIONS rule 13): the one vocabulary.

Every code a person can see — a đề án's status, a plan level, a funding source, a role, a support
item, a province — has its Vietnamese label in ``data/vocabulary.toml``, read here. The console, the
``kc`` CLI, the .xlsx exports, e-mails and problem+json messages all call :func:`label`; machine
codes stay in their own fields (``code``, ``status``) where clients need them.

Also the ways a person reads numbers and dates: :func:`format_money` (``1.234.567 đồng``),
:func:`format_date` (``dd/mm/yyyy``), :func:`format_datetime` (Viet Nam time) and
:func:`money_in_words` (số tiền bằng chữ, as written on decisions and contracts).

Communes are too many to list here: their names come from the administrative-unit catalogue, which
a composition root hands over once with :func:`use_admin_units` (``kc_runtime`` does it for every
service). Provinces are listed (34 current, 63 before 1/7/2025) and checked against that catalogue
by a test.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any

from kc_kernel.money import vnd
from kc_kernel.units import AdminUnits

# Kinds answered from the admin-unit catalogue rather than the data file.
PLACE_KINDS = frozenset({"commune", "commune_truoc_2025"})
# Viet Nam has kept UTC+7 without daylight saving since 1975: no tz database needed.
VIETNAM_TIME = timezone(timedelta(hours=7), "ICT")
MISSING = "—"


class UnknownKindError(ValueError):
    """A kind the vocabulary does not have: a programming error, caught by the tests."""


@cache
def _data() -> Mapping[str, Mapping[str, str]]:
    raw = tomllib.loads(files("kc_kernel").joinpath("data", "vocabulary.toml").read_text("utf-8"))
    return MappingProxyType(
        {kind: MappingProxyType({str(k): str(v) for k, v in table.items()}) for kind, table in raw.items()}
    )


def kinds() -> frozenset[str]:
    """Every kind :func:`label` answers."""
    return frozenset(_data()) | PLACE_KINDS | {"instance"}


def labels(kind: str) -> Mapping[str, str]:
    """The whole table of one kind (code → label), e.g. for a picker. Not for communes."""
    try:
        return _data()[kind]
    except KeyError:
        raise UnknownKindError(f"vocabulary has no kind {kind!r}; kinds: {', '.join(sorted(kinds()))}") from None


def has_label(kind: str, code: object) -> bool:
    if kind in PLACE_KINDS:
        return _place(kind, str(code)) is not None
    if kind == "instance":
        return _instance(str(code)) is not None
    return str(code) in labels(kind)


def unlabelled(code: object) -> str:
    """What a person sees for a code without a label: the code, marked as such (never a blank)."""
    return f"{code} (chưa có tên)"


def label(kind: str, code: object) -> str:
    """The Vietnamese label of ``code`` of this ``kind``: ``label("de_an_status", "da_dong")`` is
    ``"Đã đóng"``. ``None`` or an empty code reads "—"; a code without a label reads
    ``"<code> (chưa có tên)"`` (a test keeps every code the services use labelled). An unknown
    *kind* raises :class:`UnknownKindError`."""
    if code is None or code == "":
        return MISSING
    text = code.value if hasattr(code, "value") else code
    key = str(text)
    if kind in PLACE_KINDS:
        return _place(kind, key) or unlabelled(key)
    if kind == "instance":
        return _instance(key) or unlabelled(key)
    return labels(kind).get(key) or unlabelled(key)


def _instance(code: str) -> str | None:
    """``bo`` → Bộ Công Thương; ``tinh-40`` → Tỉnh Nghệ An (the province's instance)."""
    if code.startswith("tinh-"):
        return labels("province").get(code.removeprefix("tinh-"))
    return labels("instance").get(code)


# -- communes, through the admin-unit catalogue ---------------------------------------------------------
_units_source: Callable[[], AdminUnits] | None = None


def use_admin_units(source: Callable[[], AdminUnits]) -> None:
    """Give the vocabulary the catalogue communes are named from (called lazily, on the first
    commune label): ``use_admin_units(kc_runtime.adminunits.load_catalogue)``."""
    global _units_source
    _units_source = source


def _place(kind: str, code: str) -> str | None:
    if _units_source is None:
        return None
    units = _units_source()
    if kind == "commune":
        commune = units.current_commune(code)
        return f"{commune.name}, {commune.province.name}" if commune else None
    ward = units.legacy_ward(code)
    return f"{ward.name}, {ward.district_name}, {ward.province.name}" if ward else None


# -- numbers and dates ----------------------------------------------------------------------------------
def format_money(amount: int | None) -> str:
    """``1234567`` → ``"1.234.567 đồng"`` (integer VND, Vietnamese thousands separator)."""
    if amount is None:
        return MISSING
    return f"{vnd(int(amount))} đồng"


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.astimezone(VIETNAM_TIME).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    return datetime.fromisoformat(text).date() if len(text) > 10 else date.fromisoformat(text)


def format_date(value: date | datetime | str | None) -> str:
    """A date as a person writes it: ``dd/mm/yyyy``. Accepts a date, a datetime (an aware one is
    read in Viet Nam time) or an ISO string as the APIs send it; ``None`` reads "—"."""
    if value is None or value == "":
        return MISSING
    return _as_date(value).strftime("%d/%m/%Y")


def format_datetime(value: datetime | str | None) -> str:
    """A moment in Viet Nam time: ``dd/mm/yyyy HH:MM`` (a naive datetime is taken as UTC, as the
    event store records it)."""
    if value is None or value == "":
        return MISSING
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VIETNAM_TIME).strftime("%d/%m/%Y %H:%M")


# -- số tiền bằng chữ ------------------------------------------------------------------------------------
# Written as on Vietnamese financial documents: every group after the first is read in full
# ("một triệu không trăm mười lăm", "một nghìn không trăm linh năm"), "linh" for a missing ten,
# "mốt" for one after twenty, "lăm" for five after a ten. num2words' Vietnamese gives "một triệu
# lẻ mười lăm" and "một nghìn lẻ năm", which a finance officer would send back.
_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALES = ("", "nghìn", "triệu", "tỷ")


def _group(n: int, *, full: bool) -> list[str]:
    """Read 0 < n < 1000; ``full`` reads the hundreds even when zero (a group after the first)."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if hundreds or full:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append("linh")
    elif tens == 1:
        words.append("mười")
    else:
        words += [_DIGITS[tens], "mươi"]
    if units:
        if units == 1 and tens >= 2:
            words.append("mốt")
        elif units == 5 and tens >= 1:
            words.append("lăm")
        else:
            words.append(_DIGITS[units])
    return words


def number_in_words(n: int) -> str:
    """A non-negative integer in Vietnamese words, lower case: ``1005`` → ``"một nghìn không trăm
    linh năm"``. Beyond nine hundred ninety-nine tỷ the tỷ repeat (``"một nghìn tỷ"``)."""
    if n < 0:
        raise ValueError("number_in_words: a non-negative integer")
    if n == 0:
        return _DIGITS[0]
    if n >= 1_000_000_000:
        upper, lower = divmod(n, 1_000_000_000)
        words = [number_in_words(upper), "tỷ"]
        if lower:
            words.append(_below_billion(lower, full=True))
        return " ".join(words)
    return _below_billion(n, full=False)


def _below_billion(n: int, *, full: bool) -> str:
    groups = []
    while n:
        n, g = divmod(n, 1000)
        groups.append(g)
    words: list[str] = []
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g:
            words += _group(g, full=full or bool(words))
            if _SCALES[i]:
                words.append(_SCALES[i])
    return " ".join(words)


def money_in_words(amount: int) -> str:
    """Số tiền bằng chữ: ``1250000`` → ``"Một triệu hai trăm năm mươi nghìn đồng"``."""
    text = number_in_words(int(amount))
    return f"{text[0].upper()}{text[1:]} đồng"


def describe(kind: str, code: Any) -> dict[str, str]:
    """A code with its label, for JSON a person may read: ``{"code": "da_dong", "label": "Đã đóng"}``."""
    return {"code": str(code.value if hasattr(code, "value") else code), "label": label(kind, code)}
