"""Webhooks for integrators, following the Standard Webhooks spec.

Headers: ``webhook-id`` (the event id: the same event always has the same id), ``webhook-timestamp``
(seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>``; one per
active secret, so a secret can be rotated without losing deliveries). The body is the CloudEvents
envelope. Retries back off exponentially with jitter; 410 Gone disables the endpoint; after the
last retry a delivery is a dead letter that a command can redeliver. Targets on private networks
are refused unless their host is allow-listed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import random
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
from kc_runtime.store.views import ViewStore


class WebhookError(ValueError):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SubscriptionNotFoundError(WebhookError):
    """No webhook subscription with this id (never made, or deleted)."""


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def check_target(url: str, allow_hosts: list[str]) -> None:
    """Refuse URLs that are not http(s) or that resolve to a private, loopback or link-local address."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise WebhookError("URL phải là http(s)://máy-chủ/... / the URL must be http(s)", field="url")
    host = parsed.hostname
    if host in allow_hosts:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parsed.port or 443, proto=socket.IPPROTO_TCP)}
    except OSError:
        raise WebhookError(f"Không phân giải được máy chủ {host} / cannot resolve the host", field="url") from None
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise WebhookError(
                f"Địa chỉ {host} ({ip}) thuộc mạng nội bộ; chỉ được dùng khi có trong danh sách cho phép "
                "(KC_WEBHOOK_ALLOW_HOSTS) / private-network targets are refused unless allow-listed",
                field="url",
            )


@dataclass
class Subscriptions:
    store: ViewStore
    allow_hosts: list[str]

    def create(self, url: str, event_types: list[str]) -> dict[str, Any]:
        check_target(url, self.allow_hosts)
        if not event_types:
            raise WebhookError(
                "Cần ít nhất một loại sự kiện ('*' = tất cả) / at least one event type", field="event_types"
            )
        sub = {"id": secrets.token_hex(8), "url": url, "event_types": event_types, "secret": new_secret()}
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO subscriptions VALUES (?, ?, ?, ?, 1, NULL, ?)",
                (sub["id"], url, json.dumps(event_types), json.dumps([sub["secret"]]), datetime.now(UTC).isoformat()),
            )
        return sub

    def get(self, sub_id: str) -> dict[str, Any]:
        with self.store.transaction(commit=False) as cur:
            row = cur.execute("SELECT * FROM subscriptions WHERE id = ?", (sub_id,)).fetchone()
        if row is None:
            raise SubscriptionNotFoundError("Không có đăng ký webhook này / no such subscription", field="id")
        return row | {"event_types": json.loads(row["event_types"]), "secrets": len(json.loads(row["secrets"]))}

    def rotate(self, sub_id: str, *, keep_old: bool = True) -> str:
        """A new secret; the old one keeps signing (beside it) until ``keep_old`` is False."""
        self.get(sub_id)
        secret = new_secret()
        with self.store.transaction() as cur:
            row = cur.execute("SELECT secrets FROM subscriptions WHERE id = ?", (sub_id,)).fetchone()
            current = json.loads(row["secrets"]) if row else []
            cur.execute(
                "UPDATE subscriptions SET secrets = ? WHERE id = ?",
                (json.dumps([*(current[-1:] if keep_old else []), secret]), sub_id),
            )
        return secret

    def listed(self) -> list[dict[str, Any]]:
        """Every subscription, without its secrets (their count only)."""
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute("SELECT * FROM subscriptions ORDER BY created_at, id").fetchall()
        return [
            {k: v for k, v in row.items() if k != "secrets"}
            | {"event_types": json.loads(row["event_types"]), "secrets": len(json.loads(row["secrets"]))}
            for row in rows
        ]

    def disable(self, sub_id: str, reason: str = "tắt bởi cán bộ / disabled by an operator") -> None:
        """No delivery is attempted while disabled; pending ones wait (enable sends them)."""
        self.get(sub_id)
        with self.store.transaction() as cur:
            cur.execute("UPDATE subscriptions SET active = 0, disabled_reason = ? WHERE id = ?", (reason, sub_id))

    def delete(self, sub_id: str) -> int:
        """Remove the subscription (its secrets with it); its pending deliveries are cancelled, kept in
        the log. Returns how many were cancelled."""
        self.get(sub_id)
        with self.store.transaction() as cur:
            cancelled = cur.execute(
                "UPDATE deliveries SET status = 'huy', last_error = ? WHERE subscription_id = ?"
                " AND status IN ('cho_gui', 'thu_lai')",
                ("đăng ký đã xóa / subscription deleted", sub_id),
            ).rowcount
            cur.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
        return cancelled

    def enable(self, sub_id: str) -> None:
        self.get(sub_id)
        with self.store.transaction() as cur:
            cur.execute("UPDATE subscriptions SET active = 1, disabled_reason = NULL WHERE id = ?", (sub_id,))

    def deliveries(self, sub_id: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        where, params = ["1 = 1"], []
        for column, value in (("subscription_id", sub_id), ("status", status)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        with self.store.transaction(commit=False) as cur:
            rows = cur.execute(
                f"SELECT id, subscription_id, event_id, status, attempts, next_at, last_status,"
                f" last_error, delivered_at FROM deliveries WHERE {' AND '.join(where)} ORDER BY id",
                params,
            ).fetchall()
        return rows

    def redeliver(self, delivery_id: int) -> None:
        with self.store.transaction() as cur:
            changed = cur.execute(
                "UPDATE deliveries SET status = 'cho_gui', attempts = 0, next_at = ? WHERE id = ?"
                " AND status IN ('that_bai', 'huy') AND subscription_id IN (SELECT id FROM subscriptions)",
                (datetime.now(UTC).isoformat(), delivery_id),
            ).rowcount
        if not changed:
            raise WebhookError(
                "Chỉ gửi lại được lượt đã thất bại hoặc bị hủy của một đăng ký còn hiệu lực / only failed or "
                "cancelled deliveries of a subscription that still exists",
                field="id",
            )


class Deliverer:
    """Sends due deliveries; one HTTP attempt per due row per pass."""

    def __init__(self, store: ViewStore, retry_seconds: list[float], client: httpx.AsyncClient | None = None) -> None:
        self.store = store
        self.retry_seconds = retry_seconds
        self.client = client or httpx.AsyncClient(timeout=10, follow_redirects=False)

    def _due(self) -> list[dict[str, Any]]:
        with self.store.transaction(commit=False) as cur:
            return cur.execute(
                "SELECT d.id, d.event_id, d.body, d.attempts, s.id AS sub, s.url, s.secrets FROM deliveries d"
                " JOIN subscriptions s ON s.id = d.subscription_id"
                " WHERE d.status IN ('cho_gui', 'thu_lai') AND d.next_at <= ? AND s.active = 1 ORDER BY d.id LIMIT 50",
                (datetime.now(UTC).isoformat(),),
            ).fetchall()

    async def run_once(self) -> int:
        done = 0
        for row in self._due():
            await self._attempt(row)
            done += 1
        return done

    async def _attempt(self, row: dict[str, Any]) -> None:
        body = row["body"].encode()
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": row["event_id"],
            "webhook-timestamp": str(stamp),
            "webhook-signature": " ".join(sign(s, row["event_id"], stamp, body) for s in json.loads(row["secrets"])),
        }
        status: int | None = None
        error = None
        try:
            response = await self.client.post(row["url"], content=body, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = repr(exc)
        attempts = row["attempts"] + 1
        with self.store.transaction() as cur:
            if status is not None and 200 <= status < 300:
                cur.execute(
                    "UPDATE deliveries SET status = 'da_gui', attempts = ?, last_status = ?,"
                    " delivered_at = ?, last_error = NULL WHERE id = ?",
                    (attempts, status, datetime.now(UTC).isoformat(), row["id"]),
                )
            elif status == 410:
                cur.execute(
                    "UPDATE subscriptions SET active = 0, disabled_reason = ? WHERE id = ?",
                    ("410 Gone: điểm nhận đã ngừng / the endpoint is gone", row["sub"]),
                )
                cur.execute(
                    "UPDATE deliveries SET status = 'huy', attempts = ?, last_status = 410 WHERE"
                    " subscription_id = ? AND status IN ('cho_gui', 'thu_lai')",
                    (attempts, row["sub"]),
                )
            elif attempts > len(self.retry_seconds):
                cur.execute(
                    "UPDATE deliveries SET status = 'that_bai', attempts = ?, last_status = ?, last_error = ?"
                    " WHERE id = ?",
                    (attempts, status, error, row["id"]),
                )
            else:
                delay = self.retry_seconds[attempts - 1] * random.uniform(0.8, 1.2)
                cur.execute(
                    "UPDATE deliveries SET status = 'thu_lai', attempts = ?, last_status = ?, last_error = ?,"
                    " next_at = ? WHERE id = ?",
                    (attempts, status, error, (datetime.now(UTC) + timedelta(seconds=delay)).isoformat(), row["id"]),
                )
