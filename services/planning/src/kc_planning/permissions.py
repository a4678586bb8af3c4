"""Which permission each route of the planning needs (roles grant permissions: kc_runtime/data/roles.toml).

A route missing here stops the service at start: nothing is open by omission.
"""

from __future__ import annotations

ROUTE_PERMISSIONS: dict[tuple[str, str], str] = {
    ("GET", "/views/establishments"): "read",
    ("GET", "/plans/{level}/{year}"): "read",
    ("PUT", "/plans/{level}/{year}/envelope"): "plan",
    ("POST", "/plans/{level}/{year}/approvals"): "approve_plan",
    ("POST", "/plans/{level}/{year}/amendments"): "approve_plan",
    ("GET", "/plans/{level}/{year}/export.xlsx"): "read",
    ("GET", "/open-data/360giving/{level}/{year}"): "read_public",
    ("PUT", "/calendars/{level}/{year}"): "plan",
    ("GET", "/calendars/{level}/{year}"): "read_public",
    ("POST", "/registrations"): "propose",
    ("POST", "/registrations/import"): "plan",
    ("GET", "/registrations"): "read",
    ("GET", "/registrations/{registration_id}"): "read",
    ("POST", "/registrations/{registration_id}/accept"): "plan",
    ("POST", "/registrations/{registration_id}/return"): "plan",
    ("GET", "/deadlines/{level}/{year}"): "read_public",
    ("POST", "/extensions"): "plan",
    ("GET", "/extensions"): "read",
    # TT 36/2013 Art. 10.2: the Sở files the province's national registration; the Cục reads them
    ("POST", "/national-registrations"): "file_national_registration",
    ("GET", "/national-registrations"): "read",
    ("GET", "/national-registrations/{year}"): "read",
    ("GET", "/views/province"): "read",
    ("GET", "/views/national"): "read",
    ("GET", "/views/indicators"): "read",
    ("GET", "/views/as-of"): "read",
    ("GET", "/views/export.xlsx"): "read",
    ("GET", "/views/digest"): "read",
    ("GET", "/reports"): "read",
    ("GET", "/reports/{report}"): "read",
    ("POST", "/views/rebuild"): "operate",
}
