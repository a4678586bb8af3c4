"""The notifications service's composition root."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from kc_kernel.dated import NoRuleInForceError
from kc_runtime.process import serve
from kc_runtime.service import ServiceRuntime
from kc_runtime.store.eventstore import persistence_env
from kc_runtime.store.views import ViewStore
from kc_runtime.web.stack import service_app

from kc_notifications import api, feed, messaging
from kc_notifications import metrics as delivery_metrics
from kc_notifications.application import NotificationsApplication
from kc_notifications.mail import MailSink
from kc_notifications.permissions import ROUTE_PERMISSIONS
from kc_notifications.scheduler import Scheduler
from kc_notifications.sender import Sender
from kc_notifications.settings import NotificationSettings
from kc_notifications.store import DDL, NotificationStore
from kc_notifications.store import upgrade as upgrade_store
from kc_notifications.webhooks import Deliverer, SubscriptionNotFoundError, Subscriptions, WebhookError

SERVICE = "notifications"


def every(seconds: float, work: Callable[[], Awaitable[object]]) -> Callable[[], Coroutine[Any, Any, None]]:
    async def loop() -> None:
        while True:
            with contextlib.suppress(Exception):
                await work()
            await asyncio.sleep(seconds)

    return loop


def create_app(settings: NotificationSettings) -> FastAPI:
    views = ViewStore(persistence_env(settings), name="notifications_views", ddl=DDL)
    feed.upgrade(views)
    upgrade_store(views)
    application = NotificationsApplication(views, settings.instance)
    scheduler = Scheduler(views, settings.instance)
    runtime = ServiceRuntime(settings)
    sender = Sender(
        views,
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender,
        retry_seconds=settings.mail_retry_seconds,
        spans=runtime.spans,
    )
    deliverer = Deliverer(views, settings.webhook_retry_seconds)
    sink = MailSink(settings.var_dir / settings.instance / "mail", settings.smtp_port) if settings.smtp_sink else None

    messaging.subscribe(runtime, application, settings.instance, settings.peers)
    runtime.run_in_background(every(settings.sender_interval_seconds, sender.run_once), "mail")
    runtime.run_in_background(every(settings.sender_interval_seconds, deliverer.run_once), "webhooks")

    async def daily() -> None:
        await asyncio.to_thread(scheduler.tick, datetime.now(UTC).date())

    runtime.run_in_background(every(settings.scheduler_interval_seconds, daily), "scheduler")
    if sink is not None:
        sink.start()
        runtime.close_on_stop(sink.stop)
    runtime.close_on_stop(views.close)

    delivery_metrics.register(runtime.metrics, views)
    return service_app(
        runtime,
        title="khuyencong notifications",
        description="Nhắc hạn, thông báo trạng thái qua e-mail, webhook và nguồn sự kiện cho bên tích hợp. "
        "Errors: application/problem+json, Vietnamese first.",
        routers=[api.router()],
        state={
            "views": views,
            "notifications": NotificationStore(views),
            "subscriptions": Subscriptions(views, settings.webhook_allow_hosts),
            "scheduler": scheduler,
            "sender": sender,
            "deliverer": deliverer,
            "mail_sink": sink,
        },
        instance=settings.instance,
        permissions=ROUTE_PERMISSIONS,
        status_by_error={SubscriptionNotFoundError: 404, WebhookError: 422, NoRuleInForceError: 422},
        outbox_head=False,
    )


def main() -> None:
    serve(SERVICE, create_app, NotificationSettings)


if __name__ == "__main__":
    main()
