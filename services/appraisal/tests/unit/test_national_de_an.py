"""The ministry's record of a province's national đề án: opened and kept from the province's milestones,
the Cục's and the Minister's decisions checked against what the province last reported, each awaiting
the province's confirmation before the next."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest
from kc_appraisal.domain.de_an import By, Conclusion, Status
from kc_appraisal.domain.errors import NotAllowedInStateError, NotTheAuthorityError, OverCeilingError
from kc_appraisal.domain.national_de_an import AwaitingProvinceError, NationalDeAn, record_id
from kc_appraisal.rulebook import rulebook

RULES = rulebook()
CUC = By("Cán bộ Cục (cuc@bo)", "req-1", role="cuc", instance="bo")
MINISTER = By("Bộ trưởng (lanh_dao_bo@bo)", "req-2", role="lanh_dao_bo", instance="bo")
PROVINCE = By("Sở Công Thương (so_ct@tinh-40)", "msg-corr", "msg-1")
DE_AN = uuid4()
FACTS = {
    "code": "KCQG-2024-40-01",
    "title": "Máy sấy chè",
    "level": "quoc_gia",
    "de_an_type": "kcqg_nhom",
    "plan_year": 2024,
    "province_code": "40",
    "budget": {"total_cost_vnd": 600_000_000, "support_requested_vnd": 200_000_000},
}


def reported(record: NationalDeAn, milestone: str, status: str, **facts: Any) -> None:
    record.report(milestone=milestone, status=status, facts=FACTS | facts, reported_at=datetime.now(UTC), by=PROVINCE)


def forwarded() -> NationalDeAn:
    record = NationalDeAn.open(instance="tinh-40", de_an_id=DE_AN, by=PROVINCE)
    reported(record, "forwarded", "da_gui_bo", recommended_support_vnd=200_000_000)
    return record


def test_a_record_is_keyed_by_instance_and_de_an_id() -> None:
    record = forwarded()
    assert record.id == record_id("tinh-40", DE_AN) != record_id("tinh-31", DE_AN)
    assert record.ministry_actions() == ["tham_dinh_cap_bo"]


def test_a_decision_waits_for_the_province_to_apply_it_before_the_next() -> None:
    record = forwarded()
    with pytest.raises(OverCeilingError):
        record.record_ministry_appraisal(
            mode="can_bo",
            members=[],
            conclusion=Conclusion.agree,
            recommended_support_vnd=200_000_001,
            appraised_on=date(2023, 11, 20),
            by=CUC,
        )
    record.record_ministry_appraisal(
        mode="can_bo",
        members=[],
        conclusion=Conclusion.agree,
        recommended_support_vnd=200_000_000,
        appraised_on=date(2023, 11, 20),
        by=CUC,
    )
    assert (record.status, record.awaiting, record.ministry_actions()) == (
        Status.ministry_passed,
        "tham_dinh_cap_bo",
        [],
    )
    assert record.decisions[-1]["actor"] == "Cán bộ Cục (cuc@bo)" and record.decisions[-1]["role"] == "cuc"
    reported(record, "ministry-appraised", "dat_cap_bo")
    assert record.awaiting is None
    reported(record, "approved", "da_phe_duyet", approved_support_vnd=180_000_000)
    with pytest.raises(OverCeilingError, match="vượt kinh phí được phê duyệt"):
        record.sign_contract(
            contract_number="1/HĐ", signed_on=date(2024, 2, 1), contracted_support_vnd=200_000_000, by=CUC
        )
    record.sign_contract(contract_number="1/HĐ", signed_on=date(2024, 2, 1), contracted_support_vnd=180_000_000, by=CUC)
    with pytest.raises(AwaitingProvinceError):
        record.sign_contract(contract_number="2/HĐ", signed_on=date(2024, 2, 2), contracted_support_vnd=1, by=CUC)


def test_the_minister_decides_more_money_and_the_cuc_may_not() -> None:
    record = forwarded()
    reported(record, "approved", "da_phe_duyet", approved_support_vnd=200_000_000)
    reported(record, "contracted", "da_ky_hop_dong", contracted_support_vnd=200_000_000)
    reported(
        record,
        "adjustment-requested",
        "da_ky_hop_dong",
        change_type="tang_kinh_phi",
        changes={"support_vnd": 250_000_000},
        authority="bo_truong",
        requested_on=date(2024, 4, 1),
    )
    assert record.ministry_actions() == ["quyet_dinh_dieu_chinh"]
    with pytest.raises(NotTheAuthorityError, match="thẩm quyền «Bộ trưởng Bộ Công Thương», không phải «Cục"):
        record.decide_adjustment(
            approved=True, decision_number="1/QĐ", decided_on=date(2024, 4, 10), rules=RULES, by=CUC
        )
    record.decide_adjustment(
        approved=True, decision_number="1234/QĐ-BCT", decided_on=date(2024, 4, 10), rules=RULES, by=MINISTER
    )
    assert record.decisions[-1]["authority"] == "bo_truong" and record.awaiting == "quyet_dinh_dieu_chinh"


def test_settlement_needs_the_acceptance_reported_and_keeps_its_deadlines() -> None:
    record = forwarded()
    reported(record, "contracted", "da_ky_hop_dong", contracted_support_vnd=200_000_000)
    with pytest.raises(NotAllowedInStateError):
        record.settle(
            settled_on=date(2024, 12, 20), dossier_on=date(2024, 12, 1), settled_support_vnd=1, rules=RULES, by=CUC
        )
    reported(record, "accepted", "da_nghiem_thu", accepted_on=date(2024, 11, 25))
    with pytest.raises(Exception, match="trước 10/12/2024"):
        record.settle(
            settled_on=date(2024, 12, 20),
            dossier_on=date(2024, 12, 11),
            settled_support_vnd=190_000_000,
            rules=RULES,
            by=CUC,
        )
    record.settle(
        settled_on=date(2024, 12, 20),
        dossier_on=date(2024, 12, 5),
        settled_support_vnd=190_000_000,
        rules=RULES,
        by=CUC,
    )
    assert record.status is Status.settled
