"""Which permission each route of the appraisal needs (roles grant permissions: kc_runtime/data/roles.toml).

A route missing here stops the service at start: nothing is open by omission.
"""

from __future__ import annotations

ROUTE_PERMISSIONS: dict[tuple[str, str], str] = {
    ("POST", "/de-an"): "draft",
    ("GET", "/de-an"): "read",
    ("GET", "/de-an/{de_an_id}"): "read",
    ("PATCH", "/de-an/{de_an_id}"): "draft",
    ("GET", "/de-an/{de_an_id}/timeline"): "read",
    ("POST", "/de-an/{de_an_id}/submission-extension"): "appraise",
    ("POST", "/de-an/{de_an_id}/submit"): "draft",
    ("POST", "/de-an/{de_an_id}/return"): "appraise",
    ("POST", "/de-an/{de_an_id}/base-appraisal"): "appraise",
    ("POST", "/de-an/{de_an_id}/ministry-appraisal"): "appraise_national",
    ("POST", "/de-an/{de_an_id}/forward"): "appraise",
    ("POST", "/de-an/{de_an_id}/propose"): "appraise",
    ("POST", "/de-an/{de_an_id}/approve"): "approve_plan",
    ("POST", "/de-an/{de_an_id}/not-funded"): "appraise",
    ("POST", "/de-an/{de_an_id}/contract"): "appraise",
    ("POST", "/de-an/{de_an_id}/progress"): "draft",
    ("POST", "/de-an/{de_an_id}/progress/{month}/photos"): "draft",
    ("POST", "/de-an/{de_an_id}/documents"): "draft",
    ("GET", "/de-an/{de_an_id}/documents"): "read",
    # the bytes stay at the province's service; whoever may read the đề án (its own unit, the Sở, the
    # ministry appraising it) fetches them from here
    ("GET", "/de-an/{de_an_id}/files/{sha256}"): "read",
    ("POST", "/de-an/{de_an_id}/advances"): "draft",
    ("POST", "/de-an/{de_an_id}/adjustments"): "draft",
    ("POST", "/de-an/{de_an_id}/adjustments/decision"): "decide_adjustment",
    ("POST", "/de-an/{de_an_id}/complete"): "draft",
    ("POST", "/de-an/{de_an_id}/acceptance"): "appraise",
    ("POST", "/de-an/{de_an_id}/settlement"): "appraise",
    ("POST", "/de-an/{de_an_id}/close"): "appraise",
    # the ministry's records of the provinces' national đề án and its decisions on them (on bo)
    ("GET", "/national-de-an"): "read",
    ("GET", "/national-de-an/{instance}/{de_an_id}"): "read",
    ("POST", "/national-de-an/{instance}/{de_an_id}/ministry-appraisal"): "appraise_national",
    ("POST", "/national-de-an/{instance}/{de_an_id}/contract"): "implement_national",
    ("POST", "/national-de-an/{instance}/{de_an_id}/adjustments/decision"): "decide_adjustment",
    ("POST", "/national-de-an/{instance}/{de_an_id}/settlement"): "implement_national",
    ("GET", "/beneficiaries/{establishment_id}"): "read",
    ("GET", "/roster"): "read",
    ("POST", "/roster"): "found_council",
    ("POST", "/councils"): "found_council",
    ("GET", "/councils"): "read",
    ("GET", "/councils/{council_id}"): "read",
    ("POST", "/councils/{council_id}/declarations"): "council_member",
    ("POST", "/councils/{council_id}/opinions"): "council_member",
    ("POST", "/councils/{council_id}/minutes"): "council_member",
    ("POST", "/field-trips"): "found_council",
    ("GET", "/field-trips"): "read",
    ("GET", "/field-trips/{trip_id}"): "read",
    ("POST", "/field-trips/{trip_id}/findings"): "found_council",
    ("GET", "/rules"): "read_public",
    ("GET", "/public/de-an"): "read_public",
}
