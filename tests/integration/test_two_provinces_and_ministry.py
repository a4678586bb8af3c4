"""Two provinces and the ministry on one real nats-server: national proposals → the ministry's plan
and national view → approval → plan.approved.v1, once per approval, across a restart of planning."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
from kc_appraisal.main import create_app as appraisal_app
from kc_planning.main import create_app as planning_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, bearer, eventually
from nats.js.api import AckPolicy, ConsumerConfig
from openpyxl import load_workbook


def client(app: Any, name: str, role: str | None = None) -> httpx.AsyncClient:
    settings = app.state.runtime.settings
    role = role or ("cuc" if settings.instance == "bo" else "so_ct")
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{name}",
        headers=bearer(settings, role, name=f"can-bo-{name}"),
    )


async def national_de_an(
    http: httpx.AsyncClient, code: str, province: str, support: int, ministry: httpx.AsyncClient
) -> str:
    """The Sở's steps on its instance; the Cục's ministry-level appraisal on the ministry's."""
    d = (
        await http.post(
            "/de-an",
            json={
                "code": code,
                "title": f"Hỗ trợ máy móc thiết bị cho nhóm cơ sở ({province})",
                "level": "quoc_gia",
                "de_an_type": "kcqg_nhom",
                "plan_year": 2024,
                "implementing_unit": f"Trung tâm Khuyến công tỉnh {province}",
                "activity_contents": ["3"],
                "budget_lines": [
                    {
                        "cost_item": "Máy móc",
                        "support_item": "may_moc_thiet_bi",
                        "total_cost_vnd": 3 * support,
                        "support_requested_vnd": support,
                        "counterpart_vnd": 2 * support,
                    }
                ],
            },
        )
    ).json()
    url = f"/de-an/{d['id']}"
    appraisal = {"mode": "can_bo", "conclusion": "dong_y", "recommended_support_vnd": support}
    for action, body in [
        ("submit", {"submitted_on": "2023-09-25"}),
        ("base-appraisal", appraisal | {"appraised_on": "2023-10-05"}),
        ("forward", {"on": "2023-10-06"}),
    ]:
        response = await http.post(f"{url}/{action}", json=body)
        assert response.status_code == 200, response.text
    # the ministry's officer records the ministry-level appraisal on the ministry's instance
    record = f"/national-de-an/{http.base_url.host}/{d['id']}"

    async def forwarded() -> bool:
        response = await ministry.get(record)
        return response.status_code == 200 and response.json()["status"] == "da_gui_bo"

    await eventually(forwarded)
    response = await ministry.post(f"{record}/ministry-appraisal", json=appraisal | {"appraised_on": "2023-11-20"})
    assert response.status_code == 200, response.text

    async def appraised() -> bool:
        return bool((await http.get(url)).json()["status"] == "dat_cap_bo")

    await eventually(appraised)
    response = await http.post(f"{url}/propose", json={"on": "2023-11-25"})
    assert response.status_code == 200, response.text
    return str(d["id"])


async def test_national_plan_from_two_provinces_to_plan_approved(make_settings: SettingsFactory) -> None:
    na_settings = make_settings("appraisal", instance="tinh-40")
    hp_settings = make_settings("appraisal", instance="tinh-31")
    bo_settings = make_settings("planning", instance="bo", peers=["tinh-40", "tinh-31"])
    bo_appraisal = appraisal_app(make_settings("appraisal", instance="bo", peers=["tinh-40", "tinh-31"]))
    nc = await nats.connect(bo_settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(js, StreamPlan(("bo", "tinh-40", "tinh-31")))

    # an integrator who knows only the published contract: a durable consumer on the ministry's stream
    integrator = await js.pull_subscribe(
        "kc.bo.planning.plan.approved.v1",
        durable="integrator-test",
        stream="KC_BO",
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
    )
    received: list[dict[str, Any]] = []

    async def drain() -> None:
        try:
            for msg in await integrator.fetch(10, timeout=0.5):
                received.append(json.loads(msg.data))
                await msg.ack()
        except nats.errors.TimeoutError:
            pass

    na, hp = appraisal_app(na_settings), appraisal_app(hp_settings)
    planning = planning_app(bo_settings)
    async with (
        na.router.lifespan_context(na),
        hp.router.lifespan_context(hp),
        bo_appraisal.router.lifespan_context(bo_appraisal),
    ):
        nah, hph = client(na, "tinh-40"), client(hp, "tinh-31")
        cuc = client(bo_appraisal, "bo")
        async with planning.router.lifespan_context(planning):
            boh = client(planning, "bo")
            await eventually(lambda: all(a.state.runtime.bus_started for a in (na, hp, planning, bo_appraisal)))
            ids = [
                await national_de_an(nah, "KCQG-2024-40-01", "Nghệ An", 250_000_000, cuc),
                await national_de_an(nah, "KCQG-2024-40-02", "Nghệ An", 150_000_000, cuc),
                await national_de_an(hph, "KCQG-2024-31-01", "Hải Phòng", 300_000_000, cuc),
            ]

            async def plan_has_three() -> bool:
                response = await boh.get("/plans/quoc_gia/2024")
                return response.status_code == 200 and len(response.json()["lines"]) == 3

            await eventually(plan_has_three)
            await eventually(lambda: len(planning.state.programme.rows(year=2024)) == 3)
            view = (await boh.get("/views/national", params={"year": 2024})).json()
            assert {r["province_now"]: r["de_an"] for r in view["by_province_now"]} == {"31": 1, "40": 2}
            assert view["totals"][0]["quoc_gia"] == 700_000_000

            before_approval = datetime.now(UTC)
            first = await client(planning, "bo", "lanh_dao_bo").post(
                "/plans/quoc_gia/2024/approvals",
                json={
                    "decision_number": "2468/QĐ-BCT",
                    "decision_date": "2023-12-28",
                    "signer": "Bộ trưởng Bộ Công Thương",
                    "amounts": {ids[0]: 250_000_000, ids[2]: 300_000_000},
                },
            )
            assert first.status_code == 200, first.text
            await eventually(lambda: planning.state.runtime.relay.published >= 1)

        # planning restarts on the same store: nothing is published again
        planning = planning_app(bo_settings)
        async with planning.router.lifespan_context(planning):
            boh = client(planning, "bo")
            await eventually(lambda: planning.state.runtime.bus_started)
            await asyncio.sleep(1.0)
            await drain()
            assert len(received) == 1
            second = await client(planning, "bo", "lanh_dao_bo").post(
                "/plans/quoc_gia/2024/approvals",
                json={
                    "decision_number": "0315/QĐ-BCT",
                    "decision_date": "2024-03-15",
                    "signer": "Bộ trưởng Bộ Công Thương",
                },
            )
            assert second.status_code == 200 and second.json()["batches"][-1]["batch"] == 2

            async def two_received() -> bool:
                await drain()
                return len(received) >= 2

            await eventually(two_received)
            await asyncio.sleep(1.0)
            await drain()

            # the provinces' đề án are approved by the event, with the ministry's decision
            async def approved(http: httpx.AsyncClient, de_an_id: str) -> bool:
                return bool((await http.get(f"/de-an/{de_an_id}")).json()["status"] == "da_phe_duyet")

            await eventually(lambda: approved(nah, ids[0]))
            await eventually(lambda: approved(nah, ids[1]))
            await eventually(lambda: approved(hph, ids[2]))
            await eventually(
                lambda: all(r["status"] == "da_phe_duyet" for r in planning.state.programme.rows(year=2024))
            )

            # the rebuild from the bus log gives the live view's digest
            live = (await boh.get("/views/digest")).json()["digest"]
            rebuilt = (await boh.post("/views/rebuild")).json()
            assert rebuilt["events"] >= 3 * 5 + 3
            assert rebuilt["digest"] == rebuilt["live_digest"] == live

            # the view as it stood before the first approval: nothing approved yet
            then = (await boh.get("/views/as-of", params={"at": before_approval.isoformat()})).json()
            statuses = {r["status"] for r in then["province"]["by_status"]}
            assert statuses == {"de_xuat"} and then["national"]["totals"][0]["de_an"] == 3
            assert then["digest"] != live

            # the .xlsx export, read back by another reader, shows the API's totals
            plan = (await boh.get("/plans/quoc_gia/2024")).json()
            sheet = load_workbook(
                io.BytesIO((await boh.get("/plans/quoc_gia/2024/export.xlsx")).content), read_only=True
            ).worksheets[0]
            total_row = next(r for r in sheet.iter_rows(values_only=True) if r[2] == "TỔNG CỘNG")
            assert total_row[5] == plan["approved_total_vnd"] == 700_000_000
            assert total_row[7] == sum(line["proposal"]["budget"]["counterpart_vnd"] for line in plan["lines"].values())
            await boh.aclose()
        await nah.aclose()
        await hph.aclose()
        await cuc.aclose()
    await nc.close()

    assert [m["type"] for m in received] == ["kc.planning.plan.approved.v1"] * 2
    assert [m["data"]["batch"] for m in received] == [1, 2]
    assert [len(m["data"]["lines"]) for m in received] == [2, 1]
    assert sum(m["data"]["total_support_vnd"] for m in received) == 700_000_000
    line = received[0]["data"]["lines"][0]
    assert set(line) >= {"de_an_id", "title", "province_code", "activity_contents", "approved_support_vnd"}
