"""Listing, disabling and deleting webhook subscriptions (the console's Thông báo screen uses them)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from kc_notifications.main import create_app
from kc_notifications.settings import NotificationSettings
from kc_testing.fixtures import bearer


def test_subscriptions_are_listed_without_secrets_disabled_and_deleted(tmp_path: Path) -> None:
    settings = NotificationSettings(
        instance="tinh-40",
        service="notifications",
        var_dir=tmp_path / "var",
        nats_url="nats://127.0.0.1:1",
        webhook_allow_hosts=["127.0.0.1"],
    )
    app = create_app(settings)
    http = TestClient(app, headers=bearer(settings, "so_ct"))
    made = http.post("/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_types": ["*"]}).json()
    listed = http.get("/webhooks").json()
    assert [s["id"] for s in listed] == [made["id"]]
    assert listed[0]["secrets"] == 1 and made["secret"] not in str(listed)
    assert http.post(f"/webhooks/{made['id']}/disable").status_code == 200
    assert http.get(f"/webhooks/{made['id']}").json()["active"] == 0
    assert http.post(f"/webhooks/{made['id']}/enable").status_code == 200
    assert http.delete(f"/webhooks/{made['id']}").status_code == 200
    assert http.get("/webhooks").json() == []
    gone = http.delete(f"/webhooks/{made['id']}")
    assert gone.status_code in (404, 422) and gone.headers["content-type"] == "application/problem+json"
    # an auditor may not touch them
    auditor = TestClient(app, headers=bearer(settings, "kiem_toan_tinh"))
    assert auditor.get("/webhooks").status_code == 403
    app.state.runtime.close()
