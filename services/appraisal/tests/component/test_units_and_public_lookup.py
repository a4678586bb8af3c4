"""An implementing unit sees and acts on its own đề án only; anyone may look a đề án's status up by
its code or reference, and learns nothing personal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import jwt
import pytest
from fastapi.testclient import TestClient
from kc_appraisal.main import create_app
from kc_runtime.keys import ensure_instance_key
from kc_runtime.settings import Settings
from kc_runtime.web.auth import issue_token
from kc_testing.fixtures import SettingsFactory, bearer, de_an_draft

PROBLEM = "application/problem+json"
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
NGHE_AN_CENTRE = "trung-tam-khuyen-cong-nghe-an"


def draft(code: str, unit_name: str = "Trung tâm Khuyến công Nghệ An", **extra: Any) -> dict[str, Any]:
    return de_an_draft(code, unit_name=unit_name, **extra)


@pytest.fixture
def appraisal(make_settings: SettingsFactory) -> Iterator[TestClient]:
    app = create_app(make_settings("appraisal", instance="tinh-40"))
    yield TestClient(app, raise_server_exceptions=False)
    app.state.runtime.close()


def settings_of(client: TestClient) -> Settings:
    settings: Settings = client.app.state.runtime.settings  # type: ignore[attr-defined]
    return settings


def test_an_implementing_unit_lists_reads_and_acts_on_its_own_de_an_only(appraisal: TestClient) -> None:
    s = settings_of(appraisal)
    centre = bearer(s, "don_vi", unit=NGHE_AN_CENTRE)
    other = bearer(s, "don_vi", unit="trung-tam-khuyen-cong-ha-tinh")
    so_ct = bearer(s, "so_ct")

    ours = appraisal.post("/de-an", json=draft("KCĐP-40-2024-51"), headers=so_ct).json()  # the Sở drafts for it
    mine = appraisal.post("/de-an", json=draft("KCĐP-40-2024-52", "Trung tâm KC"), headers=centre)
    assert mine.status_code == 201, mine.text
    assert mine.json()["details"]["unit"] == NGHE_AN_CENTRE  # the unit of the token, whatever the name says
    theirs = appraisal.post("/de-an", json=draft("KCĐP-40-2024-53"), headers=other).json()
    assert theirs["details"]["unit"] == "trung-tam-khuyen-cong-ha-tinh"

    listed = appraisal.get("/de-an", headers=centre).json()
    assert listed["total"] == 2 and {d["code"] for d in listed["items"]} == {"KCĐP-40-2024-51", "KCĐP-40-2024-52"}
    assert appraisal.get("/de-an", headers=so_ct).json()["total"] == 3  # the Sở sees every unit's

    for path in (f"/de-an/{theirs['id']}", f"/de-an/{theirs['id']}/timeline"):
        hidden = appraisal.get(path, headers=centre)
        assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM
        assert hidden.json()["detail"].startswith("Không tìm thấy đề án")  # Vietnamese first
    assert appraisal.get(f"/de-an/{theirs['id']}", params={"as_of": "2030-01-01"}, headers=centre).status_code == 404
    edit = appraisal.patch(f"/de-an/{theirs['id']}", json={"title": "Đổi tên"}, headers=centre)
    assert edit.status_code == 404
    submit = appraisal.post(f"/de-an/{theirs['id']}/submit", json={"submitted_on": "2023-10-01"}, headers=centre)
    assert submit.status_code == 404
    assert appraisal.get(f"/de-an/{theirs['id']}", headers=so_ct).json()["version"] == 1  # nothing changed

    assert appraisal.get(f"/de-an/{ours['id']}", headers=centre).status_code == 200
    renamed = appraisal.patch(f"/de-an/{ours['id']}", json={"title": "Đào tạo nghề đan lát"}, headers=centre)
    assert renamed.status_code == 200 and renamed.json()["details"]["title"] == "Đào tạo nghề đan lát"

    # a unit drafts for itself only
    foreign = appraisal.post("/de-an", json=draft("KCĐP-40-2024-54", unit="trung-tam-khac"), headers=centre)
    assert foreign.status_code == 403 and foreign.headers["content-type"] == PROBLEM
    assert foreign.json()["errors"][0]["field"] == "unit"
    assert foreign.json()["detail"].startswith("Đơn vị trung-tam-khuyen-cong-nghe-an chỉ lập đề án")

    # a unit token that names no unit reaches no đề án
    unnamed = bearer(s, "don_vi")
    assert appraisal.get("/de-an", headers=unnamed).json() == {"total": 0, "items": []}
    assert appraisal.get(f"/de-an/{ours['id']}", headers=unnamed).status_code == 404


def test_the_unit_claim_is_for_unit_roles_and_is_signed(appraisal: TestClient) -> None:
    s = settings_of(appraisal)
    signer = ensure_instance_key(s.key_folder, "tinh-40", s.trust_path)
    with pytest.raises(ValueError, match="not bound to a unit"):
        issue_token(signer, sub="x", role="so_ct", unit=NGHE_AN_CENTRE)
    with pytest.raises(ValueError, match="not a unit key"):
        issue_token(signer, sub="x", role="don_vi", unit="Trung tâm")
    # a unit claim added to a Sở token by hand, signed with the real key: refused, not widened or narrowed
    token = issue_token(signer, sub="x", role="so_ct")
    claims = jwt.decode(token, options={"verify_signature": False}) | {"unit": NGHE_AN_CENTRE}
    forged = jwt.encode(claims, signer.private_key, algorithm="EdDSA", headers={"kid": signer.key_id})
    refused = appraisal.get("/de-an", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401 and refused.json()["detail"].startswith("Đơn vị trong mã truy cập")


def test_the_public_finds_a_status_by_code_or_reference_and_nothing_personal(appraisal: TestClient) -> None:
    s = settings_of(appraisal)
    made = appraisal.post("/de-an", json=draft("KCĐP-40-2024-61"), headers=bearer(s, "so_ct")).json()
    assert made["details"]["reference"] == "tinh-40-2024-0001"  # given at draft, one per plan year
    second = appraisal.post("/de-an", json=draft("KCĐP-40-2024-62"), headers=bearer(s, "so_ct")).json()
    assert second["details"]["reference"] == "tinh-40-2024-0002"

    integrator = bearer(s, "tich_hop")  # the ministry's integrator: public information only
    for code in ("KCĐP-40-2024-61", "kcđp-40-2024-61 ", "tinh-40-2024-0001", "TINH-40-2024-0001"):
        found = appraisal.get("/public/de-an", params={"code": code}, headers=integrator)
        assert found.status_code == 200, found.text
        assert found.json() == {
            "code": "KCĐP-40-2024-61",
            "reference": "tinh-40-2024-0001",
            "title": "Đào tạo nghề mây tre đan",
            "status": {"code": "du_thao", "label": "Dự thảo"},
            "plan_year": 2024,
            "level": {"code": "dia_phuong", "label": "Khuyến công địa phương"},
            "province": {"code": "40", "name": "Tỉnh Nghệ An"},
            "status_changed_on": found.json()["status_changed_on"],
        }
        changed = date.fromisoformat(found.json()["status_changed_on"])
        assert abs((changed - datetime.now(VIETNAM).date()).days) <= 1  # the draft's day, in Việt Nam
    submitted = appraisal.post(
        f"/de-an/{made['id']}/submit", json={"submitted_on": "2023-10-01"}, headers=bearer(s, "so_ct")
    )
    assert submitted.status_code == 200, submitted.text
    after = appraisal.get("/public/de-an", params={"code": "tinh-40-2024-0001"}, headers=integrator).json()
    assert after["status"] == {"code": "da_nop", "label": "Đã nộp hồ sơ"}

    unknown = appraisal.get("/public/de-an", params={"code": "KCĐP-99"}, headers=integrator)
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    assert unknown.json()["detail"].startswith("Không có đề án mã KCĐP-99")

    appraisal.post("/de-an", json=draft("KCĐP-40-2024-61"), headers=bearer(s, "so_ct"))  # a repeated code
    twice = appraisal.get("/public/de-an", params={"code": "KCĐP-40-2024-61"}, headers=integrator)
    assert twice.status_code == 409 and "mã tra cứu" in twice.json()["errors"][0]["message"]
    assert appraisal.get("/public/de-an", params={"code": "tinh-40-2024-0001"}, headers=integrator).status_code == 200
    # the working routes stay closed to the integrator
    assert appraisal.get(f"/de-an/{made['id']}", headers=integrator).status_code == 403
    assert appraisal.get("/public/de-an", params={"code": "x"}).status_code == 401
