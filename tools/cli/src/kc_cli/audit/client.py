"""The instance's services over HTTP, as a read-only national auditor (role ``kiem_toan``), and the
chain heads its publishing services report."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from kc_contracts.integrity import (
    TrustStore,
)
from kc_runtime.bus.streamaudit import (
    AuditError,
    PublisherHead,
    checked_head,
)

from kc_cli.audit.local import auditor_token, keys_dir_of, read_run_file


class Http:
    """Calls an instance's services as a read-only national auditor (role ``kiem_toan``)."""

    def __init__(self, run_file: Path, token: str | None, keys_dir: Path | None) -> None:
        services = read_run_file(run_file).get("services")
        if not isinstance(services, dict):
            raise AuditError(f"{run_file} không ghi dịch vụ nào / lists no services")
        self.services: dict[str, str] = services
        self.token = token or auditor_token(
            keys_dir_of(keys_dir, run_file), sub="kc-audit", name="kc audit (kiểm toán, chỉ đọc)"
        )
        self.client = httpx.Client(timeout=300, headers={"Authorization": f"Bearer {self.token}"})

    def url(self, service: str) -> str:
        if service not in self.services:
            raise AuditError(f"không có dịch vụ {service}; có: {', '.join(sorted(self.services))}")
        return self.services[service]

    def get(self, service: str, path: str, **params: Any) -> Any:
        base = self.url(service)
        try:
            response = self.client.get(base + path, params={k: v for k, v in params.items() if v is not None})
        except httpx.HTTPError as exc:
            raise AuditError(f"{service} không trả lời / does not answer: {exc}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            detail = body.get("detail", response.text[:200]) if isinstance(body, dict) else response.text[:200]
            title = body.get("title", "") if isinstance(body, dict) else ""
            raise AuditError(f"{service} {path}: {response.status_code} {title}: {detail}")
        return response.json()

    def close(self) -> None:
        self.client.close()


@contextlib.contextmanager
def http(run_file: Path, token: str | None, keys_dir: Path | None) -> Iterator[Http]:
    client = Http(run_file, token, keys_dir)
    try:
        yield client
    finally:
        client.close()


def publisher_heads(run_file: Path, instance: str, trust: TrustStore, token: str | None) -> dict[str, PublisherHead]:
    """The chain heads of ``instance``'s publishing services, from the URLs ``make run`` wrote, each
    checked against the instance's key in the trust file. Taken before the stream is read, so every
    event they count must be in it. A service that publishes nothing (404) or is not an API (a
    console's redirect) has no head; one that does not answer stops the audit (``--no-heads`` skips)."""
    services = read_run_file(run_file).get("services")
    if not isinstance(services, dict):
        return {}
    mine = {k.split("/", 1)[1]: str(v) for k, v in services.items() if k.startswith(f"{instance}/")}
    if not mine:
        return {}
    heads: dict[str, PublisherHead] = {}
    with http(run_file, token, None) as client:
        for service, base in sorted(mine.items()):
            try:
                response = client.client.get(base + "/outbox/head", follow_redirects=False)
            except httpx.HTTPError as exc:
                raise AuditError(
                    f"{instance}/{service} không trả lời / does not answer ({exc}); "
                    "--no-heads bỏ qua so sánh đầu chuỗi / skips the head comparison"
                ) from exc
            if response.status_code == 404 or 300 <= response.status_code < 400:
                continue
            if response.status_code != 200:
                raise AuditError(f"{instance}/{service} /outbox/head: {response.status_code} {response.text[:200]}")
            try:
                doc = response.json()
            except ValueError as exc:
                raise AuditError(f"{instance}/{service} /outbox/head: không phải JSON / not JSON") from exc
            head = checked_head(doc, instance, service, trust)
            heads[head.source] = head
    return heads
