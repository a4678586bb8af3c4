"""The registration cycle across two provinces and the ministry, over HTTP on one real nats-server:
communes and units register with the Sở, the Sở accepts or returns them, extensions count only when the
authority that set the deadline recorded them, each Sở files its national registration with the Cục by
the Cục's calendar (20/6 of the year before), and the ministry sees every province's registrations by
province as recorded and as it is now."""

from __future__ import annotations

from typing import Any

import httpx
import nats
from kc_planning.main import create_app as planning_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, bearer, eventually


def client(app: Any, role: str, **claims: Any) -> httpx.AsyncClient:
    settings = app.state.runtime.settings
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{settings.instance}",
        headers=bearer(settings, role, **claims),
    )


def proposal(title: str, support: int, commune: str, content: str = "3") -> dict[str, Any]:
    return {"title": title, "content": content, "support_vnd": support, "commune_code": commune}


async def register(http: httpx.AsyncClient, level: str, registrant: str, filed_on: str, *items: Any, **kw: Any) -> Any:
    body = {"level": level, "year": 2024, "registrant": registrant, "filed_on": filed_on, "items": list(items)} | kw
    return await http.post("/registrations", json=body)


async def test_registrations_from_communes_to_the_so_to_the_cuc(make_settings: SettingsFactory) -> None:
    bo_settings = make_settings("planning", instance="bo", peers=["tinh-40", "tinh-31"])
    na_settings = make_settings("planning", instance="tinh-40", peers=["bo"])
    hp_settings = make_settings("planning", instance="tinh-31", peers=["bo"])
    nc = await nats.connect(bo_settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("bo", "tinh-40", "tinh-31")))
    await nc.close()
    bo, na, hp = planning_app(bo_settings), planning_app(na_settings), planning_app(hp_settings)
    async with bo.router.lifespan_context(bo), na.router.lifespan_context(na), hp.router.lifespan_context(hp):
        await eventually(lambda: all(a.state.runtime.bus_started for a in (bo, na, hp)))
        cuc, so_na, so_hp = client(bo, "cuc"), client(na, "so_ct"), client(hp, "so_ct")
        xa_na = client(na, "xa", name="Cán bộ UBND xã")
        trung_tam = client(na, "don_vi", unit="trung-tam-khuyen-cong-nghe-an")
        other_unit = client(na, "don_vi", unit="cong-ty-tu-van-a")

        # the Cục publishes the national calendar; the Sở its local one
        response = await cuc.put(
            "/calendars/quoc_gia/2024",
            json={
                "registration_deadline": "2023-06-20",
                "dossier_deadline": "2023-09-30",
                "legal_basis": "Cục Công Thương địa phương: hướng dẫn KCQG 2024",
            },
        )
        assert response.status_code == 200, response.text
        response = await so_na.put(
            "/calendars/dia_phuong/2024",
            json={"registration_deadline": "2023-07-15", "dossier_deadline": "2023-10-30", "legal_basis": "Sở CT"},
        )
        assert response.status_code == 200, response.text

        # the province reads the Cục's calendar from the bus: its national deadlines say where they come from
        async def national_calendar_known() -> bool:
            found = (await so_na.get("/deadlines/quoc_gia/2024")).json()["deadlines"]
            return bool(found["registration_deadline"]["source"].startswith("calendar:quoc_gia:bo:2024"))

        await eventually(national_calendar_known)
        deadlines = (await so_na.get("/deadlines/quoc_gia/2024")).json()["deadlines"]
        assert deadlines["registration_deadline"]["on"] == "2023-06-20"
        assert deadlines["registration"] == {  # units register national proposals with the Sở: TT 36/2013
            "milestone": "unit_registration_deadline",
            "on": "2023-05-20",
            "source": "calendar.national@Cuc-huong-dan-KCQG-2024",
            "authority": "tinh-40",
        }

        # communes and units register
        local = await register(
            xa_na,
            "dia_phuong",
            "UBND xã Diễn Kim",
            "2023-07-10",
            proposal("Hỗ trợ máy chẻ nan tự động", 150_000_000, "17431"),
        )
        assert local.status_code == 201, local.text
        n1 = await register(
            trung_tam,
            "quoc_gia",
            "Trung tâm Khuyến công Nghệ An",
            "2023-05-18",
            proposal("Mô hình trình diễn chế biến chè", 900_000_000, "16741"),
            proposal("Hỗ trợ máy móc cho nhóm cơ sở mây tre", 600_000_000, "17431"),
            registrant_kind="to_chuc_dich_vu",
        )
        assert n1.status_code == 201, n1.text
        assert n1.json()["details"]["unit"] == "trung-tam-khuyen-cong-nghe-an"
        n2 = await register(
            other_unit,
            "quoc_gia",
            "Công ty tư vấn A",
            "2023-05-19",
            proposal("Tư vấn thương hiệu", 80_000_000, "16741"),
        )
        assert n2.status_code == 201, n2.text

        # late: refused without a decision; a number typed by the commune is not one
        late = await register(
            xa_na,
            "quoc_gia",
            "UBND xã Thông Thụ",
            "2023-05-25",
            proposal("Đào tạo nghề chế biến chè", 60_000_000, "16741", "1"),
        )
        assert late.status_code == 422 and late.json()["errors"][0]["field"] == "filed_on", late.text
        typed = await register(
            xa_na,
            "quoc_gia",
            "UBND xã Thông Thụ",
            "2023-05-25",
            proposal("Đào tạo nghề chế biến chè", 60_000_000, "16741", "1"),
            extension="77/QĐ-SCT",
        )
        assert typed.status_code == 422 and typed.json()["errors"][0]["field"] == "extension", typed.text
        # the Sở sets the unit→Sở date, so it extends it; the Cục's national deadline is not the Sở's to extend
        extension = {
            "level": "quoc_gia",
            "year": 2024,
            "milestone": "unit_registration_deadline",
            "decision_number": "77/QĐ-SCT",
            "decision_date": "2023-05-21",
            "signer": "Giám đốc Sở Công Thương Nghệ An",
            "grantee": "UBND xã Thông Thụ",
            "new_deadline": "2023-05-31",
            "reason": "Xã đang sáp nhập",
        }
        assert (await client(na, "xa").post("/extensions", json=extension)).status_code == 403
        granted = await so_na.post("/extensions", json=extension)
        assert granted.status_code == 201, granted.text
        not_so = await so_na.post("/extensions", json=extension | {"milestone": "registration_deadline"})
        assert not_so.status_code == 403, not_so.text
        late = await register(
            xa_na,
            "quoc_gia",
            "UBND xã Thông Thụ",
            "2023-05-25",
            proposal("Đào tạo nghề chế biến chè", 60_000_000, "16741", "1"),
            extension="77/QĐ-SCT",
        )
        assert late.status_code == 201 and late.json()["on_time"] is False, late.text

        # the Sở's list and filters; a unit sees its own registrations only
        listed = (await so_na.get("/registrations", params={"year": 2024})).json()
        assert listed["total"] == 4
        national = (await so_na.get("/registrations", params={"year": 2024, "level": "quoc_gia"})).json()
        assert national["total"] == 3
        by_commune = (await so_na.get("/registrations", params={"commune_code": "17431"})).json()
        assert {r["registrant"] for r in by_commune["items"]} == {"UBND xã Diễn Kim", "Trung tâm Khuyến công Nghệ An"}
        by_unit = (await so_na.get("/registrations", params={"unit": "UBND xã Thông Thụ"})).json()
        assert by_unit["total"] == 1 and by_unit["items"][0]["extension"] == "77/QĐ-SCT"
        own = (await trung_tam.get("/registrations")).json()
        assert [r["registrant"] for r in own["items"]] == ["Trung tâm Khuyến công Nghệ An"]
        assert (await trung_tam.get(f"/registrations/{n2.json()['id']}")).status_code == 404

        # accept two, return one with the reason
        n1_id, n2_id, late_id = n1.json()["id"], n2.json()["id"], late.json()["id"]
        assert (await trung_tam.post(f"/registrations/{n1_id}/accept", json={"on": "2023-06-01"})).status_code == 403
        for rid in (n1_id, late_id):
            response = await so_na.post(f"/registrations/{rid}/accept", json={"on": "2023-06-01"})
            assert response.status_code == 200 and response.json()["status"] == "da_chap_nhan", response.text
        no_reason = await so_na.post(f"/registrations/{n2_id}/return", json={"on": "2023-06-01", "reason": " "})
        assert no_reason.status_code == 422
        returned = await so_na.post(
            f"/registrations/{n2_id}/return", json={"on": "2023-06-01", "reason": "Trùng nội dung đề án năm 2023"}
        )
        assert returned.status_code == 200 and returned.json()["decision"]["reason"] == "Trùng nội dung đề án năm 2023"
        assert (await so_na.get("/registrations", params={"status": "tra_lai"})).json()["total"] == 1

        # the provincial view: registrations by commune as recorded and as it is now
        view = (await so_na.get("/views/province", params={"year": 2024})).json()["registrations"]
        recorded = {r["commune_code"]: r for r in view["by_commune_as_recorded"]}
        assert recorded["16741"]["proposals"] == 3 and recorded["17431"]["support_vnd"] == 750_000_000
        now = {r["commune_now"]: r for r in view["by_commune_now"]}  # xã Diễn Kim is in xã Hải Châu since 7/2025
        assert (now["16744"]["proposals"], now["17419"]["support_vnd"]) == (3, 750_000_000)
        assert view["totals"][0]["support_vnd"] == 150_000_000 + 1_500_000_000 + 80_000_000 + 60_000_000

        # the Cục reads but does not file; the Sở files at its own instance, not at the ministry
        cuc_at_na = client(na, "cuc")
        assert (
            await cuc_at_na.post("/national-registrations", json={"year": 2024, "filed_on": "2023-06-19"})
        ).status_code == 403
        so_at_bo = client(bo, "so_ct", scope="tinh-40")
        assert (
            await so_at_bo.post("/national-registrations", json={"year": 2024, "filed_on": "2023-06-19"})
        ).status_code == 403

        # Nghệ An files a day late: refused until the Cục records an extension for the province
        too_late = await so_na.post("/national-registrations", json={"year": 2024, "filed_on": "2023-06-21"})
        assert too_late.status_code == 422 and too_late.json()["errors"][0]["field"] == "filed_on", too_late.text
        cuc_extension = {
            "level": "quoc_gia",
            "year": 2024,
            "milestone": "registration_deadline",
            "decision_number": "15/CCT-KC",
            "decision_date": "2023-06-19",
            "signer": "Cục trưởng Cục Công Thương địa phương",
            "grantee": "Sở Công Thương Nghệ An",
            "grantee_instance": "tinh-40",
            "new_deadline": "2023-06-25",
            "reason": "Bão số 1",
        }
        assert (await cuc.post("/extensions", json=cuc_extension)).status_code == 201

        async def extension_reached_the_province() -> bool:
            return any(e["decision_number"] == "15/CCT-KC" for e in (await so_na.get("/extensions")).json())

        await eventually(extension_reached_the_province)
        filed = await so_na.post(
            "/national-registrations", json={"year": 2024, "filed_on": "2023-06-21", "extension": "15/CCT-KC"}
        )
        assert filed.status_code == 201, filed.text
        latest = filed.json()["latest"]
        assert (latest["on_time"], latest["extension"], latest["total_support_vnd"]) == (
            False,
            "15/CCT-KC",
            1_560_000_000,
        )
        assert {p["title"] for p in latest["proposals"]} == {
            "Mô hình trình diễn chế biến chè",
            "Hỗ trợ máy móc cho nhóm cơ sở mây tre",
            "Đào tạo nghề chế biến chè",
        }

        # Hải Phòng: a unit registers, the Sở accepts and files on the deadline day
        hp_unit = client(hp, "don_vi", unit="trung-tam-khuyen-cong-hai-phong")
        hp_reg = await register(
            hp_unit,
            "quoc_gia",
            "Trung tâm Khuyến công Hải Phòng",
            "2023-05-10",
            proposal("Mô hình đúc kim loại", 700_000_000, "10507"),
            registrant_kind="to_chuc_dich_vu",
        )
        assert hp_reg.status_code == 201, hp_reg.text
        assert (
            await so_hp.post(f"/registrations/{hp_reg.json()['id']}/accept", json={"on": "2023-06-01"})
        ).status_code == 200
        hp_filed = await so_hp.post("/national-registrations", json={"year": 2024, "filed_on": "2023-06-20"})
        assert hp_filed.status_code == 201 and hp_filed.json()["latest"]["on_time"] is True, hp_filed.text

        # the ministry sees every province's registration, by province as recorded and now
        async def both_at_the_ministry() -> bool:
            got = (await cuc.get("/national-registrations", params={"year": 2024})).json()
            return len(got["filings"]) == 2

        await eventually(both_at_the_ministry)
        got = (await cuc.get("/national-registrations", params={"year": 2024})).json()
        filings = {f["province_code"]: f for f in got["filings"]}
        assert filings["40"]["extension"] == "15/CCT-KC" and len(filings["40"]["proposals"]) == 3
        assert filings["31"]["on_time"] is True and filings["31"]["total_support_vnd"] == 700_000_000
        summary = {r["province_now"]: r for r in got["summary"]["by_province_now"]}
        assert summary["40"]["proposals"] == 3 and summary["40"]["support_vnd"] == 1_560_000_000
        assert summary["31"]["registrations"] == 1
        only_na = (await cuc.get("/national-registrations", params={"year": 2024, "province_code": "40"})).json()
        assert [f["instance"] for f in only_na["filings"]] == ["tinh-40"]
        national_view = (await cuc.get("/views/national", params={"year": 2024})).json()["registrations"]
        assert national_view["totals"][0]["support_vnd"] == 2_260_000_000
        # a lanh_dao_bo reads too; a province's Sở reads nothing at the ministry it may not
        assert (await client(bo, "lanh_dao_bo").get("/national-registrations")).status_code == 200

        # a re-filing replaces the earlier list at the ministry
        refiled = await so_hp.post("/national-registrations", json={"year": 2024, "filed_on": "2023-06-20"})
        assert refiled.status_code == 201 and refiled.json()["latest"]["revision"] == 2

        async def revision_two() -> bool:
            got = (await cuc.get("/national-registrations", params={"year": 2024, "province_code": "31"})).json()
            return bool(got["filings"] and got["filings"][0]["revision"] == 2)

        await eventually(revision_two)
        for http in (cuc, so_na, so_hp, xa_na, trung_tam, other_unit, cuc_at_na, so_at_bo, hp_unit):
            await http.aclose()
