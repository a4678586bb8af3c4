"""Approved plan lines exported as a 360Giving package that validates against the standard."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from eventsourcing.persistence import Tracking
from fastapi.testclient import TestClient
from kc_contracts import Envelope
from kc_contracts.appraisal_events import BudgetTotals, DeAnProposedV1
from kc_planning.main import create_app
from kc_planning.messaging import proposals
from kc_testing.fixtures import SettingsFactory, bearer


def proposal(code: str, support: int) -> DeAnProposedV1:
    return DeAnProposedV1(
        de_an_id=uuid4(),
        code=code,
        title=f"Hỗ trợ máy móc thiết bị ({code})",
        level="quoc_gia",
        de_an_type="kcqg_nhom",
        plan_year=2024,
        province_code="40",
        status="de_xuat",
        at=datetime(2023, 11, 25, tzinfo=UTC),
        actor="x",
        activity_contents=["3"],
        implementing_unit="Trung tâm Khuyến công Nghệ An",
        budget=BudgetTotals(
            total_cost_vnd=3 * support, support_requested_vnd=support, counterpart_vnd=2 * support, other_vnd=0
        ),
        recommended_support_vnd=support,
        priority_rank=[1, 1, 1],
    )


def test_the_approved_national_plan_as_a_valid_360giving_package(make_settings: SettingsFactory) -> None:
    app = create_app(make_settings("planning", instance="bo"))
    planning = app.state.application
    for seq, (code, support) in enumerate([("KCQG-2024-40-01", 280_000_000), ("KCQG-2024-40-02", 120_000_000)], 1):
        event = proposal(code, support)  # as the bus delivers it from Nghệ An
        envelope = Envelope.wrap(
            event, instance="tinh-40", service="appraisal", stream_id=event.de_an_id, stream_version=1, time=event.at
        )
        proposals(planning)(envelope, event, Tracking("t@KC_TINH_40", seq))
    http = TestClient(app, raise_server_exceptions=False, headers=bearer(app.state.runtime.settings, "lanh_dao_bo"))
    approved = http.post(
        "/plans/quoc_gia/2024/approvals",
        json={
            "decision_number": "3208/QĐ-BCT",
            "decision_date": "2023-12-28",
            "signer": "Bộ trưởng",
            "amounts": {next(iter(planning.plan("quoc_gia", 2024).lines)): 280_000_000},
        },
    )
    assert approved.status_code == 200, approved.text

    response = http.get("/open-data/360giving/quoc_gia/2024")
    assert response.status_code == 200, response.text
    package = response.json()
    from kc_planning.opendata import problems

    assert problems(package) == []
    assert len(package["grants"]) == 1  # only approved lines are published
    grant = package["grants"][0]
    assert (grant["currency"], grant["amountAwarded"], grant["awardDate"]) == (
        "VND",
        280_000_000,
        "2023-12-28T00:00:00+07:00",
    )
    assert grant["fundingOrganization"][0]["name"] == "Bộ Công Thương"
    broken = package | {"grants": [grant | {"amountAwarded": "nhiều"}]}
    assert problems(broken)  # the validator does reject what the standard rejects
    app.state.runtime.close()
