"""A deadline the Sở changes in planning is the one appraisal enforces (events only, no calls)."""

from __future__ import annotations

import httpx
import nats
from kc_appraisal.main import create_app as appraisal_app
from kc_planning.main import create_app as planning_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, bearer, de_an_draft, eventually


async def test_a_later_deadline_published_by_planning_lets_a_submission_through(
    make_settings: SettingsFactory,
) -> None:
    planning = planning_app(make_settings("planning", instance="tinh-40"))
    appraisal = appraisal_app(make_settings("appraisal", instance="tinh-40"))
    nc = await nats.connect(planning.state.runtime.settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40", "bo")))
    await nc.close()
    async with planning.router.lifespan_context(planning), appraisal.router.lifespan_context(appraisal):
        plan = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=planning),
            base_url="http://planning",
            headers=bearer(planning.state.runtime.settings),
        )
        apr = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=appraisal),
            base_url="http://appraisal",
            headers=bearer(appraisal.state.runtime.settings),
        )
        await eventually(lambda: planning.state.runtime.bus_started and appraisal.state.runtime.bus_started)
        d = (
            await apr.post(
                "/de-an",
                json=de_an_draft("KCĐP-40-2024-50"),
            )
        ).json()
        late = await apr.post(f"/de-an/{d['id']}/submit", json={"submitted_on": "2023-11-02"})
        assert late.status_code == 422  # the packaged default: 30/10/2023

        changed = await plan.put(
            "/calendars/dia_phuong/2024",
            json={
                "registration_deadline": "2023-07-15",
                "dossier_deadline": "2023-11-15",
                "legal_basis": "Công văn 1234/SCT-QLCN gia hạn nộp hồ sơ đề án KCĐP 2024",
                "reason": "Gia hạn chung",
            },
        )
        assert changed.status_code == 200, changed.text
        await eventually(lambda: appraisal.state.application.calendars("dia_phuong", "40", 2024) is not None)

        accepted = await apr.post(f"/de-an/{d['id']}/submit", json={"submitted_on": "2023-11-02"})
        assert accepted.status_code == 200, accepted.text
        versions = accepted.json()["submission"]["rule_versions"]
        assert any(v.startswith("calendar@planning:tinh-40:2024@") for v in versions), versions
        await plan.aclose()
        await apr.aclose()


async def test_a_late_national_dossier_is_let_in_only_by_the_cucs_recorded_extension(
    make_settings: SettingsFactory,
) -> None:
    """The Cục sets the national dossier deadline, so only its extension decision (recorded in the
    ministry's planning, reaching the province as planning.extension.granted.v1) lets a late dossier in;
    the same decision recorded by the Sở is refused in planning."""
    bo = planning_app(make_settings("planning", instance="bo", peers=["tinh-40"]))
    province = planning_app(make_settings("planning", instance="tinh-40", peers=["bo"]))
    appraisal = appraisal_app(make_settings("appraisal", instance="tinh-40", peers=["bo"]))
    nc = await nats.connect(bo.state.runtime.settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40", "bo")))
    await nc.close()
    async with (
        bo.router.lifespan_context(bo),
        province.router.lifespan_context(province),
        appraisal.router.lifespan_context(appraisal),
    ):
        cuc = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=bo),
            base_url="http://bo",
            headers=bearer(bo.state.runtime.settings, "cuc"),
        )
        so_plan = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=province),
            base_url="http://planning",
            headers=bearer(province.state.runtime.settings),
        )
        apr = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=appraisal),
            base_url="http://appraisal",
            headers=bearer(appraisal.state.runtime.settings),
        )
        await eventually(lambda: all(a.state.runtime.bus_started for a in (bo, province, appraisal)))

        async def national(code: str, unit: str) -> str:
            made = await apr.post(
                "/de-an",
                json={
                    "code": code,
                    "title": "Mô hình trình diễn chế biến chè",
                    "level": "quoc_gia",
                    "de_an_type": "kcqg_nhom",
                    "plan_year": 2024,
                    "implementing_unit": unit,
                    "activity_contents": ["3"],
                    "budget_lines": [
                        {
                            "cost_item": "Máy móc",
                            "support_item": "may_moc_thiet_bi",
                            "total_cost_vnd": 600_000_000,
                            "support_requested_vnd": 200_000_000,
                            "counterpart_vnd": 400_000_000,
                        }
                    ],
                },
            )
            assert made.status_code == 201, made.text
            return str(made.json()["id"])

        d = {"id": await national("KCQG-2024-40-77", "Trung tâm Khuyến công Nghệ An")}
        day_after = await national("KCQG-2024-40-78", "Trung tâm Khuyến công Nghệ An")
        other = await national("KCQG-2024-40-79", "Công ty tư vấn A")
        late = await apr.post(f"/de-an/{d['id']}/submit", json={"submitted_on": "2023-10-05"})
        assert late.status_code == 422, late.text  # the national default: 30/09/2023

        decision = {
            "level": "quoc_gia",
            "year": 2024,
            "milestone": "dossier_deadline",
            "decision_number": "21/CCT-KC",
            "decision_date": "2023-09-28",
            "signer": "Cục trưởng",
            "grantee": "Trung tâm Khuyến công Nghệ An",
            "new_deadline": "2023-10-10",
            "reason": "Bão lũ miền Trung",
        }
        assert (await so_plan.post("/extensions", json=decision)).status_code == 403  # not the Sở's deadline
        granted = await cuc.post("/extensions", json=decision)
        assert granted.status_code == 201, granted.text
        await eventually(
            lambda: (
                appraisal.state.application.extensions("quoc_gia", "40", 2024, "Trung tâm Khuyến công Nghệ An")
                is not None
            )
        )
        other_unit = appraisal.state.application.extensions("quoc_gia", "40", 2024, "Công ty tư vấn A")
        assert other_unit is None

        on_the_day = await apr.post(f"/de-an/{d['id']}/submit", json={"submitted_on": "2023-10-10"})
        assert on_the_day.status_code == 200, on_the_day.text
        too_late = await apr.post(f"/de-an/{day_after}/submit", json={"submitted_on": "2023-10-11"})
        assert too_late.status_code == 422 and too_late.json()["errors"][0]["field"] == "submitted_on", too_late.text
        not_extended = await apr.post(f"/de-an/{other}/submit", json={"submitted_on": "2023-10-05"})
        assert not_extended.status_code == 422, not_extended.text
        for http in (cuc, so_plan, apr):
            await http.aclose()
