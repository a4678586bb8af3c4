"""Issue 15 item 6: the ministry's indicators for a range of years, per province, add up from what the
provinces recorded — on one real nats-server, events only between services.

Two provinces (Nghệ An tinh-40, Hải Phòng tinh-31) each run their registry and appraisal; the ministry
(bo) runs planning, reading both. The registries record typical-product certificates (a chain from the
district level up: only the regional and national ones count, by the year of their decision); the
appraisals take đề án through to acceptance, with results typed per activity content (an unknown key
refused, naming the field). ``GET /views/indicators?year_from=2021&year_to=2023`` at the ministry then
shows per province: the typed results of the accepted đề án of 2021–2023, the establishments they
supported counted distinct from their beneficiaries (one establishment in two đề án counts once), and
the regional and national products counted from the certificates — a 2024 đề án and a 2024 certificate
left out.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import nats
from kc_appraisal.main import create_app as appraisal_app
from kc_planning.main import create_app as planning_app
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, bearer, eventually


def client(app: Any, role: str = "so_ct") -> httpx.AsyncClient:
    settings = app.state.runtime.settings
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc", headers=bearer(settings, role), timeout=30
    )


async def certify(reg: httpx.AsyncClient, establishment: str, product: str, chain: list[tuple[str, str]]) -> None:
    """A typical product certified level by level (each level needs a valid one below)."""
    for level, decided in chain:
        recorded = await reg.post(
            f"/establishments/{establishment}/recognitions",
            json={
                "scheme": "san_pham_cnnt_tieu_bieu",
                "product_name": product,
                "level": level,
                "decision_number": f"{decided[:4]}-{level}/QĐ",
                "decision_date": decided,
                "issuer": f"Hội đồng bình chọn cấp {level}",
            },
        )
        assert recorded.status_code == 201, recorded.text


async def to_acceptance(
    apr: dict[str, Any], details: dict[str, Any], submitted_on: str, outputs: dict[str, int]
) -> str:
    """A đề án from draft to acceptance through the appraisal's HTTP API, as the roles would."""
    so = apr["so_ct"]
    drafted = await so.post("/de-an", json=details)
    assert drafted.status_code == 201, drafted.text
    url = f"/de-an/{drafted.json()['id']}"
    year = details["plan_year"]
    support = details["budget_lines"][0]["support_requested_vnd"]
    appraisal = {"mode": "can_bo", "conclusion": "dong_y", "recommended_support_vnd": support}
    steps: list[tuple[httpx.AsyncClient, str, dict[str, Any]]] = [
        (so, "submit", {"submitted_on": submitted_on}),
        (so, "base-appraisal", appraisal | {"appraised_on": f"{year - 1}-11-05"}),
    ]
    national = details["level"] == "quoc_gia"
    # on a national đề án the Cục decides on the ministry's instance (its record of the province's đề án);
    # the province receives the decision as an event
    record = f"/national-de-an/{apr['instance']}/{drafted.json()['id']}"
    contract = {"contract_number": f"HĐ-{year}", "signed_on": f"{year}-02-01", "contracted_support_vnd": support}
    if national:
        steps.append((so, "forward", {"on": f"{year - 1}-11-06"}))
    steps += [
        (apr["bo"], "ministry-appraisal", appraisal | {"appraised_on": f"{year - 1}-11-20"}),
        (so, "propose", {"on": f"{year - 1}-11-25"}),
        (
            apr["ubnd_tinh"],
            "approve",
            {"plan_decision": f"{year}/QĐ", "decided_on": f"{year - 1}-12-20", "approved_support_vnd": support},
        ),
        (apr["bo"] if national else so, "contract", contract),
        (so, "progress", {"month": f"{year}-09", "percent": 100}),
        (so, "complete", {"on": f"{year}-10-01"}),
    ]
    leads_to = {"forward": "da_gui_bo", "ministry-appraisal": "dat_cap_bo", "approve": "da_phe_duyet"}
    previous = ""
    for who, action, body in steps:
        if who is not apr["bo"]:
            done = await who.post(f"{url}/{action}", json=body)
            assert done.status_code == 200, (action, done.text)
        elif national:  # the ministry's record knows the step before, then the province learns the decision
            await eventually(lambda status=leads_to[previous]: _status_is(apr["bo"], record, status))
            done = await who.post(f"{record}/{action}", json=body)
            assert done.status_code == 200, (action, done.text)
            decided = str(done.json()["status"])
            await eventually(lambda status=decided: _status_is(so, url, status))
        previous = action
    unknown = await so.post(f"{url}/acceptance", json={"accepted_on": f"{year}-10-15", "outputs": {"co_so": 3}})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "outputs.co_so"
    accepted = await so.post(f"{url}/acceptance", json={"accepted_on": f"{year}-10-15", "outputs": outputs})
    assert accepted.status_code == 200, accepted.text
    return str(drafted.json()["id"])


async def _status_is(http: httpx.AsyncClient, url: str, status: str) -> bool:
    return bool((await http.get(url)).json()["status"] == status)


def training(code: str, year: int, level: str, beneficiary: str, contents: list[str]) -> dict[str, Any]:
    return {
        "code": code,
        "title": f"Đề án {code}",
        "level": level,
        "de_an_type": "kcdp" if level == "dia_phuong" else "kcqg_thu_huong",
        "plan_year": year,
        "implementing_unit": "Trung tâm Khuyến công",
        "activity_contents": contents,
        "beneficiary_ids": [beneficiary],
        "budget_lines": [
            {
                "cost_item": f"Máy móc {code}",
                "support_item": "may_moc_thiet_bi",
                "total_cost_vnd": 400_000_000,
                "support_requested_vnd": 200_000_000,
                "counterpart_vnd": 200_000_000,
            }
        ],
    }


async def test_the_ministrys_indicators_for_2021_to_2023_add_up_per_province(make_settings: SettingsFactory) -> None:
    apps = {
        "reg40": registry_app(make_settings("registry", instance="tinh-40")),
        "apr40": appraisal_app(make_settings("appraisal", instance="tinh-40")),
        "reg31": registry_app(make_settings("registry", instance="tinh-31")),
        "apr31": appraisal_app(make_settings("appraisal", instance="tinh-31")),
        "bo": planning_app(make_settings("planning", instance="bo", peers=["tinh-40", "tinh-31"])),
        "bo_apr": appraisal_app(make_settings("appraisal", instance="bo", peers=["tinh-40", "tinh-31"])),
    }
    nc = await nats.connect(apps["bo"].state.runtime.settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40", "tinh-31", "bo")))
    await nc.close()
    contexts = [app.router.lifespan_context(app) for app in apps.values()]
    for context in contexts:
        await context.__aenter__()
    try:
        await eventually(lambda: all(app.state.runtime.bus_started for app in apps.values()))
        reg40, reg31 = client(apps["reg40"]), client(apps["reg31"])
        cuc = client(apps["bo_apr"], "cuc")
        apr40: dict[str, Any] = {role: client(apps["apr40"], role) for role in ("so_ct", "ubnd_tinh")}
        apr31: dict[str, Any] = {role: client(apps["apr31"], role) for role in ("so_ct", "ubnd_tinh")}
        apr40 |= {"bo": cuc, "instance": "tinh-40"}
        apr31 |= {"bo": cuc, "instance": "tinh-31"}
        bo = client(apps["bo"], "cuc")

        tre = await reg40.post(
            "/establishments",
            json={
                "name": "Hợp tác xã mây tre đan Diễn Kim",
                "tax_code": "0100109106",
                "legal_form": "hop_tac_xa",
                "unit_system": "truoc_2025",
                "commune_code": "17431",
                "sectors": ["thu_cong_my_nghe"],
                "employees": 60,
            },
        )
        duc = await reg31.post(
            "/establishments",
            json={
                "name": "Công ty TNHH Cơ khí Đúc Thành Phương",
                "tax_code": "0200456784",
                "legal_form": "doanh_nghiep_nho_va_vua",
                "unit_system": "truoc_2025",
                "commune_code": "11770",
                "sectors": ["co_khi_che_tao"],
                "employees": 45,
                "revenue_vnd": 30_000_000_000,
            },
        )
        assert tre.status_code == 201 and duc.status_code == 201, (tre.text, duc.text)
        tre_id, duc_id = tre.json()["id"], duc.json()["id"]

        # certificates: Nghệ An one regional (2022) and one national (2023); Hải Phòng one regional (2023),
        # another regional in 2024 (outside the range); the district and provincial ones never count
        await certify(
            reg40,
            tre_id,
            "Bình hoa mây tre đan",
            [("huyen", "2021-09-15"), ("tinh", "2021-11-20"), ("khu_vuc", "2022-10-10"), ("quoc_gia", "2023-10-20")],
        )
        await certify(
            reg31, duc_id, "Nồi gang đúc", [("huyen", "2022-08-01"), ("tinh", "2022-12-01"), ("khu_vuc", "2023-09-09")]
        )
        await certify(
            reg31, duc_id, "Chảo gang", [("huyen", "2023-03-01"), ("tinh", "2023-08-01"), ("khu_vuc", "2024-05-05")]
        )

        await eventually(lambda: apps["apr40"].state.beneficiaries.facts(UUID(tre_id)) is not None)
        await eventually(lambda: apps["apr31"].state.beneficiaries.facts(UUID(duc_id)) is not None)

        # Hải Phòng 2023: two local đề án for the same company (one establishment supported)
        await to_acceptance(
            apr31,
            training("KCĐP-31-2023-11", 2023, "dia_phuong", duc_id, ["1", "3"]),
            "2022-10-20",
            {"hoc_vien": 30, "hoc_vien_co_viec_lam": 28, "may_moc": 1},
        )
        await to_acceptance(
            apr31, training("KCĐP-31-2023-12", 2023, "dia_phuong", duc_id, ["3"]), "2022-10-21", {"may_moc": 1}
        )
        # Nghệ An: a national 2023 đề án; a local 2024 one (outside the range)
        await to_acceptance(
            apr40,
            training("KCQG-2023-40-01", 2023, "quoc_gia", tre_id, ["3", "4"]),
            "2022-09-25",
            {"mo_hinh": 1, "luot_hoi_cho": 12},
        )
        await to_acceptance(
            apr40,
            training("KCĐP-40-2024-21", 2024, "dia_phuong", tre_id, ["1"]),
            "2023-10-20",
            {"hoc_vien": 50, "hoc_vien_co_viec_lam": 50},
        )

        async def indicators() -> dict[str, Any]:
            got = await bo.get("/views/indicators", params={"year_from": 2021, "year_to": 2023})
            assert got.status_code == 200, got.text
            return got.json()  # type: ignore[no-any-return]

        async def arrived() -> bool:
            view = await indicators()
            by = {p["province"]: p for p in view["by_province"]}
            return (
                by.get("31", {}).get("de_an_nghiem_thu") == 2
                and by.get("40", {}).get("de_an_nghiem_thu") == 1
                and by["31"]["values"]["san_pham_khu_vuc"] == 1
                and by["40"]["values"]["san_pham_quoc_gia"] == 1
            )

        await eventually(arrived)
        view = await indicators()
        by = {p["province"]: p for p in view["by_province"]}
        assert (view["year_from"], view["year_to"]) == (2021, 2023)
        assert by["31"]["province_name"] == "Thành phố Hải Phòng"
        assert {k: by["31"]["values"][k] for k in ("hoc_vien", "hoc_vien_co_viec_lam", "may_moc", "mo_hinh")} == {
            "hoc_vien": 30,
            "hoc_vien_co_viec_lam": 28,
            "may_moc": 2,
            "mo_hinh": 0,
        }
        assert by["31"]["values"]["co_so_duoc_ho_tro"] == 1  # one company in two đề án
        assert (by["31"]["values"]["san_pham_khu_vuc"], by["31"]["values"]["san_pham_quoc_gia"]) == (1, 0)
        assert {k: by["40"]["values"][k] for k in ("hoc_vien", "mo_hinh", "luot_hoi_cho", "co_so_duoc_ho_tro")} == {
            "hoc_vien": 0,
            "mo_hinh": 1,
            "luot_hoi_cho": 12,
            "co_so_duoc_ho_tro": 1,
        }
        assert (by["40"]["values"]["san_pham_khu_vuc"], by["40"]["values"]["san_pham_quoc_gia"]) == (1, 1)
        assert by["31"]["ty_le_co_viec_lam_pct"] == 93.3
        totals = view["totals"]["values"]
        assert (totals["co_so_duoc_ho_tro"], totals["san_pham_khu_vuc"], totals["san_pham_quoc_gia"]) == (2, 2, 1)
        assert totals["hoc_vien"] == 30  # the 2024 đề án's 50 trainees are outside the range
        assert view["totals"]["labels"]["san_pham_khu_vuc"].startswith("Sản phẩm CNNT tiêu biểu cấp khu vực")

        # the national view takes the same range
        national = (await bo.get("/views/national", params={"year_from": 2021, "year_to": 2023})).json()
        assert national["indicators"]["values"] == totals
        both = await bo.get("/views/national", params={"year": 2023, "year_from": 2021})
        assert both.status_code == 422
        backwards = await bo.get("/views/indicators", params={"year_from": 2023, "year_to": 2021})
        assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "year_from"
        for c in (reg40, reg31, bo, cuc, apr40["so_ct"], apr40["ubnd_tinh"], apr31["so_ct"], apr31["ubnd_tinh"]):
            await c.aclose()
    finally:
        for context in reversed(contexts):
            await context.__aexit__(None, None, None)
