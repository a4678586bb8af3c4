"""Which permission each route of the registry needs (roles grant permissions: kc_runtime/data/roles.toml).

A route missing here stops the service at start: nothing is open by omission.
"""

from __future__ import annotations

ROUTE_PERMISSIONS: dict[tuple[str, str], str] = {
    ("POST", "/establishments"): "register",
    ("GET", "/establishments"): "read",
    ("GET", "/establishments/{establishment_id}"): "read",
    ("PATCH", "/establishments/{establishment_id}"): "register",
    ("GET", "/establishments/{establishment_id}/history"): "read",
    ("GET", "/establishments/{establishment_id}/eligibility"): "read",
    ("GET", "/establishments/{establishment_id}/priority"): "read",
    ("GET", "/organisations/{key}"): "read_public",
    ("POST", "/establishments/{establishment_id}/documents"): "register",
    ("GET", "/establishments/{establishment_id}/documents"): "read",
    ("GET", "/documents"): "read",  # every establishment's documents by status (metadata, as above)
    # the legal dossier's bytes stay in the province: only its own officers download them
    ("GET", "/establishments/{establishment_id}/documents/{sha256}"): "read_documents",
    ("POST", "/establishments/{establishment_id}/documents/{sha256}/verify"): "register",
    ("POST", "/establishments/{establishment_id}/documents/{sha256}/reject"): "register",
    ("POST", "/establishments/{establishment_id}/recognitions"): "register",
    ("GET", "/establishments/{establishment_id}/recognitions"): "read",
    ("POST", "/establishments/{establishment_id}/recognitions/{recognition_id}/revoke"): "register",
    ("POST", "/establishments/{establishment_id}/support"): "register",
    ("GET", "/establishments/{establishment_id}/support"): "read",
    ("POST", "/imports/establishments"): "register",
    ("GET", "/imports/establishments/template.xlsx"): "read_public",
    ("GET", "/rules"): "read_public",
}
