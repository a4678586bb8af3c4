"""HTTP API of the notifications service: recipients, the delivery log, webhooks, the pull feed,
the mail sink (development) and the scheduler's tick (for a demo or an operator)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from kc_runtime.web.errors import problem_responses, rules_dated_by
from kc_runtime.web.fields import Text200
from pydantic import BaseModel, ConfigDict, Field

from kc_notifications.feed import visible_to
from kc_notifications.store import NotificationStore
from kc_notifications.webhooks import Subscriptions, WebhookError


class RecipientBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text200
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)
    role: str = Field(pattern=r"^(don_vi_dang_ky|don_vi_thuc_hien|co_so|can_bo)$")
    scope: str = Field(description="Instance the recipient belongs to: tinh-40, bo …")


class SubscriptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=500)
    event_types: list[str] = Field(min_length=1, description="e.g. kc.planning.plan.approved.v1, or '*'")


def router() -> APIRouter:
    api = APIRouter()
    errors = problem_responses(404, 422)

    def store(request: Request) -> NotificationStore:
        found: NotificationStore = request.app.state.notifications
        return found

    def subs(request: Request) -> Subscriptions:
        found: Subscriptions = request.app.state.subscriptions
        return found

    @api.put(
        "/recipients/{key}",
        tags=["người nhận"],
        responses=errors,
        summary="Người nhận (key: don-vi:<tên không dấu>, co-so:<id cơ sở>)",
    )
    def put_recipient(key: str, body: RecipientBody, request: Request) -> dict[str, Any]:
        store(request).put_recipient(key, body.name, body.email, body.role, body.scope)
        return {"key": key, **body.model_dump()}

    @api.get("/recipients", tags=["người nhận"])
    def recipients(request: Request, role: str | None = None, scope: str | None = None) -> list[dict[str, Any]]:
        return store(request).recipients(role, scope)

    @api.get("/notifications", tags=["nhật ký gửi"], summary="Nhật ký thông báo / delivery log")
    def notifications(
        request: Request,
        status: str | None = None,
        recipient: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        return store(request).log(status=status, recipient=recipient, limit=limit)

    @api.post("/scheduler/tick", tags=["nhắc hạn"], summary="Chạy nhắc hạn cho một ngày (mặc định hôm nay)")
    def tick(request: Request, today: date | None = None) -> dict[str, Any]:
        day = today or datetime.now(UTC).date()
        with rules_dated_by("today"):  # the reminder rules in force that day
            return {"day": day.isoformat(), "queued": request.app.state.scheduler.tick(day)}

    @api.get("/mail", tags=["hộp thư thử nghiệm"], summary="Thư trong hộp thư nhúng (make run)")
    def mail(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
        sink = request.app.state.mail_sink
        if sink is None:
            raise WebhookError("Hộp thư nhúng không bật (KC_SMTP_SINK) / the mail sink is off", field="mail")
        messages: list[dict[str, Any]] = sink.messages(limit)
        return messages

    @api.post(
        "/webhooks",
        status_code=201,
        tags=["webhook"],
        responses=errors,
        summary="Đăng ký webhook (trả về secret một lần)",
    )
    def create(body: SubscriptionBody, request: Request) -> dict[str, Any]:
        return subs(request).create(body.url, body.event_types)

    @api.get("/webhooks", tags=["webhook"], summary="Các đăng ký webhook (không có secret)")
    def list_subscriptions(request: Request) -> list[dict[str, Any]]:
        return subs(request).listed()

    @api.post("/webhooks/{sub_id}/disable", tags=["webhook"], responses=errors, summary="Tạm ngừng gửi")
    def disable(sub_id: str, request: Request) -> dict[str, str]:
        subs(request).disable(sub_id)
        return {"id": sub_id, "active": "false"}

    @api.delete("/webhooks/{sub_id}", tags=["webhook"], responses=errors, summary="Xóa đăng ký (hủy lượt chờ gửi)")
    def delete(sub_id: str, request: Request) -> dict[str, str]:
        subs(request).delete(sub_id)
        return {"id": sub_id, "deleted": "true"}

    @api.get("/webhooks/{sub_id}", tags=["webhook"], responses=errors)
    def get(sub_id: str, request: Request) -> dict[str, Any]:
        sub = subs(request).get(sub_id)
        sub.pop("secrets", None)
        return sub

    @api.post(
        "/webhooks/{sub_id}/rotate",
        tags=["webhook"],
        responses=errors,
        summary="Đổi secret (secret cũ vẫn ký song song đến lần đổi sau)",
    )
    def rotate(sub_id: str, request: Request) -> dict[str, str]:
        return {"secret": subs(request).rotate(sub_id)}

    @api.post("/webhooks/{sub_id}/enable", tags=["webhook"], responses=errors)
    def enable(sub_id: str, request: Request) -> dict[str, str]:
        subs(request).enable(sub_id)
        return {"id": sub_id, "active": "true"}

    @api.get("/webhooks/{sub_id}/deliveries", tags=["webhook"], responses=errors)
    def deliveries(sub_id: str, request: Request, status: str | None = None) -> list[dict[str, Any]]:
        subs(request).get(sub_id)
        return subs(request).deliveries(sub_id, status)

    @api.post(
        "/webhooks/deliveries/{delivery_id}/redeliver",
        tags=["webhook"],
        responses=errors,
        summary="Gửi lại một lượt đã thất bại (thư chết)",
    )
    def redeliver(delivery_id: int, request: Request) -> dict[str, Any]:
        subs(request).redeliver(delivery_id)
        return {"id": delivery_id, "status": "cho_gui"}

    @api.get("/events", tags=["nguồn sự kiện"], summary="Nguồn sự kiện cho bên tích hợp không nhận được webhook")
    def feed(
        request: Request,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        type: str | None = None,
    ) -> dict[str, Any]:
        views = request.app.state.views
        scope, scope_params = visible_to(request.state.principal)  # what the APIs would show the caller
        where: list[str] = ["position > ?", scope]
        params: list[Any] = [after, *scope_params]
        if type:
            where.append("type = ?")
            params.append(type)
        with views.transaction(commit=False) as cur:
            rows = cur.execute(
                f"SELECT position, envelope FROM feed WHERE {' AND '.join(where)} ORDER BY position LIMIT ?",
                [*params, limit],
            ).fetchall()
        return {
            "events": [{"position": r["position"], "event": json.loads(r["envelope"])} for r in rows],
            "next": rows[-1]["position"] if rows else after,
        }

    return api
