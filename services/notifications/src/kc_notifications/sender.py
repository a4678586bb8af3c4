"""Delivers queued e-mail notifications: render, send over SMTP, record the outcome. A recipient
without an e-mail address is recorded as such (visible in the log), never silently skipped.

Each sending continues the trace of the event that queued it (the span stored with the row): with
tracing exported it is a client span ``send e-mail`` under the consumer's, failed when SMTP refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import structlog
from kc_runtime import tracing
from kc_runtime.store.views import ViewStore

from kc_notifications import mail

log = structlog.get_logger("kc.notifications")


class Sender:
    def __init__(
        self,
        store: ViewStore,
        *,
        host: str,
        port: int,
        sender: str,
        retry_seconds: list[float],
        spans: tracing.Spans | None = None,
    ) -> None:
        self.store, self.host, self.port, self.sender, self.retry_seconds = store, host, port, sender, retry_seconds
        self.spans = spans

    async def run_once(self) -> int:
        now = datetime.now(UTC).isoformat()
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute(
                "SELECT n.*, r.email, r.name FROM notifications n LEFT JOIN recipients r ON r.key = n.recipient"
                " WHERE n.status = 'cho_gui' AND n.channel = 'email' AND (n.next_at IS NULL OR n.next_at <= ?)"
                " ORDER BY n.id LIMIT 50",
                (now,),
            ).fetchall()
        for row in rows:
            with tracing.continued(
                _text(row.get("traceparent")),
                _text(row.get("tracestate")),
                spans=self.spans,
                name="send e-mail",
                kind="client",
                attributes=None if self.spans is None else _mail_attributes(row, self.host, self.port),
            ):
                await self._deliver(row)
        return len(rows)

    async def _deliver(self, row: dict[str, object]) -> None:
        if not row["email"]:
            self._mark(row, "khong_co_dia_chi", "Chưa có địa chỉ e-mail của người nhận / no e-mail address")
            return
        context = json.loads(str(row["context"])) | {"recipient_name": row["name"]}
        message = mail.render(
            str(row["template"]),
            context,
            sender=self.sender,
            to=str(row["email"]),
            message_key=f"{row['source_key']}.{row['recipient']}",
        )
        try:
            await mail.send(message, self.host, self.port)
        except Exception as exc:
            if self.spans is not None:
                self.spans.annotate(error=repr(exc))
            attempts = int(str(row["attempts"])) + 1
            if attempts > len(self.retry_seconds):
                self._mark(row, "that_bai", repr(exc), attempts=attempts)
            else:
                retry_at = datetime.now(UTC) + timedelta(seconds=self.retry_seconds[attempts - 1])
                self._mark(row, "cho_gui", repr(exc), attempts=attempts, next_at=retry_at.isoformat())
            log.warning("mail not sent", recipient=row["recipient"], error=repr(exc), attempts=attempts)
            return
        self._mark(row, "da_gui", None, attempts=int(str(row["attempts"])) + 1, sent=True)

    def _mark(
        self,
        row: dict[str, object],
        status: str,
        error: str | None,
        *,
        attempts: int | None = None,
        next_at: str | None = None,
        sent: bool = False,
    ) -> None:
        if self.spans is not None:
            self.spans.annotate(attributes={"kc.notification.status": status})
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE notifications SET status = ?, last_error = ?, attempts = ?, next_at = ?, sent_at = ?"
                " WHERE id = ?",
                (
                    status,
                    error,
                    attempts if attempts is not None else row["attempts"],
                    next_at,
                    datetime.now(UTC).isoformat() if sent else None,
                    row["id"],
                ),
            )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _mail_attributes(row: dict[str, object], host: str, port: int) -> dict[str, object]:
    return {
        "kc.notification.template": row.get("template"),
        "kc.notification.recipient": row.get("recipient"),
        "kc.notification.source": row.get("source_key"),
        "kc.notification.attempt": int(str(row.get("attempts") or 0)) + 1,
        "server.address": host,
        "server.port": port,
    }
