"""Issue 15 item 3: an appraisal council as a record of its own, over real HTTP on a real nats-server.

The Sở enrols people on the roster and founds a council by its decision (chair, secretary, a member)
for a đề án; each member signs in with the council-member role (a token whose subject is the member):
two sign their declarations and give opinions, the third declares a conflict of interest and is refused
when voting (403, in Vietnamese); a person not on the council sees no council; the secretary records
the minutes, whose result is computed from the two opinions; the Sở's base appraisal follows the minutes
(members, opinions and conclusion from them, a different conclusion refused) and its milestone reaches
the bus. Field trips: a schedule across đề án on set dates, findings per visit.

Real parts: the appraisal service under uvicorn on this test's nats-server, signed tokens checked by
its auth middleware, the milestone read back from JetStream.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import nats
import pytest
from kc_appraisal.main import create_app
from kc_contracts.subjects import stream_name
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.keys import ensure_instance_key
from kc_runtime.settings import Settings
from kc_runtime.web.auth import issue_token
from kc_testing.fixtures import SettingsFactory, bearer, eventually, served

PEOPLE = [
    ("nguyen.chu.tich", "Nguyễn Văn Chủ", "Phó Giám đốc Sở Công Thương"),
    ("tran.thu.ky", "Trần Thị Ký", "Chuyên viên phòng Quản lý công nghiệp"),
    ("le.uy.vien", "Lê Văn Ủy", "Phó Giám đốc Trung tâm Khuyến công"),
    ("pham.ngoai", "Phạm Thị Ngoài", "Chuyên viên"),
]


@pytest.fixture
def store() -> str:
    return "sqlite"


def member(settings: Settings, subject: str, name: str) -> dict[str, str]:
    """The header of a council member signed in as themself (role hoi_dong, subject = the member)."""
    signer = ensure_instance_key(settings.key_folder, settings.instance, settings.trust_path)
    token = issue_token(signer, sub=subject, role="hoi_dong", scope=settings.instance, name=name)
    return {"Authorization": f"Bearer {token}"}


def de_an(code: str, title: str) -> dict[str, Any]:
    return {
        "code": code,
        "title": title,
        "level": "dia_phuong",
        "de_an_type": "kcdp",
        "plan_year": 2024,
        "implementing_unit": "Trung tâm Khuyến công Nghệ An",
        "activity_contents": ["1"],
        "budget_lines": [
            {
                "cost_item": "Lớp đào tạo nghề mây tre đan",
                "support_item": "dao_tao_nghe",
                "total_cost_vnd": 90_000_000,
                "support_requested_vnd": 90_000_000,
            }
        ],
    }


async def test_three_members_sign_in_two_vote_one_conflicted_cannot_and_the_minutes_decide(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("appraisal", instance="tinh-40")
    nc = await nats.connect(settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40", "bo")))
    app = create_app(settings)
    with served(app) as base:
        so = httpx.AsyncClient(base_url=base, headers=bearer(settings), timeout=30)
        await eventually(lambda: app.state.runtime.bus_started)
        ids = []
        for code, title in (("KCĐP-40-2024-31", "Đào tạo nghề mây tre đan"), ("KCĐP-40-2024-32", "Đào tạo nghề dệt")):
            drafted = await so.post("/de-an", json=de_an(code, title))
            assert drafted.status_code == 201, drafted.text
            submitted = await so.post(f"/de-an/{drafted.json()['id']}/submit", json={"submitted_on": "2023-10-20"})
            assert submitted.status_code == 200, submitted.text
            ids.append(drafted.json()["id"])
        first = ids[0]

        for subject, name, title in PEOPLE:
            enrolled = await so.post(
                "/roster", json={"subject": subject, "name": name, "title": title, "organisation": "Sở Công Thương"}
            )
            assert enrolled.status_code == 201, enrolled.text
        council = {
            "name": "Hội đồng thẩm định đề án khuyến công địa phương năm 2024",
            "decision_number": "215/QĐ-SCT",
            "decided_on": "2023-11-01",
            "signer": "Giám đốc Sở Công Thương Nghệ An",
            "chair": "nguyen.chu.tich",
            "secretary": "tran.thu.ky",
            "members": ["le.uy.vien"],
            "de_an_ids": ids,
        }
        stranger = await so.post("/councils", json=council | {"members": ["khong.co.ten"]})
        assert stranger.status_code == 422
        assert stranger.json()["errors"][0]["field"] == "members.0"
        assert "không có trong danh sách" in stranger.json()["errors"][0]["message"]
        founded = await so.post("/councils", json=council)
        assert founded.status_code == 201, founded.text
        cid = founded.json()["id"]
        assert [(m["name"], m["role"]) for m in founded.json()["members"]] == [
            ("Nguyễn Văn Chủ", "chu_tich"),
            ("Trần Thị Ký", "thu_ky"),
            ("Lê Văn Ủy", "uy_vien"),
        ]

        chair, secretary, third = (
            httpx.AsyncClient(base_url=base, headers=member(settings, s, n), timeout=30) for s, n, _ in PEOPLE[:3]
        )
        outsider = httpx.AsyncClient(base_url=base, headers=member(settings, *PEOPLE[3][:2]), timeout=30)

        # each member sees the council they sit on, as themself; the outsider sees none
        mine = (await third.get("/councils")).json()["items"]
        assert [k["id"] for k in mine] == [cid] and mine[0]["viewer"]["role"] == "uy_vien"
        assert (await outsider.get("/councils")).json()["items"] == []
        assert (await outsider.get(f"/councils/{cid}")).status_code == 404
        assert (
            await outsider.post(
                f"/councils/{cid}/declarations", json={"de_an_id": first, "conflict": False, "signed_on": "2023-11-05"}
            )
        ).status_code == 404
        # the Sở founds councils but does not sit on them: a declaration is refused by permission
        not_a_member = await so.post(
            f"/councils/{cid}/declarations", json={"de_an_id": first, "conflict": False, "signed_on": "2023-11-05"}
        )
        assert not_a_member.status_code == 403

        # an opinion before the declaration is refused
        early = await chair.post(
            f"/councils/{cid}/opinions", json={"de_an_id": first, "conclusion": "dong_y", "given_on": "2023-11-05"}
        )
        assert early.status_code == 422 and "chưa ký cam kết" in early.json()["detail"]

        for client in (chair, secretary):
            signed = await client.post(
                f"/councils/{cid}/declarations", json={"de_an_id": first, "conflict": False, "signed_on": "2023-11-05"}
            )
            assert signed.status_code == 200, signed.text
        conflicted = await third.post(
            f"/councils/{cid}/declarations",
            json={
                "de_an_id": first,
                "conflict": True,
                "signed_on": "2023-11-05",
                "note": "Là người thân của người đứng đầu đơn vị thực hiện",
            },
        )
        assert conflicted.status_code == 200, conflicted.text

        agreed = await chair.post(
            f"/councils/{cid}/opinions",
            json={"de_an_id": first, "conclusion": "dong_y", "given_on": "2023-11-06", "comment": "Đề án cần thiết"},
        )
        assert agreed.status_code == 200, agreed.text
        changes = await secretary.post(
            f"/councils/{cid}/opinions",
            json={"de_an_id": first, "conclusion": "dong_y_co_chinh_sua", "given_on": "2023-11-06"},
        )
        assert changes.status_code == 200, changes.text
        refused = await third.post(
            f"/councils/{cid}/opinions",
            json={"de_an_id": first, "conclusion": "khong_dong_y", "given_on": "2023-11-06"},
        )
        assert refused.status_code == 403, refused.text
        problem = refused.json()
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert problem["code"] == "conflict_of_interest"
        assert problem["detail"].startswith("Lê Văn Ủy đã khai có xung đột lợi ích")
        assert "không được cho ý kiến" in problem["detail"]

        # the minutes: only the chair or the secretary; the result computed from the two opinions
        by_member = await third.post(
            f"/councils/{cid}/minutes", json={"de_an_id": first, "number": "01/BB-HĐTĐ", "held_on": "2023-11-07"}
        )
        assert by_member.status_code == 403 and "chủ tịch hoặc thư ký" in by_member.json()["detail"]
        minuted = await secretary.post(
            f"/councils/{cid}/minutes", json={"de_an_id": first, "number": "01/BB-HĐTĐ", "held_on": "2023-11-07"}
        )
        assert minuted.status_code == 200, minuted.text
        minutes = next(d for d in minuted.json()["de_an"] if d["id"] == first)["minutes"]
        assert minutes["result"] == {
            "votes": 2,
            "counts": {"dong_y": 1, "dong_y_co_chinh_sua": 1, "khong_dong_y": 0},
            "passed": True,
            "conclusion": "dong_y_co_chinh_sua",
        }
        assert minutes["rule_versions"] == ["council@TT36/2013-Dieu8"]
        late_vote = await third.post(
            f"/councils/{cid}/opinions", json={"de_an_id": first, "conclusion": "dong_y", "given_on": "2023-11-08"}
        )
        assert late_vote.status_code == 422

        # the base appraisal follows the minutes: its conclusion is the council's
        appraisal = {
            "mode": "hoi_dong",
            "conclusion": "dong_y",
            "recommended_support_vnd": 90_000_000,
            "appraised_on": "2023-11-08",
            "council_id": cid,
        }
        wrong = await so.post(f"/de-an/{first}/base-appraisal", json=appraisal)
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "conclusion"
        no_minutes = await so.post(f"/de-an/{ids[1]}/base-appraisal", json=appraisal)
        assert no_minutes.status_code == 422 and no_minutes.json()["errors"][0]["field"] == "council_id"
        appraised = await so.post(
            f"/de-an/{first}/base-appraisal", json=appraisal | {"conclusion": "dong_y_co_chinh_sua"}
        )
        assert appraised.status_code == 200, appraised.text
        recorded = appraised.json()["appraisals"][-1]
        assert recorded["minutes"]["number"] == "01/BB-HĐTĐ" and recorded["minutes"]["council_id"] == cid
        assert [(m["name"], m["opinion"], m["conflict_declared"]) for m in recorded["members"]] == [
            ("Nguyễn Văn Chủ", "dong_y", False),
            ("Trần Thị Ký", "dong_y_co_chinh_sua", False),
            ("Lê Văn Ủy", None, True),
        ]
        assert appraised.json()["status"] == "dat_co_so"

        # its milestone reached the bus
        js = nc.jetstream()

        async def published() -> bool:
            try:
                msg = await js.get_last_msg(stream_name("tinh-40"), "kc.tinh-40.appraisal.de-an.base-appraised.v1")
            except nats.js.errors.NotFoundError:
                return False
            return json.loads(msg.data)["data"]["conclusion"] == "dong_y_co_chinh_sua"

        await eventually(published)

        # field trips: several đề án visited on set dates, findings per visit
        trip = await so.post(
            "/field-trips",
            json={
                "name": "Đoàn thẩm định thực tế tại cơ sở, tháng 3/2024",
                "decision_number": "30/QĐ-SCT",
                "starts_on": "2024-03-11",
                "ends_on": "2024-03-15",
                "team": ["Nguyễn Văn Chủ", "Trần Thị Ký"],
                "visits": [
                    {"de_an_id": ids[1], "on": "2024-03-13", "place": "Xã Nghi Phong"},
                    {"de_an_id": first, "on": "2024-03-12", "place": "Xã Hưng Lộc"},
                ],
            },
        )
        assert trip.status_code == 201, trip.text
        visits = trip.json()["visits"]
        assert [(v["code"], v["on"]) for v in visits] == [
            ("KCĐP-40-2024-31", "2024-03-12"),
            ("KCĐP-40-2024-32", "2024-03-13"),
        ]
        outside = await so.post(
            "/field-trips",
            json={
                "name": "x",
                "decision_number": "1",
                "starts_on": "2024-03-11",
                "ends_on": "2024-03-15",
                "team": ["A"],
                "visits": [{"de_an_id": first, "on": "2024-03-20", "place": "Xã Hưng Lộc"}],
            },
        )
        assert outside.status_code == 422 and outside.json()["errors"][0]["field"] == "visits.0.on"
        found = await so.post(
            f"/field-trips/{trip.json()['id']}/findings",
            json={
                "visit": 0,
                "findings": "Lớp học đúng địa điểm, 35 học viên",
                "outcome": "dat",
                "recorded_on": "2024-03-12",
            },
        )
        assert found.status_code == 200, found.text
        assert found.json()["visits"][0]["outcome"] == "dat"
        listed = (await so.get("/field-trips", params={"de_an_id": first})).json()["items"]
        assert [t["id"] for t in listed] == [trip.json()["id"]]
        for client in (so, chair, secretary, third, outsider):
            await client.aclose()
    await nc.close()
    app.state.runtime.close()
