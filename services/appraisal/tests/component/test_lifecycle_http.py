"""The appraisal service over HTTP on a real store: the seed scenarios, replay, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking
from fastapi.testclient import TestClient
from kc_appraisal.main import create_app
from kc_contracts import Envelope
from kc_contracts.registry_events import EstablishmentRegisteredV1, SupportRecordedV1
from kc_testing.fixtures import SettingsFactory, bearer

PROBLEM = "application/problem+json"
ALWAYS = [{"start": "2012-07-05", "end": None, "outcome": "dat", "rules": ["eligibility.location@ND45/2012"]}]


class Service:
    """One instance's appraisal service, fed registry facts the way the bus would feed them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.http = TestClient(app, raise_server_exceptions=False, headers=bearer(app.state.runtime.settings))
        self._seq = 0

    def registry_event(self, event: Any, instance: str) -> None:
        self._seq += 1
        envelope = Envelope.wrap(
            event,
            instance=instance,
            service="registry",
            stream_id=uuid4(),
            stream_version=1,
            time=datetime(2022, 1, 1, tzinfo=UTC),
        )
        self.app.state.beneficiaries.apply(envelope, event, Tracking(f"test@KC_{instance}", self._seq))

    def establishment(self, name: str, instance: str, eligibility: list[dict[str, Any]] = ALWAYS) -> UUID:
        eid = uuid4()
        self.registry_event(
            EstablishmentRegisteredV1(
                establishment_id=eid,
                name=name,
                province_code=instance[-2:],
                commune_code="11770",
                legal_form="doanh_nghiep_nho_va_vua",
                registered_at=datetime(2022, 1, 1, tzinfo=UTC),
                sectors=["co_khi_che_tao"],
                eligibility=eligibility,
            ),
            instance,
        )
        return eid

    def post(self, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        # the approving authority approves; the ministry appraises national đề án; the Sở does the rest
        role = {"approve": "ubnd_tinh", "ministry-appraisal": "cuc"}.get(path.rsplit("/", 1)[-1], "so_ct")
        headers = bearer(self.app.state.runtime.settings, role, name="can-bo")
        response = self.http.post(path, json=body, headers=headers)
        assert response.status_code == status, response.text
        return dict(response.json())


@pytest.fixture
def service(make_settings: SettingsFactory) -> Iterator[Any]:
    made: list[Any] = []

    def make(instance: str) -> Service:
        app = create_app(make_settings("appraisal", instance=instance))
        made.append(app)
        return Service(app)

    yield make
    for app in made:
        app.state.runtime.close()


def model_line(support: int, total: int, item: str = "mo_hinh_trinh_dien") -> dict[str, Any]:
    return {
        "cost_item": "Dây chuyền đúc kim loại áp lực thấp",
        "support_item": item,
        "content": "3",
        "total_cost_vnd": total,
        "support_requested_vnd": support,
        "counterpart_vnd": total - support,
    }


COUNCIL = [
    {"name": n, "role": "ủy viên", "opinion": "dong_y", "declaration_signed": True}
    for n in ("Phó Giám đốc Sở", "Trưởng phòng QLCN", "Đại diện Sở Tài chính")
]


def test_hai_phong_metal_casting_demonstration_model_through_to_settlement(service: Any) -> None:
    hp = service("tinh-31")
    company = hp.establishment("Công ty TNHH Cơ khí Đúc Thành Phương", "tinh-31")
    d = hp.post(
        "/de-an",
        {
            "code": "KCĐP-31-2023-04",
            "title": "Xây dựng mô hình trình diễn kỹ thuật sản xuất đúc kim loại",
            "level": "dia_phuong",
            "de_an_type": "kcdp",
            "plan_year": 2023,
            "implementing_unit": "Trung tâm Khuyến công và Tư vấn phát triển công nghiệp Hải Phòng",
            "activity_contents": ["3"],
            "beneficiary_ids": [str(company)],
            "budget_lines": [model_line(850_000_000, 3_200_000_000)],
            "expected_outputs": {"mo_hinh": 1},
        },
        201,
    )
    url = f"/de-an/{d['id']}"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("submit", {"submitted_on": "2022-10-20"}),
        (
            "base-appraisal",
            {
                "mode": "hoi_dong",
                "members": COUNCIL,
                "conclusion": "dong_y_co_chinh_sua",
                "recommended_support_vnd": 800_000_000,
                "appraised_on": "2022-11-15",
            },
        ),
        ("propose", {"on": "2022-11-25"}),
        ("approve", {"plan_decision": "3456/QĐ-UBND", "decided_on": "2022-12-20", "approved_support_vnd": 800_000_000}),
        (
            "contract",
            {"contract_number": "12/2023/HĐ-KCĐP", "signed_on": "2023-02-10", "contracted_support_vnd": 800_000_000},
        ),
        ("progress", {"month": "2023-06", "percent": 75, "note": "Đã lắp đặt lò nấu và máy đúc"}),
        ("advances", {"amount_vnd": 560_000_000, "paid_on": "2023-06-28"}),
        ("complete", {"on": "2023-10-30"}),
        ("acceptance", {"accepted_on": "2023-11-15", "outputs": {"mo_hinh": 1, "luot_tham_quan": 60}}),
        ("settlement", {"settled_on": "2024-01-10", "dossier_on": "2023-11-28", "settled_support_vnd": 795_000_000}),
        ("close", {"on": "2024-01-20"}),
    ]
    for action, body in steps:
        state = hp.post(f"{url}/{action}", body)
    assert state["status"] == "da_dong"
    assert state["settlement"]["settled_support_vnd"] == 795_000_000
    assert state["submission"]["ceilings"][0]["allowed_vnd"] == 960_000_000  # 30 % of 3.2 bn, under the 1 bn cap

    timeline = hp.http.get(f"{url}/timeline").json()
    assert [t["event"] for t in timeline][:3] == ["Drafted", "Submitted", "Appraised"]
    assert all(t["actor"].startswith("can-bo (") for t in timeline)  # name (role@scope) from the token
    assert timeline[0]["actor"] == "can-bo (so_ct@tinh-31)"
    advance = next(t for t in timeline if t["event"] == "AdvanceRecorded")
    assert advance["rule_versions"] == ["advance@TT36/2013"]
    assert "calendar@KCĐP-31-2023" in timeline[1]["rule_versions"]

    # replaying the stream in a fresh application rebuilds exactly the same state
    fresh_app = create_app(hp.app.state.runtime.settings)
    replayed = fresh_app.state.application.get(UUID(d["id"])).state()
    fresh_app.state.runtime.close()
    assert replayed == hp.app.state.application.get(UUID(d["id"])).state()
    assert replayed["status"] == state["status"] and replayed["version"] == state["version"]

    # and it can be asked how it stood in the past
    contracted_at = next(t["at"] for t in timeline if t["event"] == "Contracted")
    then = hp.http.get(url, params={"as_of": contracted_at}).json()
    assert (then["status"], then["advanced_vnd"]) == ("da_ky_hop_dong", 0)


def test_nghe_an_2024_local_de_an_before_and_after_the_30_october_deadline(service: Any) -> None:
    na = service("tinh-40")
    coop = na.establishment("HTX mây tre đan Đồng Thành", "tinh-40")

    def drafted(code: str) -> str:
        return str(
            na.post(
                "/de-an",
                {
                    "code": code,
                    "title": "Hỗ trợ ứng dụng máy chẻ nan tự động",
                    "level": "dia_phuong",
                    "de_an_type": "kcdp",
                    "plan_year": 2024,
                    "implementing_unit": "Trung tâm Khuyến công Nghệ An",
                    "activity_contents": ["3"],
                    "beneficiary_ids": [str(coop)],
                    "budget_lines": [model_line(120_000_000, 300_000_000, "may_moc_thiet_bi")],
                },
                201,
            )["id"]
        )

    on_time, late = drafted("KCĐP-40-2024-11"), drafted("KCĐP-40-2024-12")
    assert na.post(f"/de-an/{on_time}/submit", {"submitted_on": "2023-10-25"})["status"] == "da_nop"
    refused = na.http.post(f"/de-an/{late}/submit", json={"submitted_on": "2023-11-02"})
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert "Quá hạn nộp hồ sơ (30/10/2023, lịch KCĐP-40-2024)" in refused.json()["errors"][0]["message"]
    assert na.http.get(f"/de-an/{late}").json()["status"] == "du_thao"  # nothing half-written
    na.post(
        f"/de-an/{late}/submission-extension",
        {"decision_number": "215/QĐ-SCT", "decided_on": "2023-10-31", "new_deadline": "2023-11-10"},
    )
    assert na.post(f"/de-an/{late}/submit", {"submitted_on": "2023-11-02"})["status"] == "da_nop"
    listing = na.http.get("/de-an", params={"plan_year": 2024, "status": "da_nop"}).json()
    assert listing["total"] == 2


def test_thai_nguyen_march_2024_field_appraisal(service: Any) -> None:
    tn = service("tinh-19")
    workshop = tn.establishment("Cơ sở chế biến chè Phúc Xuân", "tinh-19")
    d = tn.post(
        "/de-an",
        {
            "code": "KCĐP-19-2024-03",
            "title": "Hỗ trợ máy sao chè, máy vò chè",
            "level": "dia_phuong",
            "de_an_type": "kcdp",
            "plan_year": 2024,
            "implementing_unit": "Trung tâm Khuyến công Thái Nguyên",
            "activity_contents": ["3"],
            "beneficiary_ids": [str(workshop)],
            "budget_lines": [model_line(90_000_000, 200_000_000, "may_moc_thiet_bi")],
        },
        201,
    )
    tn.post(f"/de-an/{d['id']}/submit", {"submitted_on": "2023-10-20"})
    state = tn.post(
        f"/de-an/{d['id']}/base-appraisal",
        {
            "mode": "hoi_dong",
            "members": COUNCIL,
            "conclusion": "dong_y",
            "recommended_support_vnd": 90_000_000,
            "appraised_on": "2024-03-14",
            "field_visit": {
                "on": "2024-03-14",
                "place": "xã Phúc Xuân, TP. Thái Nguyên",
                "team": "Đoàn thẩm định cơ sở của Trung tâm Khuyến công",
            },
        },
    )
    assert state["status"] == "dat_co_so"
    visit = state["appraisals"][0]["field_visit"]
    assert visit["place"] == "xã Phúc Xuân, TP. Thái Nguyên"
    assert state["allowed_actions"] == ["de_xuat_ke_hoach_dia_phuong"]


# -- bad input -------------------------------------------------------------------------------------


def test_bad_input_is_refused_in_vietnamese_and_nothing_is_half_written(service: Any) -> None:
    na = service("tinh-40")
    coop = na.establishment("HTX A", "tinh-40")
    base = {
        "code": "KCĐP-40-2024-20",
        "title": "Đề án A",
        "level": "dia_phuong",
        "de_an_type": "kcdp",
        "plan_year": 2024,
        "implementing_unit": "Trung tâm",
        "activity_contents": ["3"],
        "beneficiary_ids": [str(coop)],
    }

    negative = na.http.post("/de-an", json=base | {"budget_lines": [model_line(-1, 100)]})
    assert negative.status_code == 422
    assert {e["field"] for e in negative.json()["errors"]} == {"budget_lines.0.support_requested_vnd"}

    no_lines = na.post("/de-an", base, 201)
    missing = na.http.post(f"/de-an/{no_lines['id']}/submit", json={"submitted_on": "2023-10-01"})
    assert missing.status_code == 422 and "chưa có dòng dự toán" in missing.json()["errors"][0]["message"]

    over = na.post("/de-an", base | {"budget_lines": [model_line(200_000_000, 300_000_000, "may_moc_thiet_bi")]}, 201)
    refused = na.http.post(f"/de-an/{over['id']}/submit", json={"submitted_on": "2023-10-01"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "budget_lines.0.support_requested_vnd"
    assert "vượt mức tối đa 150.000.000" in refused.json()["errors"][0]["message"]

    stranger = na.post(
        "/de-an",
        base
        | {"beneficiary_ids": [str(uuid4())], "budget_lines": [model_line(10_000_000, 30_000_000, "may_moc_thiet_bi")]},
        201,
    )
    unknown = na.http.post(f"/de-an/{stranger['id']}/submit", json={"submitted_on": "2023-10-01"})
    assert unknown.status_code == 422 and "chưa có trong sổ đăng ký" in unknown.json()["errors"][0]["message"]

    wrong_state = na.http.post(
        f"/de-an/{no_lines['id']}/contract",
        json={"contract_number": "1", "signed_on": "2024-01-01", "contracted_support_vnd": 1},
    )
    assert wrong_state.status_code == 409
    refusal = wrong_state.json()
    # people read labels: the Vietnamese message names the action and the status, never their codes
    vietnamese = refusal["errors"][0]["message"]
    assert "Không thể «Ký hợp đồng» khi đề án ở trạng thái «Dự thảo»" in vietnamese
    assert "được phép: «Sửa dự thảo», «Ghi quyết định gia hạn nộp hồ sơ», «Nộp hồ sơ»" in vietnamese
    assert not {"du_thao", "ky_hop_dong", "sua_du_thao", "nop"} & set(vietnamese.replace(",", " ").split())
    # clients read the codes, in their own fields
    assert refusal["code"] == "not_allowed_in_state" and refusal["de_an_status"] == "du_thao"
    assert refusal["action"] == "ky_hop_dong" and refusal["allowed_actions"] == ["sua_du_thao", "gia_han_nop", "nop"]

    stale = na.http.post(f"/de-an/{no_lines['id']}/return", json={"reason": "x", "version": 99})
    assert stale.status_code == 409
    for d in (no_lines, over, stranger):
        state = na.http.get(f"/de-an/{d['id']}").json()
        assert (state["status"], state["version"]) == ("du_thao", 1)


def test_double_funding_of_the_same_cost_item_is_refused(service: Any) -> None:
    na = service("tinh-40")
    coop = na.establishment("HTX B", "tinh-40")
    na.registry_event(
        SupportRecordedV1(
            establishment_id=coop,
            cost_item="Dây chuyền đúc kim loại áp lực thấp",
            amount_vnd=100_000_000,
            funding_source="quoc_gia",
            year=2021,
            reference="ĐA KCQG 2021",
        ),
        "tinh-40",
    )
    d = na.post(
        "/de-an",
        {
            "code": "KCĐP-40-2024-30",
            "title": "Đề án B",
            "level": "dia_phuong",
            "de_an_type": "kcdp",
            "plan_year": 2024,
            "implementing_unit": "Trung tâm",
            "activity_contents": ["3"],
            "beneficiary_ids": [str(coop)],
            "budget_lines": [model_line(100_000_000, 400_000_000)],
        },
        201,
    )
    refused = na.http.post(f"/de-an/{d['id']}/submit", json={"submitted_on": "2023-10-01"})
    assert refused.status_code == 422 and "đã được hỗ trợ hạng mục" in refused.json()["errors"][0]["message"]


def test_as_of_before_the_de_an_existed_is_a_404(service: Any) -> None:
    na = service("tinh-40")
    d = na.post(
        "/de-an",
        {
            "code": "C",
            "title": "T",
            "level": "dia_phuong",
            "de_an_type": "kcdp",
            "plan_year": 2024,
            "implementing_unit": "U",
            "activity_contents": ["1"],
        },
        201,
    )
    assert na.http.get(f"/de-an/{d['id']}", params={"as_of": date(2020, 1, 1).isoformat()}).status_code == 404


def test_ubnd_tinh_decides_a_local_increase_and_the_so_is_refused_naming_it(service: Any) -> None:
    """TT 36/2013 Art. 11: more money for a local đề án is UBND tỉnh's decision, by the role that holds it on
    the province's instance (rules/adjustments.toml deciders), not the Sở's; a typed authority must match."""
    hp = service("tinh-31")
    company = hp.establishment("Công ty TNHH Cơ khí Đúc Thành Phương", "tinh-31")
    d = hp.post(
        "/de-an",
        {
            "code": "KCĐP-31-2023-05",
            "title": "Mô hình trình diễn đúc kim loại",
            "level": "dia_phuong",
            "de_an_type": "kcdp",
            "plan_year": 2023,
            "implementing_unit": "Trung tâm Khuyến công Hải Phòng",
            "activity_contents": ["3"],
            "beneficiary_ids": [str(company)],
            "budget_lines": [model_line(850_000_000, 3_200_000_000)],
        },
        201,
    )
    url = f"/de-an/{d['id']}"
    appraisal = {"mode": "can_bo", "conclusion": "dong_y", "recommended_support_vnd": 850_000_000}
    for action, body in [
        ("submit", {"submitted_on": "2022-10-20"}),
        ("base-appraisal", appraisal | {"appraised_on": "2022-11-15"}),
        ("propose", {"on": "2022-11-25"}),
        ("approve", {"plan_decision": "3456/QĐ-UBND", "decided_on": "2022-12-20", "approved_support_vnd": 800_000_000}),
        ("contract", {"contract_number": "12/HĐ", "signed_on": "2023-02-10", "contracted_support_vnd": 800_000_000}),
        (
            "adjustments",
            {
                "change_type": "tang_kinh_phi",
                "description": "Thêm khuôn đúc",
                "changes": {"support_vnd": 850_000_000},
                "requested_on": "2023-05-02",
            },
        ),
    ]:
        state = hp.post(f"{url}/{action}", body)
    assert state["pending_adjustment"]["authority"] == "ubnd_tinh"
    decision = {"approved": True, "decision_number": "789/QĐ-UBND", "decided_on": "2023-05-20"}
    settings = hp.app.state.runtime.settings
    by_so = hp.http.post(f"{url}/adjustments/decision", json=decision, headers=bearer(settings, "so_ct"))
    assert by_so.status_code == 403 and by_so.headers["content-type"] == PROBLEM
    assert "thuộc thẩm quyền «Ủy ban nhân dân tỉnh», không phải «Sở Công Thương»" in by_so.json()["detail"]
    assert by_so.json()["required_authority"] == "ubnd_tinh"
    typed = hp.http.post(
        f"{url}/adjustments/decision", json=decision | {"authority": "bo_truong"}, headers=bearer(settings, "ubnd_tinh")
    )
    assert typed.status_code == 422 and typed.json()["required_authority"] == "ubnd_tinh"
    decided = hp.http.post(f"{url}/adjustments/decision", json=decision, headers=bearer(settings, "ubnd_tinh"))
    assert decided.status_code == 200, decided.text
    state = decided.json()
    assert state["approval"]["approved_support_vnd"] == state["contract"]["contracted_support_vnd"] == 850_000_000
    assert hp.http.get(f"{url}/timeline").json()[-1]["actor"] == "Cán bộ ubnd_tinh (ubnd_tinh@tinh-31)"
