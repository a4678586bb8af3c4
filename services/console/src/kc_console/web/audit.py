"""Kiểm toán: what ``kc audit`` prints, for an auditor, read-only — the stream's verification (every
signature, every publisher's hash chain, gaps in the sequence, an event missing at the tail of a chain)
and the planning view rebuilt from the log beside the live one.

The verification is :mod:`kc_runtime.bus.streamaudit`'s, the same as ``kc audit verify``: the console reads
the bus as the auditor (``make run`` gives it the auditor's NATS account, which reads every stream and
publishes nothing), with the trust file of the instance's keys. The publishing services' own chain
heads (``GET /outbox/head``, signed by their instance) are fetched first with the officer's token, so
the services decide whether this officer may verify this instance. One verification at a time per
console, in a thread of its own (a long stream must not hold the pages of other officers)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError, Calls, Unavailable, vietnamese
from kc_console.settings import ConsoleSettings
from kc_console.web.common import Forbidden, calls, ctx, render, require
from kc_console.web.reports import rebuild_comparison
from kc_contracts.integrity import TrustStore
from kc_kernel import vocabulary as vocab
from kc_runtime.bus.streamaudit import Audit, AuditError, PublisherHead, StreamState, checked_head, replay

_verifying = asyncio.Lock()  # one verification at a time in this console


@dataclass
class Verification:
    """What the page shows of one verification."""

    audit: Audit
    state: StreamState
    seconds: float
    compared: list[PublisherHead]

    def publishers(self) -> list[dict[str, Any]]:
        rows = []
        for source, p in self.audit.publishers().items():
            head = self.audit.heads.get(source)
            service = source.rstrip("/").rsplit("/", 1)[-1]
            rows.append(
                p
                | {
                    "source": source,
                    "name": vocab.label("service", service) if vocab.has_label("service", service) else service,
                    "reported": head.seq if head else None,
                    "short_head": short(p["head_hash"]),
                }
            )
        # a publisher that reports a head but has nothing in the stream is shown too (all of it missing)
        for source, head in sorted(self.audit.heads.items()):
            if source not in self.audit.chains:
                rows.append(
                    {
                        "source": source,
                        "name": vocab.label("service", head.service)
                        if vocab.has_label("service", head.service)
                        else head.service,
                        "events": 0,
                        "chain_length": 0,
                        "short_head": "—",
                        "reported": head.seq,
                    }
                )
        return rows

    def keys(self) -> list[dict[str, Any]]:
        return [
            {"key_id": kid, "instance": k["instance"], "events": k["events"], "status": vietnamese(k["status"])}
            for kid, k in self.audit.key_records().items()
        ]

    def failures(self) -> list[dict[str, Any]]:
        return [
            {
                "seq": f.seq,
                "event_id": f.event_id,
                "publisher": f.publisher,
                "reason": vocab.label("audit_failure", f.reason),
                "message": f.message,
            }
            for f in self.audit.failures
        ]


def short(digest: str | None, n: int = 16) -> str:
    if not digest:
        return "—"
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:n]}…" if hexpart else digest[:n] + "…"


async def chain_heads(api: Calls, where: str, trust: TrustStore) -> list[PublisherHead]:
    """The chain head each publishing service of ``where`` reports, checked against the instance's key;
    a service that publishes nothing (404) has none. Refusals (403) and silence stop the verification."""
    heads = []
    for key in sorted(api.backend.urls):
        instance, service = key.split("/", 1)
        if instance != where or service == "console":
            continue
        try:
            doc = await api.get(service, "/outbox/head", instance=where)
        except ApiError as exc:
            if exc.status == 404:
                continue
            raise
        heads.append(checked_head(doc, where, service, trust))
    return heads


def load_trust(path: Path) -> TrustStore:
    try:
        return TrustStore.from_json(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"Không đọc được tệp khóa tin cậy {path}: {exc}") from exc


async def verify(api: Calls, where: str, settings: ConsoleSettings) -> Verification:
    """As ``kc audit verify --instance where``: the heads first, then every message of the stream."""
    trust = load_trust(settings.trust_path)
    heads = await chain_heads(api, where, trust)  # before the stream is read: all they count is in it
    audit = Audit(where, trust)
    audit.heads = {h.source: h for h in heads}
    began = time.perf_counter()
    # its own event loop in a thread: checking signatures is CPU work, the console's loop keeps serving
    state = await asyncio.to_thread(asyncio.run, replay(settings.nats_url, where, audit, batch=5000))
    audit.compare_heads()
    return Verification(audit, state, round(time.perf_counter() - began, 2), heads)


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/kiem-toan")
    async def audit_page(request: Request, noi: str = "", chay: int = 0, xac_minh: int = 0) -> Response:
        officer = require(request)
        if not officer.may("verify"):
            raise Forbidden("Trang kiểm toán dành cho kiểm toán viên, thanh tra")
        c = ctx(request)
        places = [i for i in c.backend.instances() if officer.may("verify", i)]
        where = noi if noi in places else c.settings.instance
        comparison: dict[str, Any] | None = None
        verification: Verification | None = None
        error = verify_error = ""
        if chay and not c.backend.has("planning", where):
            error = f"{vocab.label('instance', where)} không có dịch vụ kế hoạch: không có báo cáo để dựng lại."
        elif chay:
            try:
                comparison = await rebuild_comparison(calls(request, officer), where)
            except ApiError as exc:
                error = exc.message
        if xac_minh:
            if _verifying.locked():
                verify_error = "Một lần kiểm tra khác đang chạy trên bảng điều khiển này; vui lòng thử lại sau ít phút."
            else:
                async with _verifying:
                    try:
                        verification = await verify(calls(request, officer), where, c.settings)
                    except AuditError as exc:
                        verify_error = vietnamese(str(exc))
                    except ApiError as exc:
                        verify_error = "Không lấy được đầu chuỗi do dịch vụ báo: " + exc.message
                    except Unavailable as exc:
                        verify_error = f"Không kết nối được dịch vụ {exc.service} của {exc.instance}."
            if verification is not None:
                c.store.log(
                    officer.username,
                    "kiem_tra_nhat_ky",
                    f"{where}: {verification.audit.messages} thông điệp, {len(verification.audit.failures)} lỗi",
                )
        return render(
            request,
            "audit.html",
            active="kiem-toan",
            title="Kiểm toán",
            places=places,
            where=where,
            comparison=comparison,
            error=error,
            verification=verification,
            verify_error=verify_error,
        )

    return api
