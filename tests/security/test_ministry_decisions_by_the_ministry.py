"""The ministry's decisions on a national đề án are the ministry's, recorded on its own instance (issue 15
item 4). Before: the Sở typed the Minister's decision on its own instance (``adjustments/decision`` with
``"authority": "bo_truong"`` was accepted from a Sở token), and the Cục recorded the ministry appraisal
into the province's store.

Now, on the province's instance, neither the Sở nor the Cục records the ministry appraisal of a national
đề án (403, nothing written); on the ministry's instance, a province's officer reaches none of the
ministry's decisions (403), whatever the đề án. (The Sở deciding the Minister's adjustment on its own
instance — the authority comes from the role now, not from the body — is refused in
tests/integration/test_ministry_decides_and_money_adds_up.py; a Sở deciding UBND tỉnh's in
services/appraisal/tests/component/test_lifecycle_http.py.)
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from kc_appraisal.main import create_app as appraisal_app
from kc_testing.fixtures import SettingsFactory, bearer

APPRAISAL = {"mode": "can_bo", "conclusion": "dong_y", "recommended_support_vnd": 200_000_000}


def as_(settings: Any, role: str, scope: str | None = None) -> dict[str, str]:
    return bearer(settings, role, scope=scope, name=f"Kẻ thử {role}")


def test_the_province_cannot_record_the_ministrys_decisions_and_the_ministry_takes_them_from_no_province(
    make_settings: SettingsFactory,
) -> None:
    province = appraisal_app(make_settings("appraisal", instance="tinh-40"))
    ministry = appraisal_app(make_settings("appraisal", instance="bo", peers=["tinh-40"]))
    p, m = (TestClient(a, raise_server_exceptions=False) for a in (province, ministry))
    s, sb = province.state.runtime.settings, ministry.state.runtime.settings
    try:
        draft = {
            "code": "KCQG-2024-40-99",
            "title": "Máy sấy chè",
            "level": "quoc_gia",
            "de_an_type": "kcqg_nhom",
            "plan_year": 2024,
            "implementing_unit": "Trung tâm Khuyến công Nghệ An",
            "activity_contents": ["3"],
            "budget_lines": [
                {
                    "cost_item": "Máy sấy",
                    "support_item": "may_moc_thiet_bi",
                    "total_cost_vnd": 600_000_000,
                    "support_requested_vnd": 200_000_000,
                    "counterpart_vnd": 400_000_000,
                }
            ],
        }
        made = p.post("/de-an", json=draft, headers=as_(s, "so_ct"))
        assert made.status_code == 201, made.text
        url = f"/de-an/{made.json()['id']}"
        for action, body in (
            ("submit", {"submitted_on": "2023-09-25"}),
            ("base-appraisal", APPRAISAL | {"appraised_on": "2023-10-05"}),
            ("forward", {"on": "2023-10-06"}),
        ):
            assert p.post(f"{url}/{action}", json=body, headers=as_(s, "so_ct")).status_code == 200
        before = p.get(url, headers=as_(s, "so_ct")).json()

        # on the province's instance: nobody records the ministry's appraisal
        for role in ("so_ct", "cuc"):
            refused = p.post(f"{url}/ministry-appraisal", json=APPRAISAL | {"appraised_on": "2023-11-20"},
                             headers=as_(s, role))  # fmt: skip
            assert refused.status_code == 403, (role, refused.text)
        after = p.get(url, headers=as_(s, "so_ct")).json()
        assert (after["status"], after["version"]) == (before["status"], before["version"]) == ("da_gui_bo", 4)
        assert after["ministry_actions"] == ["tham_dinh_cap_bo"]

        # on the ministry's instance: a province's officer reaches none of the ministry's decisions
        record = f"/national-de-an/tinh-40/{made.json()['id']}"
        for path, body in (
            ("ministry-appraisal", APPRAISAL | {"appraised_on": "2023-11-20"}),
            ("contract", {"contract_number": "1", "signed_on": "2024-02-01", "contracted_support_vnd": 1}),
            ("adjustments/decision", {"approved": True, "decision_number": "1", "decided_on": "2024-04-10"}),
            ("settlement", {"settled_on": "2024-12-20", "dossier_on": "2024-11-25", "settled_support_vnd": 1}),
        ):
            for role in ("so_ct", "ubnd_tinh", "don_vi"):
                refused = m.post(f"{record}/{path}", json=body, headers=as_(sb, role, "tinh-40"))
                assert refused.status_code == 403, (path, role, refused.text)
        # nor an auditor or an integrator of the ministry, nor the Minister where the Cục decides
        for role in ("kiem_toan", "tich_hop"):
            assert m.post(f"{record}/contract", json={}, headers=as_(sb, role)).status_code == 403
        assert m.post(f"{record}/ministry-appraisal", json={}, headers=as_(sb, "lanh_dao_bo")).status_code == 403
    finally:
        for app in (province, ministry):
            app.state.runtime.close()
