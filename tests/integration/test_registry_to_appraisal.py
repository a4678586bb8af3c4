"""Registry and appraisal on one real nats-server: facts flow by events only, plans approve đề án."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import httpx
import nats
from kc_appraisal.main import create_app as appraisal_app
from kc_contracts import Envelope
from kc_contracts.planning_events import ApprovedLine, PlanApprovedV1
from kc_contracts.subjects import stream_name, subject_for
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, SigningPublisher, bearer, eventually


async def test_a_registered_establishment_becomes_a_beneficiary_and_a_plan_approves_its_de_an(
    make_settings: SettingsFactory,
) -> None:
    registry = registry_app(make_settings("registry", instance="tinh-31"))
    appraisal = appraisal_app(make_settings("appraisal", instance="tinh-31"))
    nc = await nats.connect(registry.state.runtime.settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(js, StreamPlan(("tinh-31", "bo")))

    async with registry.router.lifespan_context(registry), appraisal.router.lifespan_context(appraisal):
        reg = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=registry),
            base_url="http://registry",
            headers=bearer(registry.state.runtime.settings),
        )
        apr = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=appraisal),
            base_url="http://appraisal",
            headers=bearer(appraisal.state.runtime.settings),
        )
        await eventually(lambda: registry.state.runtime.bus_started and appraisal.state.runtime.bus_started)

        company = (
            await reg.post(
                "/establishments",
                json={
                    "name": "Công ty TNHH Cơ khí Đúc Thành Phương",
                    "tax_code": "0100109106",
                    "legal_form": "doanh_nghiep_nho_va_vua",
                    "unit_system": "truoc_2025",
                    "commune_code": "11770",
                    "sectors": ["co_khi_che_tao"],
                    "employees": 45,
                    "revenue_vnd": 30_000_000_000,
                },
            )
        ).json()
        await eventually(lambda: appraisal.state.beneficiaries.facts(UUID(company["id"])) is not None)
        facts = appraisal.state.beneficiaries.facts(UUID(company["id"]))
        assert facts["eligibility"][0]["outcome"] == "dat"  # a legacy xã of Huyện Tiên Lãng

        d = (
            await apr.post(
                "/de-an",
                json={
                    "code": "KCĐP-31-2023-04",
                    "title": "Mô hình trình diễn sản xuất đúc kim loại",
                    "level": "dia_phuong",
                    "de_an_type": "kcdp",
                    "plan_year": 2023,
                    "implementing_unit": "Trung tâm Khuyến công Hải Phòng",
                    "activity_contents": ["3"],
                    "beneficiary_ids": [company["id"]],
                    "budget_lines": [
                        {
                            "cost_item": "Máy đúc áp lực",
                            "support_item": "mo_hinh_trinh_dien",
                            "total_cost_vnd": 2_000_000_000,
                            "support_requested_vnd": 600_000_000,
                            "counterpart_vnd": 1_400_000_000,
                        }
                    ],
                },
            )
        ).json()
        url = f"/de-an/{d['id']}"
        for action, body in [
            ("submit", {"submitted_on": "2022-10-20"}),
            (
                "base-appraisal",
                {
                    "mode": "can_bo",
                    "conclusion": "dong_y",
                    "recommended_support_vnd": 600_000_000,
                    "appraised_on": "2022-11-10",
                },
            ),
            ("propose", {"on": "2022-11-20"}),
        ]:
            assert (await apr.post(f"{url}/{action}", json=body)).status_code == 200

        # planning's decision, as any publisher knowing only the contract would send it — twice
        plan = PlanApprovedV1(
            plan_id=uuid4(),
            level="dia_phuong",
            owner="tinh-31",
            year=2023,
            batch=1,
            decision_number="3456/QĐ-UBND",
            decision_date=date(2022, 12, 20),
            signer="Chủ tịch UBND thành phố",
            total_support_vnd=600_000_000,
            lines=[
                ApprovedLine(
                    de_an_id=UUID(d["id"]),
                    instance="tinh-31",
                    code="KCĐP-31-2023-04",
                    title=d["details"]["title"],
                    province_code="31",
                    activity_contents=["3"],
                    approved_support_vnd=600_000_000,
                )
            ],
        )
        envelope = Envelope.wrap(
            plan,
            instance="tinh-31",
            service="planning",
            stream_id=plan.plan_id,
            stream_version=1,
            time=datetime(2022, 12, 20, 3, tzinfo=UTC),
        )
        publisher = SigningPublisher.of(appraisal.state.runtime.settings)
        for msg_id in ("first", "second"):  # a republish beyond JetStream's dedup (new id) is still one effect
            await js.publish(
                subject_for("tinh-31", plan),
                publisher.sign(envelope),
                stream=stream_name("tinh-31"),
                headers={"Nats-Msg-Id": msg_id},
            )
        await eventually(lambda: appraisal.state.application.get(UUID(d["id"])).status.value == "da_phe_duyet")
        inbox = next(
            s.inbox for s in appraisal.state.runtime.subscriptions if s.inbox.name == "appraisal-plans-tinh-31"
        )
        await eventually(lambda: inbox.stats.applied + inbox.stats.dead_lettered >= 2)
        state = (await apr.get(url)).json()
        assert state["approval"]["plan_decision"] == "3456/QĐ-UBND"
        timeline = (await apr.get(f"{url}/timeline")).json()
        assert [t["event"] for t in timeline].count("Approved") == 1
        # the approval was caused by the plan's message, in its conversation
        approved = next(t for t in timeline if t["event"] == "Approved")
        assert (approved["causation_id"], approved["correlation_id"]) == (envelope.id, envelope.correlationid)
        await eventually(lambda: appraisal.state.runtime.relay.published >= 4)
        await reg.aclose()
        await apr.aclose()

    info = await js.stream_info(stream_name("tinh-31"))
    published = [
        Envelope.from_json((await js.get_msg(stream_name("tinh-31"), s)).data)
        for s in range(info.state.first_seq, info.state.last_seq + 1)
    ]
    types = [e.type for e in published]
    await nc.close()
    # and so was the milestone published from it: the causation reaches the outbound envelope
    milestone = next(e for e in published if e.type == "kc.appraisal.de-an.approved.v1")
    assert (milestone.causationid, milestone.correlationid) == (envelope.id, envelope.correlationid)
    assert [t for t in types if ".appraisal." in t] == [
        "kc.appraisal.de-an.submitted.v1",
        "kc.appraisal.de-an.base-appraised.v1",
        "kc.appraisal.de-an.proposed.v1",
        "kc.appraisal.de-an.approved.v1",
    ]
