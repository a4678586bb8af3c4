"""The programme view: every đề án this instance hears of, from appraisal's milestones on the bus.

One row per đề án with where it is (province as recorded and as it is after the 2025 merger,
commune, former district, region), what it does (activity contents), its money by funding source
and its status and outputs. The provincial and national views are aggregates of these rows.
Rebuildable from the bus log (``kc_runtime.bus.rebuild``).

A row belongs to the instance that published its events: rows are keyed by (instance, đề án id), so
one province's events never change another's đề án, and a province's đề án counts in that province
(or, recorded before the 2025 merger, in a province merged into it) whatever province code its
payload claims. The ministry's own đề án keep the province they name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cache, lru_cache
from typing import Any, ClassVar

from kc_contracts import ContractEvent, Envelope
from kc_contracts.appraisal_events import (
    AdjustmentDecidedV1,
    AdvanceRecordedV1,
    BaseAppraisalRecordedV1,
    DeAnAcceptedV1,
    DeAnApprovedV1,
    DeAnClosedV1,
    DeAnContractedV1,
    DeAnForwardedV1,
    DeAnNotFundedV1,
    DeAnProposedV1,
    DeAnReturnedV1,
    DeAnSettledV1,
    DeAnSubmittedV1,
    MinistryAppraisalRecordedV1,
)
from kc_contracts.subjects import stream_name
from kc_kernel.dated import read_rules
from kc_kernel.vocabulary import has_label, label
from kc_runtime.adminunits import load_catalogue
from kc_runtime.bus.rebuild import Source
from kc_runtime.store.views import ViewCursor, ViewStore

COLUMNS = (
    "de_an_id",
    "instance",
    "code",
    "title",
    "level",
    "de_an_type",
    "plan_year",
    "province_code",
    "province_now",
    "region",
    "commune_code",
    "district_code",
    "activity",
    "activity_contents",
    "status",
    "support_requested_vnd",
    "counterpart_vnd",
    "other_vnd",
    "recommended_vnd",
    "approved_vnd",
    "contracted_vnd",
    "settled_vnd",
    "outputs",
    "event_time",
    "advanced_vnd",
    "accepted_vnd",
    # for the official report forms (kc_planning.reports): who implements it, for whom, under which
    # decisions, and the dated money (each advance, the settlement's cost items)
    "implementing_unit",
    "beneficiaries",
    "plan_decision",
    "contract_number",
    "contract_signed_on",
    "advances",
    "accepted_on",
    "settled_on",
    "cost_items",
)
# the money of a đề án as it moves, shown next to each other in every aggregate (by status and the rest)
AMOUNTS = ("approved_vnd", "contracted_vnd", "advanced_vnd", "accepted_vnd", "settled_vnd")


@cache
def regions() -> dict[str, str]:
    data = read_rules("kc_planning", "regions.toml")
    return {code: region for region, codes in data["regions"].items() for code in codes}


@lru_cache(maxsize=4096)
def province_now(code: str) -> str:
    cat = load_catalogue()
    if code in cat.provinces_now:
        return code
    successor = cat.current_province_of_legacy(code)
    return successor.code if successor else code


@lru_cache(maxsize=65536)  # static reference data: a bounded cache keeps a rebuild's memory flat
def district_of(commune: str | None, plan_year: int) -> str | None:
    """Former district of a commune recorded before the reorganisation (None after it)."""
    if not commune:
        return None
    ward = load_catalogue().legacy_ward(commune)
    return ward.district_code if ward and plan_year <= 2025 else None


# the milestones this view follows (any other leaves the row as it is)
FOLLOWED = (
    AdvanceRecordedV1,
    DeAnSubmittedV1,
    DeAnForwardedV1,
    DeAnProposedV1,
    BaseAppraisalRecordedV1,
    MinistryAppraisalRecordedV1,
    DeAnApprovedV1,
    DeAnContractedV1,
    DeAnAcceptedV1,
    DeAnSettledV1,
    DeAnReturnedV1,
    DeAnNotFundedV1,
    DeAnClosedV1,
    AdjustmentDecidedV1,
)


@cache
def _kind(event_type: type) -> str | None:
    """What a milestone of this class changes (None: not followed). Decided once per class: the
    contract models are ABCs, so a chain of ``isinstance`` checks costs microseconds per event."""
    if issubclass(event_type, DeAnForwardedV1 | DeAnProposedV1):
        return "proposal+recommended"
    if issubclass(event_type, DeAnSubmittedV1):
        return "proposal"
    if issubclass(event_type, BaseAppraisalRecordedV1 | MinistryAppraisalRecordedV1):
        return "recommended"
    if issubclass(event_type, DeAnApprovedV1):
        return "approved"
    if issubclass(event_type, DeAnContractedV1):
        return "contracted"
    if issubclass(event_type, DeAnAcceptedV1):
        return "accepted"
    if issubclass(event_type, DeAnSettledV1):
        return "settled"
    if issubclass(event_type, AdvanceRecordedV1):
        return "advanced"
    if issubclass(event_type, AdjustmentDecidedV1):
        return "adjusted"
    if issubclass(event_type, DeAnReturnedV1 | DeAnNotFundedV1 | DeAnClosedV1):
        return "status"
    return None


_sorted_json = json.JSONEncoder(sort_keys=True).encode  # json.dumps(..., sort_keys=True), built once


def _apply(row: dict[str, Any], envelope: Envelope, e: Any, kind: str) -> None:
    """What one followed milestone changes in its đề án's row."""
    row["status"], row["event_time"] = e.status, envelope.time.isoformat()
    if kind.startswith("proposal"):
        row["activity_contents"] = json.dumps(e.activity_contents)
        row["activity"] = e.activity_contents[0]
        row["commune_code"] = e.commune_code
        row["district_code"] = district_of(e.commune_code, e.plan_year)
        row["implementing_unit"] = e.implementing_unit
        row["beneficiaries"] = json.dumps([str(b) for b in e.beneficiary_ids])
        row["support_requested_vnd"] = e.budget.support_requested_vnd
        row["counterpart_vnd"] = e.budget.counterpart_vnd
        row["other_vnd"] = e.budget.other_vnd
        if kind == "proposal+recommended":
            row["recommended_vnd"] = e.recommended_support_vnd
    elif kind == "recommended":
        row["recommended_vnd"] = e.recommended_support_vnd
    elif kind == "approved":
        row["approved_vnd"] = e.approved_support_vnd
        row["plan_decision"] = e.plan_decision
    elif kind == "contracted":
        row["contracted_vnd"] = e.contracted_support_vnd
        row["contract_number"], row["contract_signed_on"] = e.contract_number, e.signed_on.isoformat()
    elif kind == "accepted":
        row["outputs"] = _sorted_json(e.outputs)
        worth = e.accepted_support_vnd
        row["accepted_vnd"] = row["contracted_vnd"] if worth is None else worth
        row["accepted_on"] = e.accepted_on.isoformat()
        if e.beneficiary_ids:
            row["beneficiaries"] = json.dumps([str(b) for b in e.beneficiary_ids])
    elif kind == "settled":
        row["settled_vnd"] = e.settled_support_vnd
        row["settled_on"] = e.settled_on.isoformat()
        if e.cost_items is not None:
            row["cost_items"] = _sorted_json([i.model_dump(mode="json") for i in e.cost_items])
        if e.beneficiary_ids:
            row["beneficiaries"] = json.dumps([str(b) for b in e.beneficiary_ids])
    elif kind == "advanced":
        row["advanced_vnd"] = e.advanced_total_vnd
        paid = json.loads(row["advances"] or "[]")  # each advance with its date: a report counts those of its period
        row["advances"] = _sorted_json([*paid, {"paid_on": e.paid_on.isoformat(), "amount_vnd": e.amount_vnd}])
    elif kind == "adjusted":  # an approved change of money reaches the row (older events carry no amount)
        if e.approved_support_vnd is not None:
            row["approved_vnd"] = e.approved_support_vnd
        if e.contracted_support_vnd is not None and row["contracted_vnd"]:
            row["contracted_vnd"] = e.contracted_support_vnd
    # status: returned, not funded, closed change the status and time only


def attributed_province(instance: str, claimed: str) -> str:
    """The province a đề án counts in: the publishing province's, unless the payload names a province
    merged into it (recorded before 1/7/2025); the ministry's own đề án keep what they name."""
    if not instance.startswith("tinh-"):
        return claimed
    own = instance.removeprefix("tinh-")
    return claimed if province_now(claimed) == province_now(own) else own


def _by_instance(keys: list[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(instance, đề án ids) in groups small enough for one statement's parameters."""
    grouped: dict[str, list[str]] = {}
    for instance, de_an_id in keys:
        grouped.setdefault(instance, []).append(de_an_id)
    for instance, ids in grouped.items():
        for part in _chunks(ids):
            yield instance, part


def _chunks(keys: list[str], size: int = 500) -> Iterator[list[str]]:
    """Keys in groups small enough for one statement's parameters on SQLite and PostgreSQL."""
    for i in range(0, len(keys), size):
        yield keys[i : i + size]


class ProgrammeView:
    tables: ClassVar[dict[str, str]] = {
        "programme": "CREATE TABLE IF NOT EXISTS {t} ("
        + ", ".join(f"{c} {'BIGINT' if c.endswith('_vnd') or c == 'plan_year' else 'TEXT'}" for c in COLUMNS)
        + ", PRIMARY KEY (de_an_id, instance))",
        # the establishments each accepted đề án supported (its beneficiaries): counted distinct, never typed
        "supported": "CREATE TABLE IF NOT EXISTS {t} (de_an_id TEXT NOT NULL, instance TEXT NOT NULL,"
        " establishment_id TEXT NOT NULL, PRIMARY KEY (de_an_id, instance, establishment_id))",
    }
    # the primary key (an id first: rows are found by đề án id), the digest's order
    keys: ClassVar[dict[str, str]] = {
        "programme": "de_an_id, instance",
        "supported": "de_an_id, instance, establishment_id",
    }

    def apply_row(self, cur: ViewCursor, names: dict[str, str], envelope: Envelope, event: ContractEvent) -> None:
        self.apply_rows(cur, names, [(envelope, event)])

    def apply_rows(
        self, cur: ViewCursor, names: dict[str, str], events: Sequence[tuple[Envelope, ContractEvent]]
    ) -> None:
        """Apply ``events`` in order: read the rows they touch once, change them in memory, write each
        changed row once (a live message is a batch of one; a rebuild applies thousands at a time)."""
        followed = []
        for envelope, event in events:
            kind = _kind(type(event))
            if kind is not None:  # advances (and milestones not known here) leave the view as it is
                e: Any = event
                followed.append(((envelope.kcinstance, str(e.de_an_id)), envelope, e, kind))
        if not followed:
            return
        table = names["programme"]
        keys = list(dict.fromkeys(key for key, *_ in followed))
        ids = list(dict.fromkeys(de_an_id for _, de_an_id in keys))
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for part in _chunks(ids):  # by id alone (one index), then kept only for the instances touched
            marks = ", ".join("?" * len(part))
            for row in cur.execute(f"SELECT * FROM {table} WHERE de_an_id IN ({marks})", part).fetchall():
                rows[(row["instance"], row["de_an_id"])] = row
        for key, envelope, e, kind in followed:
            if key not in rows:
                rows[key] = self._new_row(envelope, e)
            _apply(rows[key], envelope, e, kind)
        for instance, part in _by_instance(keys):
            marks = ", ".join("?" * len(part))
            cur.execute(f"DELETE FROM {table} WHERE instance = ? AND de_an_id IN ({marks})", [instance, *part])
        cur.executemany(
            f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            [[rows[k][c] for c in COLUMNS] for k in keys],
        )
        supported = {
            key: [str(b) for b in getattr(e, "beneficiary_ids", [])]
            for key, _, e, kind in followed
            if kind == "accepted"
        }
        if supported and "supported" in names:
            for (instance, de_an_id), establishments in supported.items():
                cur.execute(
                    f"DELETE FROM {names['supported']} WHERE instance = ? AND de_an_id = ?", [instance, de_an_id]
                )
                cur.executemany(
                    f"INSERT INTO {names['supported']} (de_an_id, instance, establishment_id) VALUES (?, ?, ?)",
                    [(de_an_id, instance, b) for b in dict.fromkeys(establishments)],
                )

    @staticmethod
    def _new_row(envelope: Envelope, e: Any) -> dict[str, Any]:
        recorded = attributed_province(envelope.kcinstance, e.province_code)
        now = province_now(recorded)
        return {c: None for c in COLUMNS} | {
            "de_an_id": str(e.de_an_id),
            "instance": envelope.kcinstance,
            "code": e.code,
            "title": e.title,
            "level": e.level,
            "de_an_type": e.de_an_type,
            "plan_year": e.plan_year,
            "province_code": recorded,
            "province_now": now,
            "region": regions().get(now, "khac"),
            "activity_contents": "[]",
            "activity": "",
            "support_requested_vnd": 0,
            "counterpart_vnd": 0,
            "other_vnd": 0,
            "recommended_vnd": 0,
            "approved_vnd": 0,
            "contracted_vnd": 0,
            "settled_vnd": 0,
            "advanced_vnd": 0,
            "accepted_vnd": 0,
            "outputs": "{}",
            "beneficiaries": "[]",
            "advances": "[]",
            "cost_items": "[]",
        }


def funding(row: dict[str, Any]) -> dict[str, int]:
    """VND by funding source: the state share is the approved support once approved, else requested."""
    state = int(row["approved_vnd"] or 0) or int(row["support_requested_vnd"] or 0)
    return {
        "quoc_gia": state if row["level"] == "quoc_gia" else 0,
        "dia_phuong": state if row["level"] == "dia_phuong" else 0,
        "doi_ung": int(row["counterpart_vnd"] or 0),
        "khac": int(row["other_vnd"] or 0),
    }


# the programme's indicators (labels: vocabulary kind indicator): typed at acceptance, per activity content
# (appraisal's rules/results.toml); the establishments supported and the recognised products are counted
# from their sources, never typed
INDICATORS = (
    "hoc_vien",
    "hoc_vien_co_viec_lam",
    "luot_hoi_cho",
    "may_moc",
    "mo_hinh",
    "co_so_duoc_ho_tro",
    "san_pham_khu_vuc",
    "san_pham_quoc_gia",
)
COUNTED = ("co_so_duoc_ho_tro", "san_pham_khu_vuc", "san_pham_quoc_gia")
ACCEPTED = ("da_nghiem_thu", "da_quyet_toan", "da_dong")


def aggregate(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Per group: đề án, VND by funding source, and the state support as it moves — approved,
    contracted, advanced, accepted, settled — side by side."""
    groups: dict[Any, dict[str, Any]] = {}
    for row in rows:
        g = groups.setdefault(
            row[by],
            {by: row[by], "de_an": 0, "quoc_gia": 0, "dia_phuong": 0, "doi_ung": 0, "khac": 0}
            | dict.fromkeys(AMOUNTS, 0),
        )
        g["de_an"] += 1
        for source, amount in funding(row).items():
            g[source] += amount
        for column in AMOUNTS:
            g[column] += int(row.get(column) or 0)
    return [groups[k] for k in sorted(groups, key=lambda k: (k is None, str(k)))]


def indicators(
    rows: list[dict[str, Any]],
    supported: dict[tuple[str, str], list[str]] | None = None,
    products: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The programme's indicators over ``rows``: the results typed at acceptance summed by key (a key
    outside the usual list is summed too, under its own label), the distinct establishments the accepted
    đề án supported (``supported``: their beneficiaries), and the typical products certified at the
    regional and national level (``products``: from the registry's recognitions)."""
    totals: dict[str, int] = dict.fromkeys(INDICATORS, 0)
    establishments: set[str] = set()
    for row in rows:
        for key, value in json.loads(row["outputs"] or "{}").items():
            if key in COUNTED or key == "san_pham_ton_vinh":
                continue  # typed before these were counted from their sources: not trusted
            totals[key] = totals.get(key, 0) + int(value)
        if supported is not None and row["status"] in ACCEPTED:
            establishments.update(supported.get((row["instance"], row["de_an_id"]), []))
    totals["co_so_duoc_ho_tro"] = len(establishments)
    for key in ("san_pham_khu_vuc", "san_pham_quoc_gia"):
        totals[key] = int((products or {}).get(key, 0))
    share = round(100 * totals["hoc_vien_co_viec_lam"] / totals["hoc_vien"], 1) if totals["hoc_vien"] else None
    return {
        "values": totals,
        "labels": {k: label("indicator", k) for k in totals},
        "ty_le_co_viec_lam_pct": share,
    }


class ProgrammeQueries:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def rows(
        self,
        *,
        year: int | None = None,
        province: str | None = None,
        level: str | None = None,
        table: str = "programme",
        year_from: int | None = None,
        year_to: int | None = None,
    ) -> list[dict[str, Any]]:
        where, params = ["1 = 1"], []
        for clause, value in (
            ("plan_year = ?", year),
            ("province_now = ?", province),
            ("level = ?", level),
            ("plan_year >= ?", year_from),
            ("plan_year <= ?", year_to),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        with self.store.transaction(commit=False) as cur:
            return cur.execute(
                f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY activity, code", params
            ).fetchall()

    def supported(self, table: str = "supported") -> dict[tuple[str, str], list[str]]:
        """(instance, đề án id) → the establishments it supported (its beneficiaries at acceptance)."""
        out: dict[tuple[str, str], list[str]] = {}
        with self.store.transaction(commit=False) as cur:
            for r in cur.execute(f"SELECT instance, de_an_id, establishment_id FROM {table}").fetchall():
                out.setdefault((r["instance"], r["de_an_id"]), []).append(r["establishment_id"])
        return out

    def provincial(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "by_commune": aggregate(rows, "commune_code"),
            "by_former_district": aggregate(rows, "district_code"),
            "by_activity": aggregate(rows, "activity"),
            "by_status": aggregate(rows, "status"),
            "totals": aggregate([r | {"all": "tong"} for r in rows], "all"),
        }

    def national(
        self,
        rows: list[dict[str, Any]],
        *,
        products: dict[str, dict[str, int]] | None = None,
        supported_table: str = "supported",
    ) -> dict[str, Any]:
        """The national view; ``products``: the recognised typical products per province (from the
        registry's recognitions, for the same years)."""
        return {
            "by_province_as_recorded": aggregate(rows, "province_code"),
            "by_province_now": aggregate(rows, "province_now"),
            "by_region": aggregate(rows, "region"),
            "by_activity": aggregate(rows, "activity"),
            "by_status": aggregate(rows, "status"),
            "indicators": indicators(rows, self.supported(supported_table), _summed(products)),
            "totals": aggregate([r | {"all": "tong"} for r in rows], "all"),
        }

    def indicators_by_province(
        self, rows: list[dict[str, Any]], products: dict[str, dict[str, int]]
    ) -> list[dict[str, Any]]:
        """The indicators per province (as it is now), with the products certified there; every province
        shows every indicator any of them has (0 where it has none), so the rows line up with the totals."""
        supported = self.supported()
        provinces = sorted({r["province_now"] for r in rows} | set(products))
        per_province = [
            {
                "province": p,
                "province_name": label("province", p) if has_label("province", p) else p,
                "de_an": sum(1 for r in rows if r["province_now"] == p),
                "de_an_nghiem_thu": sum(1 for r in rows if r["province_now"] == p and r["status"] in ACCEPTED),
                **indicators([r for r in rows if r["province_now"] == p], supported, products.get(p)),
            }
            for p in provinces
        ]
        keys = {key for row in per_province for key in row["values"]}
        for row in per_province:
            for key in sorted(keys - row["values"].keys()):
                row["values"][key] = 0
                row["labels"][key] = label("indicator", key)
        return per_province


def _summed(products: dict[str, dict[str, int]] | None) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in (products or {}).values():
        for key, n in counts.items():
            total[key] = total.get(key, 0) + n
    return total


def programme_sources(instance: str, peers: list[str]) -> list[Source]:
    """Where the programme view comes from: the same list feeds the live consumers and the rebuild."""
    return [
        Source(
            stream=stream_name(s),
            subjects=[f"kc.{s}.appraisal.de-an.>"],
            tracking_name=f"planning-programme-{s}@{stream_name(s)}",
        )
        for s in [instance, *peers]
    ]
