"""Thông báo: the e-mails and reminders sent (the delivery log, the test mail sink), and webhook
subscriptions for integrators: create, rotate the secret, disable, enable, delete, the delivery log,
redeliver a failed one. A secret is shown once, when it is made."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from kc_console.backend import ApiError, Calls
from kc_console.roles import Officer
from kc_console.web.common import Forbidden, calls, checked_form, ctx, redirect, render, require

TEMPLATES = {"reminder": "Nhắc hạn", "status": "Thông báo trạng thái đề án"}
EVENT_TYPES = (
    ("kc.planning.plan.approved.v1", "Kế hoạch được phê duyệt"),
    ("kc.planning.plan.amended.v1", "Kế hoạch được điều chỉnh"),
    ("*", "Mọi sự kiện công khai"),
)


def _operator(request: Request) -> Officer:
    officer = require(request)
    if not officer.may("operate"):
        raise Forbidden("Trang thông báo dành cho cán bộ vận hành (Sở Công Thương, Cục)")
    return officer


async def _page(
    request: Request, api: Calls, *, secret: str = "", status: int = 200, error: str = "", url: str = ""
) -> Response:
    log = await api.get("notifications", "/notifications", params={"limit": 100})
    try:
        mail = await api.get("notifications", "/mail", params={"limit": 30})
    except ApiError:
        mail = None  # the test mail sink is off (production)
    subscriptions = await api.get("notifications", "/webhooks")
    return render(
        request,
        "notifications.html",
        status=status,
        active="thong-bao",
        title="Thông báo",
        log=log,
        mail=mail,
        subscriptions=subscriptions,
        templates_vi=TEMPLATES,
        event_types=EVENT_TYPES,
        secret=secret,
        error=error,
        url=url,
    )


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/thong-bao")
    async def page(request: Request) -> Response:
        officer = _operator(request)
        return await _page(request, calls(request, officer))

    @api.post("/thong-bao/webhook")
    async def create(request: Request) -> Response:
        officer = _operator(request)
        form = await checked_form(request)
        api_calls = calls(request, officer)
        url = str(form.get("url") or "").strip()
        types = [str(t) for t in form.getlist("event_types") if str(t) in dict(EVENT_TYPES)]
        if not url or len(url) > 500:
            return await _page(
                request, api_calls, status=422, error="Địa chỉ nhận (URL) bắt buộc, tối đa 500 ký tự", url=url[:500]
            )
        if not types:
            return await _page(request, api_calls, status=422, error="Chọn ít nhất một loại sự kiện", url=url)
        try:
            made: dict[str, Any] = await api_calls.post(
                "notifications", "/webhooks", json={"url": url, "event_types": types}
            )
        except ApiError as exc:
            if exc.status != 422:
                raise
            message = exc.by_field().get("url") or exc.message
            return await _page(request, api_calls, status=422, error=f"Địa chỉ nhận: {message}", url=url)
        ctx(request).store.log(officer.username, "tao_webhook", f"{made['id']} → {url}")
        return await _page(request, api_calls, secret=f"{made['id']}: {made['secret']}")

    @api.post("/thong-bao/webhook/{sub_id}/{action}")
    async def act(request: Request, sub_id: str, action: str) -> Response:
        officer = _operator(request)
        await checked_form(request)
        api_calls = calls(request, officer)
        sub_id = sub_id[:32]
        if action == "doi-khoa":
            rotated = await api_calls.post("notifications", f"/webhooks/{sub_id}/rotate")
            ctx(request).store.log(officer.username, "doi_khoa_webhook", sub_id)
            return await _page(request, api_calls, secret=f"{sub_id}: {rotated['secret']}")
        if action == "tat":
            await api_calls.post("notifications", f"/webhooks/{sub_id}/disable")
        elif action == "bat":
            await api_calls.post("notifications", f"/webhooks/{sub_id}/enable")
        elif action == "xoa":
            await api_calls.request("DELETE", "notifications", f"/webhooks/{sub_id}")
        else:
            raise ApiError(404, "Không tìm thấy", "Không có thao tác này")
        ctx(request).store.log(officer.username, f"webhook_{action}", sub_id)
        done = {"tat": "Đã tạm ngừng", "bat": "Đã bật lại", "xoa": "Đã xóa"}[action]
        return redirect("/thong-bao#webhook", f"{done} đăng ký webhook {sub_id}.")

    @api.get("/thong-bao/webhook/{sub_id}")
    async def deliveries(request: Request, sub_id: str) -> Response:
        officer = _operator(request)
        api_calls = calls(request, officer)
        sub = await api_calls.get("notifications", f"/webhooks/{sub_id[:32]}")
        rows = await api_calls.get("notifications", f"/webhooks/{sub['id']}/deliveries")
        return render(
            request, "webhook.html", active="thong-bao", title=f"Nhật ký webhook {sub['id']}", sub=sub, rows=rows
        )

    @api.post("/thong-bao/webhook/{sub_id}/gui-lai/{delivery_id}")
    async def redeliver(request: Request, sub_id: str, delivery_id: int) -> Response:
        officer = _operator(request)
        await checked_form(request)
        try:
            await calls(request, officer).post("notifications", f"/webhooks/deliveries/{delivery_id}/redeliver")
        except ApiError as exc:
            if exc.status != 422:
                raise
            return redirect(f"/thong-bao/webhook/{sub_id[:32]}", f"Chưa gửi lại: {exc.message}")
        ctx(request).store.log(officer.username, "gui_lai_webhook", str(delivery_id))
        return redirect(f"/thong-bao/webhook/{sub_id[:32]}", "Đã xếp lượt gửi lại.")

    return api
