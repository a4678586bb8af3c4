"""The notifications' gauges for ``GET /metrics``, read at scrape time from its own tables: e-mails by
status (``da_gui`` sent, ``that_bai`` failed for good, ``cho_gui`` waiting or retrying,
``khong_co_dia_chi`` no address) and webhook deliveries by outcome (``da_gui`` delivered, ``thu_lai``
retrying, ``that_bai`` failed, ``huy`` cancelled, ``cho_gui`` waiting). Counts of rows kept, so they
survive a restart; ``delta()`` over them is what was sent or failed in a window."""

from __future__ import annotations

from kc_runtime.metrics import Metrics, Samples
from kc_runtime.store.views import ViewStore

EMAIL_STATUSES = ("da_gui", "that_bai", "cho_gui", "khong_co_dia_chi")
DELIVERY_OUTCOMES = ("da_gui", "thu_lai", "that_bai", "huy", "cho_gui")


def register(metrics: Metrics, views: ViewStore) -> None:
    def counted(sql: str, known: tuple[str, ...]) -> Samples:
        with views.transaction(commit=False) as cur:
            found = {str(r["status"]): int(r["n"]) for r in cur.execute(sql).fetchall()}
        return [((status,), float(found.get(status, 0))) for status in dict.fromkeys([*known, *sorted(found)])]

    metrics.gauge(
        "kc_emails",
        "E-mails by status (da_gui sent, that_bai failed, cho_gui waiting, khong_co_dia_chi no address)",
        ["status"],
        lambda: counted(
            "SELECT status, COUNT(*) AS n FROM notifications WHERE channel = 'email' GROUP BY status", EMAIL_STATUSES
        ),
    )
    metrics.gauge(
        "kc_webhook_deliveries",
        "Webhook deliveries by outcome (da_gui delivered, thu_lai retrying, that_bai failed, huy cancelled)",
        ["outcome"],
        lambda: counted("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status", DELIVERY_OUTCOMES),
    )
