"""HTTP authorisation, role by role: who may read and change what, on which instance.

Real apps, real signed tokens (Ed25519, issued with the instances' keys), real HTTP requests
through the ASGI stack; no lifespan is needed (commands land in the event store).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kc_appraisal.main import create_app as appraisal_app
from kc_appraisal.permissions import ROUTE_PERMISSIONS as APPRAISAL
from kc_contracts.integrity import Signer
from kc_kernel.vocabulary import label
from kc_notifications.main import create_app as notifications_app
from kc_notifications.permissions import ROUTE_PERMISSIONS as NOTIFICATIONS
from kc_notifications.settings import NotificationSettings
from kc_planning.main import create_app as planning_app
from kc_planning.permissions import ROUTE_PERMISSIONS as PLANNING
from kc_registry.main import create_app as registry_app
from kc_registry.permissions import ROUTE_PERMISSIONS as REGISTRY
from kc_runtime.keys import ensure_instance_key, revoke
from kc_runtime.settings import Settings
from kc_runtime.web.auth import ROLES, issue_token
from kc_testing.fixtures import SettingsFactory, bearer, de_an_draft

PROBLEM = "application/problem+json"
ESTABLISHMENT = {
    "name": "Hợp tác xã mây tre đan Đồng Thành",
    "tax_code": "0100109106",
    "commune_code": "17419",
    "legal_form": "hop_tac_xa",
    "sectors": ["thu_cong_my_nghe"],
}


@pytest.fixture
def registry(make_settings: SettingsFactory) -> Iterator[TestClient]:
    app = registry_app(make_settings("registry", instance="tinh-40"))
    yield TestClient(app, raise_server_exceptions=False)
    app.state.runtime.close()


def as_(settings: Settings, role: str, scope: str | None = None) -> dict[str, str]:
    return bearer(settings, role, scope=scope)


def settings_of(client: TestClient) -> Settings:
    settings: Settings = client.app.state.runtime.settings  # type: ignore[attr-defined]
    return settings


def test_no_token_a_bad_token_an_expired_one_and_a_revoked_key_are_401(registry: TestClient) -> None:
    s = settings_of(registry)
    assert registry.get("/healthz").status_code == 200  # probes and docs stay open
    assert registry.get("/openapi.json").json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"

    anonymous = registry.get("/establishments")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.json()["detail"].startswith("Cần mã truy cập")  # Vietnamese first

    good = as_(s, "so_ct")["Authorization"]
    assert registry.get("/establishments", headers={"Authorization": good}).status_code == 200
    assert registry.get("/establishments", headers={"Authorization": good}).status_code == 200  # verified once, kept
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    assert registry.get("/establishments", headers={"Authorization": tampered}).status_code == 401

    signer = ensure_instance_key(s.key_folder, "tinh-40", s.trust_path)
    old = issue_token(signer, sub="x", role="so_ct", now=datetime.now(UTC) - timedelta(days=2), ttl=timedelta(hours=1))
    expired = registry.get("/establishments", headers={"Authorization": f"Bearer {old}"})
    assert expired.status_code == 401 and "hết hạn" in expired.json()["detail"]

    stranger = issue_token(Signer.generate("tinh-40"), sub="x", role="so_ct")
    assert registry.get("/establishments", headers={"Authorization": f"Bearer {stranger}"}).status_code == 401

    revoke(
        s.key_folder, "tinh-40", signer.key_id, s.trust_path
    )  # the trust file is re-read on change, the kept tokens forgotten
    assert registry.get("/establishments", headers={"Authorization": good}).status_code == 401


def test_a_province_cannot_issue_tokens_for_another_and_roles_keep_to_their_level(registry: TestClient) -> None:
    s = settings_of(registry)
    hai_phong = ensure_instance_key(s.key_folder, "tinh-31", s.trust_path)
    with pytest.raises(ValueError, match="only for its own scope"):
        issue_token(hai_phong, sub="x", role="so_ct", scope="tinh-40")
    with pytest.raises(ValueError, match="national"):
        issue_token(hai_phong, sub="x", role="cuc")
    # forged by hand: signed with Hải Phòng's real key, claiming Nghệ An's scope
    import jwt

    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": "tinh-31", "sub": "x", "role": "so_ct", "scope": "tinh-40", "iat": now, "exp": now + 60}
    forged = jwt.encode(claims, hai_phong.private_key, algorithm="EdDSA", headers={"kid": hai_phong.key_id})
    refused = registry.get("/establishments", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401 and "tỉnh mình" in refused.json()["detail"]


def test_registry_matrix_and_the_legal_dossier_stays_in_its_province(registry: TestClient) -> None:
    s = settings_of(registry)
    created = registry.post("/establishments", json=ESTABLISHMENT, headers=as_(s, "so_ct"))
    assert created.status_code == 201, created.text
    eid = created.json()["id"]
    pdf = b"%PDF-1.7 bao cao tai chinh 2023"
    uploaded = registry.post(
        f"/establishments/{eid}/documents",
        files={"file": ("bao-cao.pdf", pdf, "application/pdf")},
        data={"kind": "bao_cao_tai_chinh"},
        headers=as_(s, "so_ct"),
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    sha = uploaded.json()["sha256"] if "sha256" in uploaded.json() else uploaded.json()["documents"][-1]["sha256"]
    document = f"/establishments/{eid}/documents/{sha}"

    # (role, scope, method, path, body) -> allowed?
    cases: list[tuple[str, str | None, str, str, Any, bool]] = [
        ("so_ct", None, "GET", f"/establishments/{eid}", None, True),
        ("so_ct", "tinh-31", "GET", f"/establishments/{eid}", None, False),  # another province's officer
        ("so_ct", "tinh-31", "POST", "/establishments", ESTABLISHMENT, False),
        ("don_vi", None, "POST", "/establishments", ESTABLISHMENT, False),  # units do not register
        ("cuc", None, "GET", f"/establishments/{eid}", None, True),  # the ministry reads provinces
        ("cuc", None, "POST", "/establishments", ESTABLISHMENT, False),  # ... but does not register in them
        ("kiem_toan", None, "GET", f"/establishments/{eid}/history", None, True),
        ("kiem_toan", None, "PATCH", f"/establishments/{eid}", {"version": 1, "employees": 3}, False),
        ("tich_hop", None, "GET", f"/establishments/{eid}", None, False),  # not public information
        ("tich_hop", None, "GET", "/rules", None, True),
        # the legal dossier's bytes: only the province's own officers
        ("so_ct", None, "GET", document, None, True),
        ("ubnd_tinh", None, "GET", document, None, False),
        ("kiem_toan_tinh", None, "GET", document, None, False),
        ("cuc", None, "GET", document, None, False),
        ("kiem_toan", None, "GET", document, None, False),
        ("so_ct", "tinh-31", "GET", document, None, False),
    ]
    for role, scope, method, path, body, allowed in cases:
        response = registry.request(method, path, json=body, headers=as_(s, role, scope))
        refused = response.status_code == 403
        assert refused != allowed, (role, scope, method, path, response.status_code, response.text[:200])
        if refused:
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["role"] == role and f"«{label('role', role)}»" in response.json()["detail"]
    assert registry.get(document, headers=as_(s, "so_ct")).content == pdf


@pytest.mark.parametrize("role", ["kiem_toan", "kiem_toan_tinh", "tich_hop", "hoi_dong"])
def test_auditors_and_integrators_change_nothing_anywhere(make_settings: SettingsFactory, role: str) -> None:
    """Every route that changes something, of every service, on a province's and the ministry's instance."""
    for instance in ("tinh-40", "bo"):
        apps = [
            (registry_app(make_settings("registry", instance=instance)), REGISTRY),
            (appraisal_app(make_settings("appraisal", instance=instance)), APPRAISAL),
            (planning_app(make_settings("planning", instance=instance)), PLANNING),
            (
                notifications_app(
                    NotificationSettings(**make_settings("notifications", instance=instance).model_dump())
                ),
                NOTIFICATIONS,
            ),
        ]
        for app, routes in apps:
            http = TestClient(app, raise_server_exceptions=False)
            s = app.state.runtime.settings
            scope = None if ROLES[role].national or instance != "bo" else "tinh-40"
            # a council member acts on the councils they sit on, as themself (test_council_members_sign_in)
            own = (
                {k for k, permission in routes.items() if permission == "council_member"}
                if role == "hoi_dong"
                else set()
            )
            writes = [(m, p) for (m, p) in routes if m != "GET" and (instance != "tinh-40" or (m, p) not in own)]
            assert writes
            for method, path in writes:
                concrete = path.replace("{level}", "dia_phuong").replace("{year}", "2024")
                for name in (
                    "establishment_id",
                    "de_an_id",
                    "sha256",
                    "recognition_id",
                    "sub_id",
                    "delivery_id",
                    "key",
                    "council_id",
                    "trip_id",
                ):
                    concrete = concrete.replace("{" + name + "}", "00000000-0000-0000-0000-000000000001")
                response = http.request(method, concrete, json={}, headers=as_(s, role, scope))
                assert response.status_code == 403, (role, instance, method, path, response.status_code)
            app.state.runtime.close()


def test_appraisal_and_planning_roles_do_their_own_steps(make_settings: SettingsFactory) -> None:
    appraisal = appraisal_app(make_settings("appraisal", instance="tinh-40"))
    planning = planning_app(make_settings("planning", instance="tinh-40"))
    ministry = planning_app(make_settings("planning", instance="bo"))
    apr, plan, bo = (TestClient(a, raise_server_exceptions=False) for a in (appraisal, planning, ministry))
    s, sb = appraisal.state.runtime.settings, ministry.state.runtime.settings
    draft = de_an_draft("KCĐP-40-2024-77")
    # the implementing unit drafts; it cannot appraise its own đề án
    made = apr.post("/de-an", json=draft, headers=as_(s, "don_vi"))
    assert made.status_code == 201, made.text
    url = f"/de-an/{made.json()['id']}"
    appraise = {"mode": "can_bo", "conclusion": "dong_y", "recommended_support_vnd": 1, "appraised_on": "2023-10-05"}
    refused = apr.post(f"{url}/base-appraisal", json=appraise, headers=as_(s, "don_vi"))
    assert refused.status_code == 403
    # the refusal names the role, the permission and the instance by their labels; the codes stand beside
    assert refused.json()["detail"] == (
        "Vai trò «Đơn vị thực hiện» (Tỉnh Nghệ An) không được phép: "
        "«Thẩm định, ký hợp đồng, nghiệm thu, quyết toán» trên Tỉnh Nghệ An"
    )
    assert (refused.json()["role"], refused.json()["permission"]) == ("don_vi", "appraise")
    assert apr.post(f"{url}/base-appraisal", json=appraise, headers=as_(s, "so_ct")).status_code != 403
    # ministry-level appraisal is the ministry's, recorded on the ministry's instance (the province receives
    # it as an event): neither the Sở nor the Cục records it on the province's
    assert apr.post(f"{url}/ministry-appraisal", json=appraise, headers=as_(s, "so_ct")).status_code == 403
    assert apr.post(f"{url}/ministry-appraisal", json=appraise, headers=as_(s, "cuc")).status_code == 403
    # adjustments are decided by whoever holds the authority: UBND tỉnh and the Sở may reach the decision
    # (the đề án then checks which of them the change needs), an implementing unit may not
    decide = {"approved": True, "decision_number": "1/QĐ", "decided_on": "2024-04-10"}
    for role, allowed in (("ubnd_tinh", True), ("so_ct", True), ("don_vi", False)):
        status = apr.post(f"{url}/adjustments/decision", json=decide, headers=as_(s, role)).status_code
        assert (status != 403) is allowed, (role, status)
    timeline = apr.get(f"{url}/timeline", headers=as_(s, "kiem_toan")).json()
    assert timeline[0]["actor"] == "Cán bộ don_vi (don_vi@tinh-40)"

    # plans: the Sở drafts the envelope, UBND tỉnh approves the local plan, the ministry the national one
    envelope = {"sources": {"dia_phuong": 1_000_000_000}}
    approve = {"decision_number": "1/QĐ-UBND", "decision_date": "2023-12-25", "signer": "Chủ tịch UBND tỉnh"}
    assert plan.put("/plans/dia_phuong/2024/envelope", json=envelope, headers=as_(s, "ubnd_tinh")).status_code == 403
    assert plan.post("/plans/dia_phuong/2024/approvals", json=approve, headers=as_(s, "so_ct")).status_code == 403
    assert plan.post("/plans/dia_phuong/2024/approvals", json=approve, headers=as_(s, "ubnd_tinh")).status_code != 403
    assert plan.post("/plans/dia_phuong/2024/approvals", json=approve, headers=as_(s, "lanh_dao_bo")).status_code == 403
    national = {"decision_number": "1/QĐ-BCT", "decision_date": "2023-12-28", "signer": "Bộ trưởng"}
    assert bo.post("/plans/quoc_gia/2024/approvals", json=national, headers=as_(sb, "cuc")).status_code == 403
    assert (
        bo.post("/plans/quoc_gia/2024/approvals", json=national, headers=as_(sb, "ubnd_tinh", "tinh-40")).status_code
        == 403
    )
    assert bo.post("/plans/quoc_gia/2024/approvals", json=national, headers=as_(sb, "lanh_dao_bo")).status_code != 403
    # a province reads the ministry's national plan and calendar, never changes them
    assert bo.get("/calendars/quoc_gia/2024", headers=as_(sb, "so_ct", "tinh-40")).status_code != 403
    assert bo.put("/calendars/quoc_gia/2024", json={}, headers=as_(sb, "so_ct", "tinh-40")).status_code == 403
    # an integrator reads open data, not the working views
    assert bo.get("/open-data/360giving/quoc_gia/2024", headers=as_(sb, "tich_hop")).status_code != 403
    assert bo.get("/views/national", headers=as_(sb, "tich_hop")).status_code == 403
    for a in (appraisal, planning, ministry):
        a.state.runtime.close()
