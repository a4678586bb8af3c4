"""A council at the ministry appraises a province's national đề án (issue 15 item 3, the ministry's side).

The Cục founds a ministry-level council (cấp Bộ) on its own instance naming Nghệ An's national đề án —
which the ministry knows only as its record of the province's đề án, not as a đề án of its own; before
this, founding it was refused as an unknown đề án. The three members sign in with the ministry council
role: two declare no conflict and give opinions, the third declares a conflict and is refused a vote; the
secretary records the minutes; the Cục's ministry appraisal follows them (a different conclusion is
refused) and the province's đề án shows the council's members and conclusion. Over HTTP, the ministry
and Nghệ An on one real nats-server.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import nats
from kc_appraisal.main import create_app as appraisal_app
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.keys import ensure_instance_key
from kc_runtime.settings import Settings
from kc_runtime.web.auth import issue_token
from kc_testing.fixtures import SettingsFactory, bearer, eventually

SUPPORT = 200_000_000
PEOPLE = [
    ("vu.chu.tich", "Vũ Văn Chủ Tịch", "Phó Cục trưởng"),
    ("do.thu.ky", "Đỗ Thị Thư Ký", "Chuyên viên Cục"),
    ("ha.uy.vien", "Hà Văn Ủy Viên", "Chuyên gia"),
]


def client(app: Any, headers: dict[str, str]) -> httpx.AsyncClient:
    settings = app.state.runtime.settings
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://{settings.instance}", headers=headers
    )


def member(settings: Settings, subject: str, name: str) -> dict[str, str]:
    """A ministry council member signed in as themself (role hoi_dong_bo, scope bo)."""
    signer = ensure_instance_key(settings.key_folder, "bo", settings.trust_path)
    return {"Authorization": f"Bearer {issue_token(signer, sub=subject, role='hoi_dong_bo', scope='bo', name=name)}"}


async def ok(response: Any) -> dict[str, Any]:
    result = await response
    assert result.status_code in (200, 201), result.text
    return dict(result.json())


async def test_a_ministry_council_appraises_a_provinces_national_de_an(make_settings: SettingsFactory) -> None:
    bo_settings = make_settings("appraisal", instance="bo", peers=["tinh-40"])
    bo_apr = appraisal_app(bo_settings)
    na_reg = registry_app(make_settings("registry", instance="tinh-40"))
    na_apr = appraisal_app(make_settings("appraisal", instance="tinh-40"))
    apps = [bo_apr, na_reg, na_apr]
    nc = await nats.connect(bo_settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("bo", "tinh-40")))
    await nc.close()

    async with (
        bo_apr.router.lifespan_context(bo_apr),
        na_reg.router.lifespan_context(na_reg),
        na_apr.router.lifespan_context(na_apr),
    ):
        await eventually(lambda: all(a.state.runtime.bus_started for a in apps))
        na_settings = na_apr.state.runtime.settings
        so_reg = client(na_reg, bearer(na_reg.state.runtime.settings, "so_ct", name="Nguyễn Văn Sở"))
        so = client(na_apr, bearer(na_settings, "so_ct", name="Nguyễn Văn Sở"))
        unit = client(na_apr, bearer(na_settings, "don_vi", name="TT KC", unit="trung-tam-khuyen-cong-nghe-an"))
        cuc = client(bo_apr, bearer(bo_settings, "cuc", name="Trần Thị Cục"))
        chair, secretary, third = (client(bo_apr, member(bo_settings, s, n)) for s, n, _ in PEOPLE)

        company = await ok(
            so_reg.post(
                "/establishments",
                json={
                    "name": "Cơ sở chế biến chè Thông Thụ",
                    "tax_code": "0100112437",
                    "legal_form": "ho_kinh_doanh",
                    "unit_system": "truoc_2025",
                    "commune_code": "16741",
                    "sectors": ["che_bien_nong_lam_thuy_san"],
                    "employees": 12,
                },
            )
        )
        await eventually(lambda: na_apr.state.beneficiaries.facts(UUID(company["id"])) is not None)
        d = await ok(
            unit.post(
                "/de-an",
                json={
                    "code": "KCQG-2024-40-09",
                    "title": "Hỗ trợ ứng dụng máy sấy chè cho cơ sở chế biến chè",
                    "level": "quoc_gia",
                    "de_an_type": "kcqg_thu_huong",
                    "plan_year": 2024,
                    "implementing_unit": "Trung tâm Khuyến công Nghệ An",
                    "activity_contents": ["3"],
                    "beneficiary_ids": [company["id"]],
                    "budget_lines": [
                        {
                            "cost_item": "Máy sấy chè",
                            "support_item": "may_moc_thiet_bi",
                            "total_cost_vnd": 600_000_000,
                            "support_requested_vnd": SUPPORT,
                            "counterpart_vnd": 400_000_000,
                        }
                    ],
                },
            )
        )
        url, record = f"/de-an/{d['id']}", f"/national-de-an/tinh-40/{d['id']}"
        await ok(unit.post(f"{url}/submit", json={"submitted_on": "2023-09-25"}))
        base = {"mode": "can_bo", "conclusion": "dong_y", "recommended_support_vnd": SUPPORT}
        await ok(so.post(f"{url}/base-appraisal", json=base | {"appraised_on": "2023-10-05"}))
        await ok(so.post(f"{url}/forward", json={"on": "2023-10-06"}))

        async def the_ministry_knows_it() -> bool:
            response = await cuc.get(record)
            return response.status_code == 200 and response.json()["status"] == "da_gui_bo"

        await eventually(the_ministry_knows_it)

        # -- the Cục founds a ministry-level council naming the province's đề án ---------------------------------
        for subject, name, title in PEOPLE:
            await ok(
                cuc.post("/roster", json={"subject": subject, "name": name, "title": title, "organisation": "Cục"})
            )
        council = {
            "name": "Hội đồng thẩm định cấp Bộ đề án khuyến công quốc gia năm 2024",
            "stage": "cap_bo",
            "decision_number": "88/QĐ-CTĐP",
            "decided_on": "2023-11-01",
            "signer": "Cục trưởng",
            "chair": PEOPLE[0][0],
            "secretary": PEOPLE[1][0],
            "members": [PEOPLE[2][0]],
            "de_an_ids": [d["id"]],
        }
        unknown = await cuc.post("/councils", json=council | {"de_an_ids": ["00000000-0000-4000-8000-000000000001"]})
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "de_an_ids.0"
        founded = await ok(cuc.post("/councils", json=council))
        assert [(x["id"], x["code"]) for x in founded["de_an"]] == [(d["id"], "KCQG-2024-40-09")]
        cid = founded["id"]
        listed = (await cuc.get("/councils", params={"de_an_id": d["id"]})).json()["items"]
        assert [k["id"] for k in listed] == [cid]

        # -- members sign in: two vote, the conflicted one cannot; the secretary records the minutes -------------
        declaration = {"de_an_id": d["id"], "signed_on": "2023-11-05"}
        await ok(chair.post(f"/councils/{cid}/declarations", json=declaration | {"conflict": False}))
        await ok(secretary.post(f"/councils/{cid}/declarations", json=declaration | {"conflict": False}))
        await ok(third.post(f"/councils/{cid}/declarations", json=declaration | {"conflict": True}))
        opinion = {"de_an_id": d["id"], "given_on": "2023-11-06"}
        await ok(chair.post(f"/councils/{cid}/opinions", json=opinion | {"conclusion": "dong_y"}))
        await ok(secretary.post(f"/councils/{cid}/opinions", json=opinion | {"conclusion": "dong_y"}))
        refused = await third.post(f"/councils/{cid}/opinions", json=opinion | {"conclusion": "khong_dong_y"})
        assert refused.status_code == 403 and refused.json()["code"] == "conflict_of_interest"
        await ok(
            secretary.post(
                f"/councils/{cid}/minutes", json={"de_an_id": d["id"], "number": "05/BB-HĐ", "held_on": "2023-11-07"}
            )
        )

        # -- the Cục's ministry appraisal follows the minutes; the province sees the council -----------------------
        appraisal = {
            "mode": "hoi_dong",
            "recommended_support_vnd": SUPPORT,
            "appraised_on": "2023-11-20",
            "council_id": cid,
        }
        wrong = await cuc.post(f"{record}/ministry-appraisal", json=appraisal | {"conclusion": "khong_dong_y"})
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "conclusion", wrong.text
        await ok(cuc.post(f"{record}/ministry-appraisal", json=appraisal | {"conclusion": "dong_y"}))

        async def appraised_by_the_council() -> bool:
            state = (await so.get(url)).json()
            return bool(state["status"] == "dat_cap_bo")

        await eventually(appraised_by_the_council)
        state = (await so.get(url)).json()
        recorded = state["appraisals"][-1]
        assert recorded["stage"] == "cap_bo"
        assert [(m["name"], m["opinion"], m["conflict_declared"]) for m in recorded["members"]] == [
            ("Vũ Văn Chủ Tịch", "dong_y", False),
            ("Đỗ Thị Thư Ký", "dong_y", False),
            ("Hà Văn Ủy Viên", None, True),
        ]
        for http in (so_reg, so, unit, cuc, chair, secretary, third):
            await http.aclose()
