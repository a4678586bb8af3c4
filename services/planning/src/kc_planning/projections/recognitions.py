"""Recognised typical rural industrial products, counted from the registry's recognitions (never a number
typed at acceptance): ``registry.establishment.recognition-recorded.v1`` and ``-revoked.v1`` of this
instance and its peers (the ministry: every province). The programme indicators count the typical-
product certificates issued in a year at the regional and the national level apart, by province (the
publishing province, as it is after the 2025 merger)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking
from kc_contracts import ContractEvent, Envelope
from kc_contracts.registry_events import RecognitionRecordedV1, RecognitionRevokedV1
from kc_runtime.store.views import ViewStore

from kc_planning.projections.programme import province_now

TYPICAL_PRODUCT = "san_pham_cnnt_tieu_bieu"
COUNTED_LEVELS = {"khu_vuc": "san_pham_khu_vuc", "quoc_gia": "san_pham_quoc_gia"}

DDL = [
    """CREATE TABLE IF NOT EXISTS recognitions (
        recognition_id TEXT NOT NULL,
        instance TEXT NOT NULL,
        establishment_id TEXT NOT NULL,
        scheme TEXT NOT NULL,
        level TEXT,
        decision_date TEXT NOT NULL,
        year BIGINT NOT NULL,
        province_code TEXT NOT NULL,
        province_now TEXT NOT NULL,
        revoked_on TEXT,
        PRIMARY KEY (instance, recognition_id)
    )""",
]


def province_of(instance: str) -> str:
    return instance.removeprefix("tinh-") if instance.startswith("tinh-") else "00"


class RecognitionsView:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def apply(self, envelope: Envelope, event: ContractEvent, tracking: Tracking) -> None:
        with self.store.transaction() as cur:
            if isinstance(event, RecognitionRecordedV1):
                province = province_of(envelope.kcinstance)
                cur.execute(
                    "INSERT INTO recognitions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
                    " ON CONFLICT (instance, recognition_id) DO NOTHING",
                    (
                        event.recognition_id,
                        envelope.kcinstance,
                        str(event.establishment_id),
                        event.scheme,
                        event.level,
                        event.decision_date.isoformat(),
                        event.decision_date.year,
                        province,
                        province_now(province),
                    ),
                )
            elif isinstance(event, RecognitionRevokedV1):
                cur.execute(
                    "UPDATE recognitions SET revoked_on = ? WHERE instance = ? AND recognition_id = ?",
                    (event.revoked_on.isoformat(), envelope.kcinstance, event.recognition_id),
                )
            self.store.track(cur, tracking)

    def products(
        self, *, year_from: int | None = None, year_to: int | None = None, province: str | None = None
    ) -> dict[str, dict[str, int]]:
        """Typical products certified at the regional and national level, by the year of the decision in
        the range, per province now: ``{province: {san_pham_khu_vuc: n, san_pham_quoc_gia: m}}``. A
        certificate revoked later still counts for the year it was issued (it was honoured then)."""
        where, params = ["scheme = ?"], [TYPICAL_PRODUCT]
        for clause, value in (("year >= ?", year_from), ("year <= ?", year_to), ("province_now = ?", province)):
            if value is not None:
                where.append(clause)
                params.append(value)  # type: ignore[arg-type]
        with self.store.transaction(commit=False) as cur:
            rows: list[dict[str, Any]] = cur.execute(
                f"SELECT province_now, level, COUNT(*) AS n FROM recognitions WHERE {' AND '.join(where)}"
                " GROUP BY province_now, level",
                params,
            ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            key = COUNTED_LEVELS.get(str(r["level"]))
            if key:
                out.setdefault(r["province_now"], dict.fromkeys(COUNTED_LEVELS.values(), 0))[key] += int(r["n"])
        return out
