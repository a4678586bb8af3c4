"""Issue 15, "Must show": the programme across levels as one story, over real HTTP, three instances (the
ministry ``bo``, Nghệ An ``tinh-40``, Hải Phòng ``tinh-31``) on one real nats-server.

Plan year 2023, in the order it happens:

1. communes register proposals with their Sở; Nghệ An's Sở accepts one and returns one with a reason;
   each Sở sends its national registration by 20/6/2022; the Cục sees both provinces' filings;
2. a council of three (founded by the Sở, members from the roster) signs in with the council-member
   role: two sign their declarations and give opinions, the third declares a conflict of interest and is
   refused when voting (a Vietnamese problem+json); the minutes decide the base appraisal;
3. the national đề án goes to the ministry: the Cục appraises it, the Minister approves the plan, the Cục
   signs the contract on the ministry's instance and Nghệ An sees it;
4. a Minister-approved increase changes the plan line (``plan.amended``) and the national view;
5. implementation (an advance needs progress *above* 70 %), acceptance with typed results, the Cục
   settles on the ministry's instance, the province sees it and the registry records the support;
6. a second funding of the settled cost item for the same establishment is refused;
7. the ministry's indicators for 2021–2023 equal what the story recorded, per province, with regional
   and national typical products counted from the registries' recognitions (district, provincial and
   out-of-range ones left out).

Every service runs under uvicorn (``served``); the test talks to them as the officers would, with signed
tokens of their roles; the services talk to each other only through JetStream.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import nats
import pytest
from kc_appraisal.main import create_app as appraisal_app
from kc_planning.main import create_app as planning_app
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.keys import ensure_instance_key
from kc_runtime.settings import Settings
from kc_runtime.web.auth import issue_token
from kc_testing.fixtures import SettingsFactory, bearer, eventually, served

PROVINCES = ["tinh-40", "tinh-31"]
SUPPORT, RAISED, ACCEPTED = 200_000_000, 250_000_000, 245_000_000
COST_ITEM = "Máy sấy chè"
MEMBERS = [
    ("nguyen.chu.tich", "Nguyễn Văn Chủ", "Phó Giám đốc Sở Công Thương"),
    ("tran.thu.ky", "Trần Thị Ký", "Trưởng phòng Quản lý công nghiệp"),
    ("le.uy.vien", "Lê Văn Ủy", "Phó Giám đốc Trung tâm Khuyến công"),
]


pytestmark = pytest.mark.timeout(900)  # eight services and one story: minutes on a loaded machine
PATIENCE = 120.0  # seconds an event may take to cross instances under load


async def soon(check: Callable[[], object]) -> None:
    await eventually(check, timeout=PATIENCE)


@pytest.fixture
def store() -> str:
    return "sqlite"  # the story once; each service's store on PostgreSQL is covered by its own suites


class Http:
    """The test's clients: one per (service, role), over real HTTP."""

    def __init__(self) -> None:
        self.clients: list[httpx.AsyncClient] = []

    def __call__(self, base: str, headers: dict[str, str]) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=base, headers=headers, timeout=30)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


def council_member(settings: Settings, subject: str, name: str) -> dict[str, str]:
    """A council member signed in as themself: role hoi_dong, the token's subject is the member."""
    signer = ensure_instance_key(settings.key_folder, settings.instance, settings.trust_path)
    token = issue_token(signer, sub=subject, role="hoi_dong", scope=settings.instance, name=name)
    return {"Authorization": f"Bearer {token}"}


async def ok(response: Awaitable[httpx.Response]) -> Any:
    result = await response
    assert result.status_code in (200, 201), (result.request.method, str(result.request.url), result.text)
    return result.json()


async def refused(response: Awaitable[httpx.Response], status: int) -> Any:
    result = await response
    assert result.status_code == status, (result.request.method, str(result.request.url), result.text)
    assert result.headers["content-type"].startswith("application/problem+json"), result.headers
    return result.json()


async def status_is(http: httpx.AsyncClient, path: str, status: str) -> bool:
    response = await http.get(path)
    return response.status_code == 200 and response.json()["status"] == status


def proposal(title: str, support: int, commune: str, content: str) -> dict[str, Any]:
    return {"title": title, "content": content, "support_vnd": support, "commune_code": commune}


def establishment(name: str, tax_code: str, commune: str, sector: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "tax_code": tax_code,
        "legal_form": "ho_kinh_doanh",
        "unit_system": "truoc_2025",
        "commune_code": commune,
        "sectors": [sector],
        "employees": 20,
    } | extra


async def certify(reg: httpx.AsyncClient, establishment_id: str, product: str, chain: list[tuple[str, str]]) -> None:
    """A typical product certified level by level (each level needs a valid one below it)."""
    for level, decided in chain:
        await ok(
            reg.post(
                f"/establishments/{establishment_id}/recognitions",
                json={
                    "scheme": "san_pham_cnnt_tieu_bieu",
                    "product_name": product,
                    "level": level,
                    "decision_number": f"{decided[:4]}-{level}/QĐ",
                    "decision_date": decided,
                    "issuer": f"Hội đồng bình chọn cấp {level}",
                },
            )
        )


def de_an_body(code: str, level: str, year: int, beneficiary: str, contents: list[str], line: dict[str, Any]) -> Any:
    return {
        "code": code,
        "title": f"Đề án {code}",
        "level": level,
        "de_an_type": "kcdp" if level == "dia_phuong" else "kcqg_thu_huong",
        "plan_year": year,
        "implementing_unit": "Trung tâm Khuyến công",
        "activity_contents": contents,
        "beneficiary_ids": [beneficiary],
        "budget_lines": [line],
    }


MACHINE = {
    "cost_item": COST_ITEM,
    "support_item": "may_moc_thiet_bi",
    "total_cost_vnd": 600_000_000,
    "support_requested_vnd": SUPPORT,
    "counterpart_vnd": 400_000_000,
}


async def test_the_programme_across_levels_as_one_story(make_settings: SettingsFactory) -> None:
    started = time.monotonic()
    settings = {
        ("bo", "appraisal"): make_settings("appraisal", instance="bo", peers=PROVINCES),
        ("bo", "planning"): make_settings("planning", instance="bo", peers=PROVINCES),
    }
    for instance in PROVINCES:
        for service in ("registry", "appraisal", "planning"):
            settings[(instance, service)] = make_settings(service, instance=instance, peers=["bo"])
    factories = {"registry": registry_app, "appraisal": appraisal_app, "planning": planning_app}
    nc = await nats.connect(settings[("bo", "planning")].nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("bo", *PROVINCES)))
    await nc.close()
    apps = {key: factories[key[1]](s) for key, s in settings.items()}
    http = Http()
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: [app.state.runtime.close() for app in apps.values()])  # after uvicorn stops
        url = {key: stack.enter_context(served(app, name=f"{key[0]}/{key[1]}")) for key, app in apps.items()}
        await eventually(lambda: all(app.state.runtime.bus_started for app in apps.values()), timeout=60)

        def as_(instance: str, service: str, role: str, **claims: Any) -> httpx.AsyncClient:
            return http(url[(instance, service)], bearer(settings[(instance, service)], role, **claims))

        try:
            await story(as_, settings, url, http)
        finally:
            await http.close()
    print(f"\nthe programme across levels: {time.monotonic() - started:.1f} s")


async def story(
    as_: Callable[..., httpx.AsyncClient],
    settings: dict[tuple[str, str], Settings],
    url: dict[tuple[str, str], str],
    http: Http,
) -> None:
    # ==== 1. registration: communes → the Sở → the Cục, by 20/6 of the year before =========================
    cuc_plan = as_("bo", "planning", "cuc", name="Trần Thị Cục")
    so_na_plan = as_("tinh-40", "planning", "so_ct", name="Nguyễn Văn Sở")
    so_hp_plan = as_("tinh-31", "planning", "so_ct", name="Sở Hải Phòng")
    await ok(
        cuc_plan.put(
            "/calendars/quoc_gia/2023",
            json={
                "registration_deadline": "2022-06-20",
                "dossier_deadline": "2022-09-30",
                "legal_basis": "Cục Công Thương địa phương: hướng dẫn xây dựng kế hoạch KCQG năm 2023",
            },
        )
    )

    async def the_cuc_calendar_reached(so: httpx.AsyncClient) -> bool:
        found = (await so.get("/deadlines/quoc_gia/2023")).json()["deadlines"]
        return bool(found["registration_deadline"]["source"].startswith("calendar:quoc_gia:bo:2023"))

    await soon(lambda: the_cuc_calendar_reached(so_na_plan))
    await soon(lambda: the_cuc_calendar_reached(so_hp_plan))

    xa_thong_thu = as_("tinh-40", "planning", "xa", name="Cán bộ UBND xã Thông Thụ")
    xa_dien_kim = as_("tinh-40", "planning", "xa", name="Cán bộ UBND xã Diễn Kim")
    xa_hp = as_("tinh-31", "planning", "xa", name="Cán bộ UBND xã Hải Phòng")

    def registration(registrant: str, filed_on: str, *items: dict[str, Any]) -> dict[str, Any]:
        return {"level": "quoc_gia", "year": 2023, "registrant": registrant, "filed_on": filed_on, "items": list(items)}

    tea = await ok(
        xa_thong_thu.post(
            "/registrations",
            json=registration(
                "UBND xã Thông Thụ",
                "2022-05-10",
                proposal("Hỗ trợ máy sấy chè cho cơ sở chế biến chè Thông Thụ", SUPPORT, "16741", "3"),
            ),
        )
    )
    weaving = await ok(
        xa_dien_kim.post(
            "/registrations",
            json=registration(
                "UBND xã Diễn Kim", "2022-05-12", proposal("Đào tạo nghề mây tre đan", 60_000_000, "17431", "1")
            ),
        )
    )
    casting = await ok(
        xa_hp.post(
            "/registrations",
            json=registration(
                "UBND xã Hòa Bình", "2022-05-15", proposal("Mô hình trình diễn đúc gang", 700_000_000, "11770", "3")
            ),
        )
    )
    listed = (await so_na_plan.get("/registrations", params={"year": 2023, "level": "quoc_gia"})).json()
    assert listed["total"] == 2
    assert {r["registrant"] for r in listed["items"]} == {"UBND xã Thông Thụ", "UBND xã Diễn Kim"}
    # the commune may not decide on its own registration
    await refused(xa_thong_thu.post(f"/registrations/{tea['id']}/accept", json={"on": "2022-06-01"}), 403)
    accepted = await ok(so_na_plan.post(f"/registrations/{tea['id']}/accept", json={"on": "2022-06-01"}))
    assert accepted["status"] == "da_chap_nhan"
    no_reason = await refused(
        so_na_plan.post(f"/registrations/{weaving['id']}/return", json={"on": "2022-06-01", "reason": " "}), 422
    )
    assert no_reason["errors"][0]["field"] == "reason"
    returned = await ok(
        so_na_plan.post(
            f"/registrations/{weaving['id']}/return",
            json={"on": "2022-06-01", "reason": "Nội dung trùng đề án địa phương năm 2022"},
        )
    )
    assert (returned["status"], returned["decision"]["reason"]) == (
        "tra_lai",
        "Nội dung trùng đề án địa phương năm 2022",
    )
    await ok(so_hp_plan.post(f"/registrations/{casting['id']}/accept", json={"on": "2022-06-02"}))

    # a day late without the Cục's extension: refused; on time: the registration is sent
    late = await refused(so_na_plan.post("/national-registrations", json={"year": 2023, "filed_on": "2022-06-21"}), 422)
    assert late["errors"][0]["field"] == "filed_on"
    filed_na = (await ok(so_na_plan.post("/national-registrations", json={"year": 2023, "filed_on": "2022-06-17"})))[
        "latest"
    ]
    assert (filed_na["on_time"], filed_na["total_support_vnd"]) == (True, SUPPORT)
    assert [p["title"] for p in filed_na["proposals"]] == ["Hỗ trợ máy sấy chè cho cơ sở chế biến chè Thông Thụ"]
    filed_hp = (await ok(so_hp_plan.post("/national-registrations", json={"year": 2023, "filed_on": "2022-06-20"})))[
        "latest"
    ]
    assert (filed_hp["on_time"], filed_hp["total_support_vnd"]) == (True, 700_000_000)

    async def both_filings_at_the_cuc() -> bool:
        got = (await cuc_plan.get("/national-registrations", params={"year": 2023})).json()
        return len(got["filings"]) == 2

    await soon(both_filings_at_the_cuc)
    at_cuc = (await cuc_plan.get("/national-registrations", params={"year": 2023})).json()
    filings = {f["province_code"]: f for f in at_cuc["filings"]}
    assert (filings["40"]["filed_on"], filings["40"]["on_time"], filings["40"]["total_support_vnd"]) == (
        "2022-06-17",
        True,
        SUPPORT,
    )
    assert [p["title"] for p in filings["40"]["proposals"]] == [filed_na["proposals"][0]["title"]]
    assert (filings["31"]["filed_on"], filings["31"]["total_support_vnd"]) == ("2022-06-20", 700_000_000)
    by_province = {r["province_now"]: r for r in at_cuc["summary"]["by_province_now"]}
    assert (by_province["40"]["proposals"], by_province["40"]["support_vnd"]) == (1, SUPPORT)
    assert (by_province["31"]["proposals"], by_province["31"]["support_vnd"]) == (1, 700_000_000)
    registered = (await ok(cuc_plan.get("/views/national", params={"year": 2023})))["registrations"]
    assert registered["totals"][0]["support_vnd"] == SUPPORT + 700_000_000

    # ==== 2. a council of three signs in; one declares a conflict and cannot vote ============================
    so_na_reg = as_("tinh-40", "registry", "so_ct", name="Nguyễn Văn Sở")
    so_hp_reg = as_("tinh-31", "registry", "so_ct", name="Sở Hải Phòng")
    so_na = as_("tinh-40", "appraisal", "so_ct", name="Nguyễn Văn Sở")
    unit_na = as_("tinh-40", "appraisal", "don_vi", name="Trung tâm KC Nghệ An", unit="trung-tam-khuyen-cong-nghe-an")
    cuc = as_("bo", "appraisal", "cuc", name="Trần Thị Cục")
    minister = as_("bo", "appraisal", "lanh_dao_bo", name="Bộ trưởng")
    minister_plan = as_("bo", "planning", "lanh_dao_bo", name="Bộ trưởng")

    tea_house = await ok(
        so_na_reg.post(
            "/establishments",
            json=establishment("Cơ sở chế biến chè Thông Thụ", "0100112437", "16741", "che_bien_nong_lam_thuy_san"),
        )
    )

    drafted = await ok(
        unit_na.post("/de-an", json=de_an_body("KCQG-2023-40-01", "quoc_gia", 2023, tea_house["id"], ["3"], MACHINE))
    )
    de_an, record = f"/de-an/{drafted['id']}", f"/national-de-an/tinh-40/{drafted['id']}"

    async def submitted() -> bool:  # until the beneficiary reaches appraisal over the bus, it is unknown there
        response = await unit_na.post(f"{de_an}/submit", json={"submitted_on": "2022-09-25"})
        return response.status_code == 200

    await soon(submitted)

    for subject, name, title in MEMBERS:
        await ok(
            so_na.post("/roster", json={"subject": subject, "name": name, "title": title, "organisation": "Sở CT"})
        )
    council = await ok(
        so_na.post(
            "/councils",
            json={
                "name": "Hội đồng thẩm định đề án khuyến công quốc gia năm 2023",
                "decision_number": "215/QĐ-SCT",
                "decided_on": "2022-09-28",
                "signer": "Giám đốc Sở Công Thương Nghệ An",
                "chair": MEMBERS[0][0],
                "secretary": MEMBERS[1][0],
                "members": [MEMBERS[2][0]],
                "de_an_ids": [drafted["id"]],
            },
        )
    )
    council_url = f"/councils/{council['id']}"
    members_settings = settings[("tinh-40", "appraisal")]
    chair, secretary, third = (
        http(url[("tinh-40", "appraisal")], council_member(members_settings, subject, name))
        for subject, name, _ in MEMBERS
    )
    for member, role in ((chair, "chu_tich"), (secretary, "thu_ky"), (third, "uy_vien")):
        mine = (await ok(member.get("/councils")))["items"]
        assert [(k["id"], k["viewer"]["role"]) for k in mine] == [(council["id"], role)]
    for member in (chair, secretary):
        await ok(
            member.post(
                f"{council_url}/declarations",
                json={"de_an_id": drafted["id"], "conflict": False, "signed_on": "2022-10-03"},
            )
        )
    await ok(
        third.post(
            f"{council_url}/declarations",
            json={
                "de_an_id": drafted["id"],
                "conflict": True,
                "signed_on": "2022-10-03",
                "note": "Là người thân của chủ cơ sở thụ hưởng",
            },
        )
    )
    # this council has no scoresheet (đề án are not scored; typical products are): a score is refused
    scored = await refused(
        chair.post(
            f"{council_url}/opinions",
            json={"de_an_id": drafted["id"], "conclusion": "dong_y", "given_on": "2022-10-04", "score": 80},
        ),
        422,
    )
    assert scored["errors"][0]["field"] == "score" and "không chấm điểm" in scored["errors"][0]["message"]
    await ok(
        chair.post(
            f"{council_url}/opinions",
            json={"de_an_id": drafted["id"], "conclusion": "dong_y", "given_on": "2022-10-04", "comment": "Cần thiết"},
        )
    )
    await ok(
        secretary.post(
            f"{council_url}/opinions",
            json={"de_an_id": drafted["id"], "conclusion": "dong_y", "given_on": "2022-10-04"},
        )
    )
    conflict = await refused(
        third.post(
            f"{council_url}/opinions",
            json={"de_an_id": drafted["id"], "conclusion": "khong_dong_y", "given_on": "2022-10-04"},
        ),
        403,
    )
    assert conflict["code"] == "conflict_of_interest"
    assert conflict["detail"].startswith(
        "Lê Văn Ủy đã khai có xung đột lợi ích với đề án KCQG-2023-40-01 nên không được cho ý kiến"
    ), conflict
    minuted = await ok(
        secretary.post(
            f"{council_url}/minutes", json={"de_an_id": drafted["id"], "number": "01/BB-HĐTĐ", "held_on": "2022-10-05"}
        )
    )
    minutes = next(d for d in minuted["de_an"] if d["id"] == drafted["id"])["minutes"]
    assert minutes["result"] == {
        "votes": 2,
        "counts": {"dong_y": 2, "dong_y_co_chinh_sua": 0, "khong_dong_y": 0},
        "passed": True,
        "conclusion": "dong_y",
    }
    appraisal = {"conclusion": "dong_y", "recommended_support_vnd": SUPPORT}
    appraised = await ok(
        so_na.post(
            f"{de_an}/base-appraisal",
            json=appraisal | {"mode": "hoi_dong", "appraised_on": "2022-10-06", "council_id": council["id"]},
        )
    )
    assert [(m["name"], m["opinion"], m["conflict_declared"]) for m in appraised["appraisals"][-1]["members"]] == [
        ("Nguyễn Văn Chủ", "dong_y", False),
        ("Trần Thị Ký", "dong_y", False),
        ("Lê Văn Ủy", None, True),
    ]

    # ==== 3. the ministry decides on its own instance: appraisal, the Minister's plan, the Cục's contract ======
    await ok(so_na.post(f"{de_an}/forward", json={"on": "2022-10-10"}))
    await soon(lambda: status_is(cuc, record, "da_gui_bo"))
    await refused(
        so_na.post(f"{de_an}/ministry-appraisal", json=appraisal | {"mode": "can_bo", "appraised_on": "2022-11-20"}),
        403,
    )
    await ok(
        cuc.post(f"{record}/ministry-appraisal", json=appraisal | {"mode": "can_bo", "appraised_on": "2022-11-20"})
    )
    await soon(lambda: status_is(so_na, de_an, "dat_cap_bo"))
    await ok(so_na.post(f"{de_an}/propose", json={"on": "2022-11-25"}))

    async def in_the_national_plan() -> bool:
        response = await cuc_plan.get("/plans/quoc_gia/2023")
        return response.status_code == 200 and drafted["id"] in response.json()["lines"]

    await soon(in_the_national_plan)
    await ok(
        minister_plan.post(
            "/plans/quoc_gia/2023/approvals",
            json={"decision_number": "2905/QĐ-BCT", "decision_date": "2022-12-28", "signer": "Bộ trưởng"},
        )
    )
    await soon(lambda: status_is(so_na, de_an, "da_phe_duyet"))
    await soon(lambda: status_is(cuc, record, "da_phe_duyet"))
    contract = {"contract_number": "07/2023/HĐ-KCQG", "signed_on": "2023-02-01", "contracted_support_vnd": SUPPORT}
    by_so = await refused(so_na.post(f"{de_an}/contract", json=contract), 403)
    assert by_so["required_authority"] == "cuc" and "Cục Công Thương địa phương" in by_so["detail"]
    await ok(cuc.post(f"{record}/contract", json=contract))
    await soon(lambda: status_is(so_na, de_an, "da_ky_hop_dong"))
    seen = await ok(so_na.get(de_an))
    assert seen["contract"]["contract_number"] == "07/2023/HĐ-KCQG"
    assert (await ok(so_na.get(f"{de_an}/timeline")))[-1]["actor"] == "Trần Thị Cục (cuc@bo)"

    # ==== 4. a Minister-approved increase: the plan line and the national view =============================
    async def nothing_awaited() -> bool:
        return bool((await ok(cuc.get(record)))["awaiting"] is None)

    await soon(nothing_awaited)
    increase = {"change_type": "tang_kinh_phi", "description": "Giá máy sấy tăng", "requested_on": "2023-04-01"}
    # machinery: 50 % of 600 million, at most 300 million per establishment (TT 28/2018, assumed)
    above = await refused(
        unit_na.post(f"{de_an}/adjustments", json=increase | {"changes": {"support_vnd": 300_000_001}}), 422
    )
    assert above["errors"][0]["field"] == "changes.support_vnd" and "300.000.000" in above["detail"], above
    await ok(
        unit_na.post(
            f"{de_an}/adjustments",
            json={
                "change_type": "tang_kinh_phi",
                "description": "Giá máy sấy tăng",
                "changes": {"support_vnd": RAISED},
                "requested_on": "2023-04-01",
            },
        )
    )

    async def pending_at_the_ministry() -> bool:
        return bool((await ok(cuc.get(record)))["required_authority"] == "bo_truong")

    await soon(pending_at_the_ministry)
    decision = {"approved": True, "decision_number": "1234/QĐ-BCT", "decided_on": "2023-04-10"}
    by_cuc = await refused(cuc.post(f"{record}/adjustments/decision", json=decision), 403)
    assert "Bộ trưởng Bộ Công Thương" in by_cuc["detail"]
    await ok(minister.post(f"{record}/adjustments/decision", json=decision))

    async def plan_line_raised() -> bool:
        plan = (await ok(cuc_plan.get("/plans/quoc_gia/2023")))["lines"][drafted["id"]]
        return bool(plan["approved_support_vnd"] == RAISED)

    await soon(plan_line_raised)
    plan = await ok(cuc_plan.get("/plans/quoc_gia/2023"))
    assert plan["approved_total_vnd"] == RAISED
    assert (plan["amendments"][-1]["decision_number"], plan["amendments"][-1]["signer"]) == (
        "1234/QĐ-BCT",
        "Bộ trưởng Bộ Công Thương",
    )

    async def national_view_raised() -> bool:
        national = await ok(cuc_plan.get("/views/national", params={"year": 2023}))
        return bool(national["totals"][0]["quoc_gia"] == RAISED)

    await soon(national_view_raised)
    so_na_view = await ok(so_na_plan.get("/views/province", params={"year": 2023}))
    assert so_na_view["totals"][0]["quoc_gia"] == RAISED
    bus = await nats.connect(settings[("bo", "planning")].nats_url)
    try:
        amended = json.loads(
            (await bus.jetstream().get_last_msg("KC_BO", "kc.bo.planning.plan.amended.v1")).data or b""
        )
    finally:
        await bus.close()
    assert [(li["code"], li["approved_support_vnd"]) for li in amended["data"]["changes"]] == [
        ("KCQG-2023-40-01", RAISED)
    ]
    assert (amended["data"]["decision_number"], amended["data"]["total_support_vnd"]) == ("1234/QĐ-BCT", RAISED)
    await soon(lambda: status_is(so_na, de_an, "da_ky_hop_dong"))
    assert (await ok(so_na.get(de_an)))["approval"]["approved_support_vnd"] == RAISED

    # ==== 5. implementation, acceptance, the Cục settles on bo, the province and the registry see it ==========
    await soon(nothing_awaited)
    await ok(unit_na.post(f"{de_an}/progress", json={"month": "2023-05", "percent": 70}))
    at_70 = await refused(
        unit_na.post(f"{de_an}/advances", json={"amount_vnd": 150_000_000, "paid_on": "2023-05-30"}), 422
    )
    assert "70" in at_70["detail"], at_70
    await ok(unit_na.post(f"{de_an}/progress", json={"month": "2023-06", "percent": 80}))
    # another implementing unit of the province does not act on this unit's đề án
    other_unit = as_("tinh-40", "appraisal", "don_vi", name="Công ty tư vấn A", unit="cong-ty-tu-van-a")
    await refused(other_unit.post(f"{de_an}/advances", json={"amount_vnd": 1, "paid_on": "2023-06-28"}), 404)
    await ok(unit_na.post(f"{de_an}/advances", json={"amount_vnd": 150_000_000, "paid_on": "2023-06-28"}))
    await ok(unit_na.post(f"{de_an}/complete", json={"on": "2023-10-30"}))
    unknown = await refused(
        so_na.post(f"{de_an}/acceptance", json={"accepted_on": "2023-11-15", "outputs": {"hoc_vien": 10}}), 422
    )
    assert unknown["errors"][0]["field"] == "outputs.hoc_vien"
    await ok(
        so_na.post(
            f"{de_an}/acceptance",
            json={"accepted_on": "2023-11-15", "outputs": {"may_moc": 1}, "accepted_support_vnd": ACCEPTED},
        )
    )
    await soon(lambda: status_is(cuc, record, "da_nghiem_thu"))
    settlement = {"settled_on": "2023-12-20", "dossier_on": "2023-11-25", "settled_support_vnd": ACCEPTED}
    await refused(so_na.post(f"{de_an}/settlement", json=settlement), 403)
    await ok(cuc.post(f"{record}/settlement", json=settlement))
    await soon(lambda: status_is(so_na, de_an, "da_quyet_toan"))
    assert (await ok(so_na.get(de_an)))["settlement"]["settled_support_vnd"] == ACCEPTED
    # every decision of 2022–2023 recorded the rules in force on its date (no 2024 circular, no 2025 decree)
    applied = {v for e in await ok(so_na.get(f"{de_an}/timeline")) for v in e["rule_versions"]}
    assert applied == {
        "calendar@planning:bo:2023@1",
        "ceiling.quoc_gia@TT28/2018",
        "priority@ND45/2012-Dieu6",
        "council@TT36/2013-Dieu8",
        "adjustment.authority@TT36/2013-Dieu11",
        "advance@TT36/2013",
        "results@ND45/2012-Dieu4+TT36/2013-Dieu14",
        "settlement@TT36/2013-quyet-toan",
    }

    async def support_recorded() -> bool:
        return bool(await ok(so_na_reg.get(f"/establishments/{tea_house['id']}/support")))

    await soon(support_recorded)
    support = await ok(so_na_reg.get(f"/establishments/{tea_house['id']}/support"))
    assert [(s["cost_item"], s["amount_vnd"], s["funding_source"], s["reference"]) for s in support] == [
        (COST_ITEM, ACCEPTED, "quoc_gia", "KCQG-2023-40-01")
    ]

    async def national_view_settled() -> bool:
        row = (await ok(cuc_plan.get("/views/national", params={"year": 2023})))["totals"][0]
        return bool(row["settled_vnd"] == ACCEPTED)

    await soon(national_view_settled)
    row = (await ok(cuc_plan.get("/views/national", params={"year": 2023})))["totals"][0]
    assert (row["quoc_gia"], row["advanced_vnd"], row["accepted_vnd"], row["settled_vnd"]) == (
        RAISED,
        150_000_000,
        ACCEPTED,
        ACCEPTED,
    )

    # ==== 6. a second funding of the settled cost item for the same establishment is refused ===============
    await ok(
        so_na_plan.put(
            "/calendars/dia_phuong/2025",
            json={
                "registration_deadline": "2024-07-15",
                "dossier_deadline": "2024-10-30",
                "legal_basis": "Sở CT Nghệ An",
            },
        )
    )
    again = await ok(
        unit_na.post("/de-an", json=de_an_body("KCĐP-40-2025-03", "dia_phuong", 2025, tea_house["id"], ["3"], MACHINE))
    )

    async def refused_for_double_funding() -> bool:
        # until the Sở's 2025 calendar reaches appraisal the refusal is about the calendar
        response = await unit_na.post(f"/de-an/{again['id']}/submit", json={"submitted_on": "2024-10-15"})
        assert response.status_code == 422, response.text
        return bool(response.json()["errors"][0]["field"] == "budget_lines")

    await soon(refused_for_double_funding)
    second = await refused(unit_na.post(f"/de-an/{again['id']}/submit", json={"submitted_on": "2024-10-15"}), 422)
    assert "đã được hỗ trợ hạng mục 'Máy sấy chè'" in second["detail"], second
    assert (await ok(unit_na.get(f"/de-an/{again['id']}")))["status"] == "du_thao"

    # ==== 7. Hải Phòng's local year and both registries' recognitions; the indicators 2021–2023 =============
    so_hp = as_("tinh-31", "appraisal", "so_ct", name="Sở Hải Phòng")
    ubnd_hp = as_("tinh-31", "appraisal", "ubnd_tinh", name="UBND thành phố Hải Phòng")
    foundry = await ok(
        so_hp_reg.post(
            "/establishments",
            json=establishment(
                "Công ty TNHH Cơ khí Đúc Thành Phương",
                "0200456784",
                "11770",
                "co_khi_che_tao",
                legal_form="doanh_nghiep_nho_va_vua",
                employees=45,
                revenue_vnd=30_000_000_000,
            ),
        )
    )
    training_line = {
        "cost_item": "Lớp đào tạo nghề đúc",
        "support_item": "dao_tao_nghe",
        "total_cost_vnd": 90_000_000,
        "support_requested_vnd": 90_000_000,
    }
    local = await ok(
        so_hp.post(
            "/de-an", json=de_an_body("KCĐP-31-2023-11", "dia_phuong", 2023, foundry["id"], ["1"], training_line)
        )
    )
    local_url = f"/de-an/{local['id']}"

    async def local_submitted() -> bool:
        response = await so_hp.post(f"{local_url}/submit", json={"submitted_on": "2022-10-20"})
        return response.status_code == 200

    await soon(local_submitted)
    local_appraisal = {"mode": "can_bo", "conclusion": "dong_y", "recommended_support_vnd": 90_000_000}
    for who, action, body in (
        (so_hp, "base-appraisal", local_appraisal | {"appraised_on": "2022-11-05"}),
        (so_hp, "propose", {"on": "2022-11-25"}),
        (
            ubnd_hp,
            "approve",
            {"plan_decision": "3050/QĐ-UBND", "decided_on": "2022-12-20", "approved_support_vnd": 90_000_000},
        ),
        (
            so_hp,
            "contract",
            {"contract_number": "11/2023/HĐ-KCĐP", "signed_on": "2023-02-01", "contracted_support_vnd": 90_000_000},
        ),
        (so_hp, "progress", {"month": "2023-09", "percent": 100}),
        (so_hp, "complete", {"on": "2023-10-01"}),
        (
            so_hp,
            "acceptance",
            {"accepted_on": "2023-10-15", "outputs": {"hoc_vien": 30, "hoc_vien_co_viec_lam": 28, "lop_dao_tao": 1}},
        ),
    ):
        await ok(who.post(f"{local_url}/{action}", json=body))

    # recognitions: Nghệ An's tea regional (2022) then national (2023); Hải Phòng's cast-iron pot regional
    # (2023) and a pan regional only in 2024 (outside the range); district and provincial ones never count
    await certify(
        so_na_reg,
        tea_house["id"],
        "Chè xanh Thông Thụ",
        [("huyen", "2021-09-15"), ("tinh", "2021-11-20"), ("khu_vuc", "2022-10-10"), ("quoc_gia", "2023-10-20")],
    )
    await certify(
        so_hp_reg,
        foundry["id"],
        "Nồi gang đúc",
        [("huyen", "2022-08-01"), ("tinh", "2022-12-01"), ("khu_vuc", "2023-09-09")],
    )
    await certify(
        so_hp_reg,
        foundry["id"],
        "Chảo gang",
        [("huyen", "2023-03-01"), ("tinh", "2023-08-01"), ("khu_vuc", "2024-05-05")],
    )

    async def indicators() -> dict[str, Any]:
        got = await ok(cuc_plan.get("/views/indicators", params={"year_from": 2021, "year_to": 2023}))
        return dict(got)

    async def all_arrived() -> bool:
        by = {p["province"]: p for p in (await indicators())["by_province"]}
        return bool(
            by.get("40", {}).get("de_an_nghiem_thu") == 1
            and by.get("31", {}).get("de_an_nghiem_thu") == 1
            and by["40"]["values"]["san_pham_quoc_gia"] == 1
            and by["31"]["values"]["san_pham_khu_vuc"] == 1
        )

    await soon(all_arrived)
    view = await indicators()
    by = {p["province"]: p for p in view["by_province"]}
    assert (by["40"]["province_name"], by["31"]["province_name"]) == ("Tỉnh Nghệ An", "Thành phố Hải Phòng")
    counted = ("hoc_vien", "hoc_vien_co_viec_lam", "lop_dao_tao", "may_moc", "co_so_duoc_ho_tro")
    products = ("san_pham_khu_vuc", "san_pham_quoc_gia")
    assert {k: by["40"]["values"][k] for k in counted + products} == {
        "hoc_vien": 0,
        "hoc_vien_co_viec_lam": 0,
        "lop_dao_tao": 0,
        "may_moc": 1,
        "co_so_duoc_ho_tro": 1,
        "san_pham_khu_vuc": 1,
        "san_pham_quoc_gia": 1,
    }
    assert {k: by["31"]["values"][k] for k in counted + products} == {
        "hoc_vien": 30,
        "hoc_vien_co_viec_lam": 28,
        "lop_dao_tao": 1,
        "may_moc": 0,
        "co_so_duoc_ho_tro": 1,
        "san_pham_khu_vuc": 1,
        "san_pham_quoc_gia": 0,
    }
    assert by["31"]["ty_le_co_viec_lam_pct"] == 93.3
    totals = view["totals"]["values"]
    assert {k: totals[k] for k in counted + products} == {
        "hoc_vien": 30,
        "hoc_vien_co_viec_lam": 28,
        "lop_dao_tao": 1,
        "may_moc": 1,
        "co_so_duoc_ho_tro": 2,
        "san_pham_khu_vuc": 2,
        "san_pham_quoc_gia": 1,
    }
    national = await ok(cuc_plan.get("/views/national", params={"year_from": 2021, "year_to": 2023}))
    assert national["indicators"]["values"] == totals
