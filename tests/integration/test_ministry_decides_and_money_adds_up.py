"""The ministry decides on its own instance, and the money adds up — over HTTP, three instances (the
ministry, Nghệ An, Hải Phòng) on one real nats-server (issue 15 items 4 and 5).

A Nghệ An national đề án for an establishment of the registry: the Cục appraises it on the ministry's
instance and the province's đề án shows it, decided by the Cục's officer; the Minister's plan approves
it; the Sở is refused the contract (the Cục signs it, on bo) and the province sees it; the unit asks
for more money and neither the Cục nor the Sở may decide it — the Minister does, on bo — and the
national plan's line, the national view and the provincial view take the new amount (plan.amended.v1);
advances and acceptance flow to the views beside the approved amount; the Cục settles on bo; the
settlement writes the support into the registry's history, so a second funding of the same cost item
for the same establishment is refused. Hải Phòng receives the ministry's decisions and applies none.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import nats
from kc_appraisal.main import create_app as appraisal_app
from kc_planning.main import create_app as planning_app
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, bearer, eventually

SUPPORT, RAISED = 200_000_000, 250_000_000
COST_ITEM = "Máy sấy chè"


def client(app: Any, role: str, name: str, **claims: Any) -> httpx.AsyncClient:
    settings = app.state.runtime.settings
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{settings.instance}",
        headers=bearer(settings, role, name=name, **claims),
    )


def de_an_body(code: str, level: str, kind: str, year: int, beneficiary: str) -> dict[str, Any]:
    return {
        "code": code,
        "title": "Hỗ trợ ứng dụng máy sấy chè cho cơ sở chế biến chè",
        "level": level,
        "de_an_type": kind,
        "plan_year": year,
        "implementing_unit": "Trung tâm Khuyến công Nghệ An",
        "activity_contents": ["3"],
        "beneficiary_ids": [beneficiary],
        "budget_lines": [
            {
                "cost_item": COST_ITEM,
                "support_item": "may_moc_thiet_bi",
                "total_cost_vnd": 600_000_000,
                "support_requested_vnd": SUPPORT,
                "counterpart_vnd": 400_000_000,
            }
        ],
    }


async def ok(response: Any) -> dict[str, Any]:
    result = await response
    assert result.status_code in (200, 201), result.text
    return dict(result.json())


async def test_the_ministry_decides_on_its_instance_and_the_money_reaches_every_view(
    make_settings: SettingsFactory,
) -> None:
    provinces = ["tinh-40", "tinh-31"]
    bo_apr = appraisal_app(make_settings("appraisal", instance="bo", peers=provinces))
    bo_plan = planning_app(make_settings("planning", instance="bo", peers=provinces))
    na_reg = registry_app(make_settings("registry", instance="tinh-40"))
    na_apr = appraisal_app(make_settings("appraisal", instance="tinh-40"))
    na_plan = planning_app(make_settings("planning", instance="tinh-40"))
    hp_apr = appraisal_app(make_settings("appraisal", instance="tinh-31"))
    apps = [bo_apr, bo_plan, na_reg, na_apr, na_plan, hp_apr]
    nc = await nats.connect(bo_apr.state.runtime.settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("bo", *provinces)))
    await nc.close()

    async with (
        bo_apr.router.lifespan_context(bo_apr),
        bo_plan.router.lifespan_context(bo_plan),
        na_reg.router.lifespan_context(na_reg),
        na_apr.router.lifespan_context(na_apr),
        na_plan.router.lifespan_context(na_plan),
        hp_apr.router.lifespan_context(hp_apr),
    ):
        await eventually(lambda: all(a.state.runtime.bus_started for a in apps))
        so_reg = client(na_reg, "so_ct", "Nguyễn Văn Sở")
        so = client(na_apr, "so_ct", "Nguyễn Văn Sở")
        unit = client(na_apr, "don_vi", "Trung tâm KC Nghệ An", unit="trung-tam-khuyen-cong-nghe-an")
        so_plan = client(na_plan, "so_ct", "Nguyễn Văn Sở")
        cuc = client(bo_apr, "cuc", "Trần Thị Cục")
        minister = client(bo_apr, "lanh_dao_bo", "Bộ trưởng")
        cuc_plan = client(bo_plan, "cuc", "Trần Thị Cục")
        leader_plan = client(bo_plan, "lanh_dao_bo", "Bộ trưởng")
        hp = client(hp_apr, "so_ct", "Sở Hải Phòng")

        # -- a beneficiary in the registry; a national đề án through the Sở's steps ----------------------------
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
            unit.post("/de-an", json=de_an_body("KCQG-2024-40-07", "quoc_gia", "kcqg_thu_huong", 2024, company["id"]))
        )
        url = f"/de-an/{d['id']}"
        record = f"/national-de-an/tinh-40/{d['id']}"
        await ok(unit.post(f"{url}/submit", json={"submitted_on": "2023-09-25"}))
        appraisal = {"mode": "can_bo", "conclusion": "dong_y", "recommended_support_vnd": SUPPORT}
        await ok(so.post(f"{url}/base-appraisal", json=appraisal | {"appraised_on": "2023-10-05"}))
        await ok(so.post(f"{url}/forward", json={"on": "2023-10-06"}))

        # -- the Cục appraises on the ministry's instance; the Sở cannot, on its own ------------------------------
        refused = await so.post(f"{url}/ministry-appraisal", json=appraisal | {"appraised_on": "2023-11-20"})
        assert refused.status_code == 403, refused.text

        async def the_ministry_knows_it() -> bool:
            response = await cuc.get(record)
            return response.status_code == 200 and response.json()["status"] == "da_gui_bo"

        await eventually(the_ministry_knows_it)

        async def listed() -> list[tuple[str, str]]:
            found = (await cuc.get("/national-de-an", params={"instance": "tinh-40"})).json()
            return [(i["code"], i["status"]) for i in found["items"]]

        await eventually(lambda: _equal(listed, [("KCQG-2024-40-07", "da_gui_bo")]))
        assert (await cuc.get(record)).json()["allowed_actions"] == ["tham_dinh_cap_bo"]
        decided = await ok(cuc.post(f"{record}/ministry-appraisal", json=appraisal | {"appraised_on": "2023-11-20"}))
        assert decided["awaiting"] == "tham_dinh_cap_bo" and decided["allowed_actions"] == []

        async def status_is(http: httpx.AsyncClient, path: str, status: str) -> bool:
            return bool((await http.get(path)).json()["status"] == status)

        await eventually(lambda: status_is(so, url, "dat_cap_bo"))
        timeline = (await so.get(f"{url}/timeline")).json()
        appraised = timeline[-1]
        assert appraised["event"] == "Appraised" and appraised["data"]["stage"] == "cap_bo"
        assert appraised["actor"] == "Trần Thị Cục (cuc@bo)"  # who decided, on the ministry's instance
        assert appraised["causation_id"] and appraised["correlation_id"]  # the ministry's message
        await eventually(lambda: _awaiting_cleared(cuc, record))

        # -- the Minister approves the national plan: the province's đề án is approved --------------------------
        await ok(so.post(f"{url}/propose", json={"on": "2023-11-25"}))

        async def plan_has_it() -> bool:
            response = await cuc_plan.get("/plans/quoc_gia/2024")
            return response.status_code == 200 and d["id"] in response.json()["lines"]

        await eventually(plan_has_it)
        await ok(
            leader_plan.post(
                "/plans/quoc_gia/2024/approvals",
                json={"decision_number": "3208/QĐ-BCT", "decision_date": "2023-12-28", "signer": "Bộ trưởng"},
            )
        )
        await eventually(lambda: status_is(so, url, "da_phe_duyet"))
        await eventually(lambda: status_is(cuc, record, "da_phe_duyet"))

        # -- the contract: the Sở is refused naming the Cục; the Cục signs on bo; the province sees it -----------
        contract = {"contract_number": "07/2024/HĐ-KCQG", "signed_on": "2024-02-01", "contracted_support_vnd": SUPPORT}
        refused = await so.post(f"{url}/contract", json=contract)
        assert refused.status_code == 403, refused.text
        problem = refused.json()
        assert "Cục Công Thương địa phương" in problem["detail"] and "hệ thống của Bộ" in problem["detail"]
        assert problem["required_authority"] == "cuc"
        assert (
            await cuc.post(f"{record}/contract", json=contract | {"contracted_support_vnd": SUPPORT + 1})
        ).status_code == 422
        await ok(cuc.post(f"{record}/contract", json=contract))
        await eventually(lambda: status_is(so, url, "da_ky_hop_dong"))
        state = (await so.get(url)).json()
        assert state["contract"]["contract_number"] == "07/2024/HĐ-KCQG"
        assert (await so.get(f"{url}/timeline")).json()[-1]["actor"] == "Trần Thị Cục (cuc@bo)"
        await eventually(lambda: _awaiting_cleared(cuc, record))

        # -- more money: the unit asks; the Cục and the Sở may not decide; the Minister does, on bo ---------------
        await ok(
            unit.post(
                f"{url}/adjustments",
                json={
                    "change_type": "tang_kinh_phi",
                    "description": "Giá máy sấy tăng",
                    "changes": {"support_vnd": RAISED},
                    "requested_on": "2024-04-01",
                },
            )
        )

        async def pending_at_the_ministry() -> bool:
            return bool((await cuc.get(record)).json()["required_authority"] == "bo_truong")

        await eventually(pending_at_the_ministry)
        decision = {"approved": True, "decision_number": "1234/QĐ-BCT", "decided_on": "2024-04-10"}
        by_so = await so.post(f"{url}/adjustments/decision", json=decision)
        assert by_so.status_code == 403 and "Bộ trưởng Bộ Công Thương" in by_so.json()["detail"], by_so.text
        by_cuc = await cuc.post(f"{record}/adjustments/decision", json=decision)
        assert by_cuc.status_code == 403 and "Bộ trưởng Bộ Công Thương" in by_cuc.json()["detail"], by_cuc.text
        await ok(minister.post(f"{record}/adjustments/decision", json=decision))

        async def raised() -> bool:
            return bool((await so.get(url)).json()["approval"]["approved_support_vnd"] == RAISED)

        await eventually(raised)
        assert (await so.get(f"{url}/timeline")).json()[-1]["actor"] == "Bộ trưởng (lanh_dao_bo@bo)"

        # the plan's line and every view take the new amount
        async def plan_line_raised() -> bool:
            plan = (await cuc_plan.get("/plans/quoc_gia/2024")).json()
            return bool(plan["lines"][d["id"]]["approved_support_vnd"] == RAISED)

        await eventually(plan_line_raised)
        plan = (await cuc_plan.get("/plans/quoc_gia/2024")).json()
        assert plan["approved_total_vnd"] == RAISED
        assert plan["amendments"][-1]["decision_number"] == "1234/QĐ-BCT"
        assert plan["amendments"][-1]["signer"] == "Bộ trưởng Bộ Công Thương"

        async def views_raised() -> bool:
            national = (await cuc_plan.get("/views/national", params={"year": 2024})).json()
            provincial = (await so_plan.get("/views/province", params={"year": 2024})).json()
            return national["totals"][0]["quoc_gia"] == RAISED == provincial["totals"][0]["quoc_gia"]

        await eventually(views_raised)
        await eventually(lambda: _awaiting_cleared(cuc, record))

        # -- implementation: an advance, acceptance — beside the approved amount in the views -------------------
        await ok(unit.post(f"{url}/progress", json={"month": "2024-06", "percent": 80}))
        await ok(unit.post(f"{url}/advances", json={"amount_vnd": 150_000_000, "paid_on": "2024-06-28"}))
        await ok(unit.post(f"{url}/complete", json={"on": "2024-10-30"}))
        await ok(
            so.post(
                f"{url}/acceptance",
                json={"accepted_on": "2024-11-15", "outputs": {"may_moc": 1}, "accepted_support_vnd": 245_000_000},
            )
        )

        async def accepted_in_view() -> bool:
            national = (await cuc_plan.get("/views/national", params={"year": 2024})).json()
            return bool(national["totals"][0]["accepted_vnd"] == 245_000_000)

        await eventually(accepted_in_view)
        national = (await cuc_plan.get("/views/national", params={"year": 2024})).json()
        row = national["by_province_now"][0]
        assert (row["approved_vnd"], row["contracted_vnd"], row["advanced_vnd"], row["accepted_vnd"]) == (
            RAISED,
            RAISED,
            150_000_000,
            245_000_000,
        )
        provincial = (await so_plan.get("/views/province", params={"year": 2024})).json()
        status_row = next(r for r in provincial["by_status"] if r["status"] == "da_nghiem_thu")
        assert (status_row["approved_vnd"], status_row["advanced_vnd"], status_row["accepted_vnd"]) == (
            RAISED,
            150_000_000,
            245_000_000,
        )

        # -- the Cục settles on bo; the province sees it; the registry records the support -----------------------
        await eventually(lambda: status_is(cuc, record, "da_nghiem_thu"))
        settlement = {"settled_on": "2024-12-20", "dossier_on": "2024-11-25", "settled_support_vnd": 245_000_000}
        assert (await so.post(f"{url}/settlement", json=settlement)).status_code == 403
        await ok(cuc.post(f"{record}/settlement", json=settlement))
        await eventually(lambda: status_is(so, url, "da_quyet_toan"))
        assert (await so.get(url)).json()["settlement"]["settled_support_vnd"] == 245_000_000

        async def support_recorded() -> list[dict[str, Any]]:
            return list((await so_reg.get(f"/establishments/{company['id']}/support")).json())

        await eventually(lambda: _nonempty(support_recorded))
        support = await support_recorded()
        assert [(s["cost_item"], s["amount_vnd"], s["funding_source"], s["reference"]) for s in support] == [
            (COST_ITEM, 245_000_000, "quoc_gia", "KCQG-2024-40-07")
        ]

        async def settled_in_views() -> bool:
            national = (await cuc_plan.get("/views/national", params={"year": 2024})).json()
            return bool(national["totals"][0]["settled_vnd"] == 245_000_000)

        await eventually(settled_in_views)

        # -- a second funding of the same cost item for the same establishment is refused ------------------------
        await ok(
            so_plan.put(
                "/calendars/dia_phuong/2026",
                json={"registration_deadline": "2025-07-15", "dossier_deadline": "2025-10-30", "legal_basis": "Sở CT"},
            )
        )
        again = await ok(
            unit.post("/de-an", json=de_an_body("KCĐP-40-2026-03", "dia_phuong", "kcdp", 2026, company["id"]))
        )

        async def refused_for_double_funding() -> bool:
            # until the Sở's 2026 calendar reaches appraisal, the refusal is about the calendar
            response = await unit.post(f"/de-an/{again['id']}/submit", json={"submitted_on": "2025-10-15"})
            assert response.status_code == 422, response.text
            return bool(response.json()["errors"][0]["field"] == "budget_lines")

        await eventually(refused_for_double_funding)
        second = await unit.post(f"/de-an/{again['id']}/submit", json={"submitted_on": "2025-10-15"})
        assert "đã được hỗ trợ hạng mục 'Máy sấy chè'" in second.json()["detail"], second.text
        assert (await unit.get(f"/de-an/{again['id']}")).json()["status"] == "du_thao"

        # -- Hải Phòng heard every decision of the ministry and applied none -------------------------------------
        assert (await hp.get(url)).status_code == 404
        assert (await hp.get("/de-an")).json()["total"] == 0

        for http in (so_reg, so, unit, so_plan, cuc, minister, cuc_plan, leader_plan, hp):
            await http.aclose()


async def _awaiting_cleared(http: httpx.AsyncClient, record: str) -> bool:
    return (await http.get(record)).json()["awaiting"] is None


async def _nonempty(fetch: Any) -> bool:
    return bool(await fetch())


async def _equal(fetch: Any, expected: Any) -> bool:
    return bool(await fetch() == expected)
