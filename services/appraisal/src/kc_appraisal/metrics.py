"""The appraisal's programme gauges for ``GET /metrics``, read at scrape time from its own read models:
đề án by state and level, and the drafts not yet submitted by how near their dossier deadline is (the
calendar the owning authority published, else the packaged default; a unit's extension is not looked at,
so a warning may name a draft whose unit was given more time).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from kc_runtime.metrics import Metrics, Samples
from kc_runtime.store.views import ViewStore

from kc_appraisal.domain.de_an.lifecycle import Status
from kc_appraisal.domain.errors import AppraisalError
from kc_appraisal.domain.rules import CalendarLookup, Rulebook, calendar_for

VIET_NAM = ZoneInfo("Asia/Ho_Chi_Minh")
DUE = ("overdue", "today", "tomorrow", "later", "no_calendar")


def due(deadline: date, today: date) -> str:
    days = (deadline - today).days
    return "overdue" if days < 0 else "today" if days == 0 else "tomorrow" if days == 1 else "later"


def register(
    metrics: Metrics,
    views: ViewStore,
    *,
    rules: Rulebook,
    calendars: CalendarLookup,
    today: Callable[[], date] = lambda: datetime.now(VIET_NAM).date(),
) -> None:
    def by_state() -> Samples:
        with views.transaction(commit=False) as cur:
            rows = cur.execute(
                "SELECT status, level, COUNT(*) AS n FROM de_an_v2 GROUP BY status, level ORDER BY status, level"
            ).fetchall()
        return [((r["status"], r["level"]), float(r["n"])) for r in rows]

    def unsubmitted() -> Samples:
        with views.transaction(commit=False) as cur:
            rows = cur.execute(
                "SELECT level, province_code, plan_year, COUNT(*) AS n FROM de_an_v2 WHERE status = ?"
                " GROUP BY level, province_code, plan_year",
                (Status.draft.value,),
            ).fetchall()
        counts: Counter[str] = Counter(dict.fromkeys(DUE, 0))
        on = today()
        for r in rows:
            try:
                calendar = calendar_for(rules, r["level"], r["province_code"], int(r["plan_year"]), calendars)
            except AppraisalError:
                counts["no_calendar"] += int(r["n"])
                continue
            counts[due(calendar.dossier_deadline, on)] += int(r["n"])
        return [((k,), float(counts[k])) for k in DUE]

    metrics.gauge("kc_de_an", "Đề án by state and level (the appraisal's list)", ["status", "level"], by_state)
    metrics.gauge(
        "kc_de_an_unsubmitted",
        "Draft đề án not yet submitted, by how near their dossier deadline is (Viet Nam date)",
        ["due"],
        unsubmitted,
    )
