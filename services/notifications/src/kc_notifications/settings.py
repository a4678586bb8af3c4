"""Settings of the notifications service (``KC_`` prefix, beside the shared ones)."""

from __future__ import annotations

from kc_runtime.settings import Settings
from pydantic import Field


class NotificationSettings(Settings):
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(2525, description="SMTP server; under make run the embedded sink")
    smtp_sender: str = "khuyen-cong@so-cong-thuong.local"
    smtp_sink: bool = Field(False, description="Run an embedded SMTP sink (aiosmtpd) storing mail under var/")
    webhook_allow_hosts: list[str] = Field(
        default_factory=list, description="Hosts allowed although private (loopback, 10/8 …): the demo, tests"
    )
    webhook_retry_seconds: list[float] = Field(
        default_factory=lambda: [30.0, 120.0, 600.0, 3600.0, 3 * 3600.0, 6 * 3600.0],
        description="Retry delays (jitter ±20 %); after the last one the delivery is a dead letter",
    )
    mail_retry_seconds: list[float] = Field(default_factory=lambda: [10.0, 60.0, 300.0, 1800.0])
    scheduler_interval_seconds: float = 3600.0
    sender_interval_seconds: float = 1.0
