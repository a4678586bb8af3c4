"""A deadline the Sở changes in planning is the one appraisal enforces (events only, no calls)."""

from __future__ import annotations

import httpx
import nats
from kc_appraisal.main import create_app as appraisal_app
from kc_planning.main import create_app as planning_app
from kc_runtime.streams import StreamPlan, ensure_streams
from kc_runtime.testing import SettingsFactory, bearer, eventually


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
                json={
                    "code": "KCĐP-40-2024-50",
                    "title": "Đào tạo nghề mây tre đan",
                    "level": "dia_phuong",
                    "de_an_type": "kcdp",
                    "plan_year": 2024,
                    "implementing_unit": "Trung tâm Khuyến công Nghệ An",
                    "activity_contents": ["1"],
                    "budget_lines": [
                        {
                            "cost_item": "Lớp đào tạo",
                            "support_item": "dao_tao_nghe",
                            "total_cost_vnd": 90_000_000,
                            "support_requested_vnd": 90_000_000,
                        }
                    ],
                },
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
