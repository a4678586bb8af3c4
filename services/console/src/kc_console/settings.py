"""The console's settings (prefix ``KC_``), beside those every service reads."""

from __future__ import annotations

from kc_runtime.settings import Settings
from pydantic import Field


class ConsoleSettings(Settings):
    service: str = "console"
    service_urls: dict[str, str] = Field(
        default_factory=dict,
        description='Where the services listen, {"tinh-40/registry": "http://127.0.0.1:18111", …} (make run sets it)',
    )
    console_demo_accounts: bool = Field(False, description="Create one account per role on start (make run)")
    session_idle_minutes: int = Field(30, ge=1, description="A session unused this long ends")
    session_max_hours: float = Field(8.0, gt=0, description="A session ends this long after sign-in")
    secure_cookies: bool | None = Field(None, description="Secure cookies; default: when the request is HTTPS")
    lockout_failures: int = Field(5, ge=1, description="Failed sign-ins in a row before the account is locked")
    lockout_minutes: int = Field(15, ge=1, description="How long a lock-out lasts (an administrator may unlock)")
    api_timeout_seconds: float = 15.0

    def url_of(self, service: str, instance: str | None = None) -> str | None:
        return self.service_urls.get(f"{instance or self.instance}/{service}")
