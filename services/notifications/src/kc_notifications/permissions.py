"""Which permission each route of the notifications needs (roles grant permissions: kc_runtime/data/roles.toml).

A route missing here stops the service at start: nothing is open by omission.
"""

from __future__ import annotations

ROUTE_PERMISSIONS: dict[tuple[str, str], str] = {
    ("PUT", "/recipients/{key}"): "operate",
    ("GET", "/recipients"): "operate",
    ("GET", "/notifications"): "operate",
    ("POST", "/scheduler/tick"): "operate",
    ("GET", "/mail"): "operate",
    ("POST", "/webhooks"): "operate",
    ("GET", "/webhooks"): "operate",
    ("GET", "/webhooks/{sub_id}"): "operate",
    ("POST", "/webhooks/{sub_id}/disable"): "operate",
    ("DELETE", "/webhooks/{sub_id}"): "operate",
    ("POST", "/webhooks/{sub_id}/rotate"): "operate",
    ("POST", "/webhooks/{sub_id}/enable"): "operate",
    ("GET", "/webhooks/{sub_id}/deliveries"): "operate",
    ("POST", "/webhooks/deliveries/{delivery_id}/redeliver"): "operate",
    ("GET", "/events"): "read_public",
}
