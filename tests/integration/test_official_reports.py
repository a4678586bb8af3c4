"""The reports the Sở sends up, in the forms of the circular in force (issue 15 item 9), over HTTP on a
real nats-server: Nghệ An's registry, appraisal and planning.

Two local đề án of 2024 for establishments of the registry: one taken through to settlement (contract
February, advance June, acceptance November, settlement 10/01/2025 — within the 22/01 the year's
settlement may take), one contracted in August only. The
planning service's periodic report (6 tháng, cả năm) and settlement table come as .xlsx (read back with
openpyxl) and PDF (its text read back with pypdf): the Sở's header, the form's title and number under
the circular in force, establishments and activity contents by name, dd/mm/yyyy dates, money with the
Vietnamese thousands separator, the figures as they stood on the period's last day — and no code. Bad
input is a problem+json naming the field, in Vietnamese first.
"""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import unquote
from uuid import UUID

import httpx
import nats
from kc_appraisal.main import create_app as appraisal_app
from kc_planning.main import create_app as planning_app
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, bearer, eventually
from openpyxl import load_workbook
from pypdf import PdfReader

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# what a person must never see in a report: vocabulary codes, ids, commune codes
CODES = re.compile(
    r"\b(dia_phuong|quoc_gia|da_quyet_toan|da_ky_hop_dong|may_moc_thiet_bi|dao_tao_nghe|kcdp|tinh-40)\b"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-|\b16741\b|\b17419\b"
)


def client(app: Any, role: str, **claims: Any) -> httpx.AsyncClient:
    settings = app.state.runtime.settings
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{settings.instance}",
        headers=bearer(settings, role, name="Nguyễn Văn Sở", **claims),
    )


async def ok(response: Any) -> dict[str, Any]:
    result = await response
    assert result.status_code in (200, 201), result.text
    return dict(result.json())


def draft(code: str, title: str, beneficiary: str, item: str, content: str, support: int, total: int) -> dict[str, Any]:
    return {
        "code": code,
        "title": title,
        "level": "dia_phuong",
        "de_an_type": "kcdp",
        "plan_year": 2024,
        "implementing_unit": "Trung tâm Khuyến công Nghệ An",
        "activity_contents": [content],
        "beneficiary_ids": [beneficiary],
        "budget_lines": [
            {
                "cost_item": "Máy sấy chè" if item == "may_moc_thiet_bi" else "Lớp đào tạo nghề mây tre đan",
                "support_item": item,
                "total_cost_vnd": total,
                "support_requested_vnd": support,
                "counterpart_vnd": total - support,
            }
        ],
    }


def sheet_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data))
    return "\n".join(
        " | ".join("" if v is None else str(v) for v in row)
        for s in book.worksheets
        for row in s.iter_rows(values_only=True)
    )


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


async def test_the_sos_reports_in_the_official_forms(make_settings: SettingsFactory) -> None:
    reg = registry_app(make_settings("registry", instance="tinh-40"))
    apr = appraisal_app(make_settings("appraisal", instance="tinh-40"))
    plan = planning_app(make_settings("planning", instance="tinh-40"))
    apps = [reg, apr, plan]
    nc = await nats.connect(apr.state.runtime.settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("bo", "tinh-40")))
    await nc.close()

    async with reg.router.lifespan_context(reg), apr.router.lifespan_context(apr), plan.router.lifespan_context(plan):
        await eventually(lambda: all(a.state.runtime.bus_started for a in apps))
        so_reg, so, so_plan = client(reg, "so_ct"), client(apr, "so_ct"), client(plan, "so_ct")
        ubnd = client(apr, "ubnd_tinh")
        unit = client(apr, "don_vi", unit="trung-tam-khuyen-cong-nghe-an")

        companies = []
        for name, tax_code, commune in (
            ("Cơ sở chế biến chè Thông Thụ", "0100112437", "16741"),
            ("Hợp tác xã mây tre đan Hải Châu", "0100109106", "17419"),
        ):
            companies.append(
                await ok(
                    so_reg.post(
                        "/establishments",
                        json={
                            "name": name,
                            "tax_code": tax_code,
                            "legal_form": "ho_kinh_doanh",
                            "unit_system": "truoc_2025",
                            "commune_code": commune,
                            "sectors": ["che_bien_nong_lam_thuy_san"],
                            "employees": 12,
                        },
                    )
                )
            )
        for company in companies:
            await eventually(lambda c=company: apr.state.beneficiaries.facts(UUID(c["id"])) is not None)

        machinery = await ok(
            unit.post(
                "/de-an",
                json=draft(
                    "KCĐP-40-2024-11",
                    "Hỗ trợ ứng dụng máy sấy chè tiên tiến",
                    companies[0]["id"],
                    "may_moc_thiet_bi",
                    "3",
                    200_000_000,
                    600_000_000,
                ),
            )
        )
        training = await ok(
            unit.post(
                "/de-an",
                json=draft(
                    "KCĐP-40-2024-12",
                    "Đào tạo nghề mây tre đan cho lao động nông thôn",
                    companies[1]["id"],
                    "dao_tao_nghe",
                    "1",
                    90_000_000,
                    90_000_000,
                ),
            )
        )
        for d, recommended in ((machinery, 200_000_000), (training, 90_000_000)):
            url = f"/de-an/{d['id']}"
            await ok(unit.post(f"{url}/submit", json={"submitted_on": "2023-10-20"}))
            appraisal = {"mode": "can_bo", "conclusion": "dong_y", "recommended_support_vnd": recommended}
            await ok(so.post(f"{url}/base-appraisal", json=appraisal | {"appraised_on": "2023-11-10"}))
            await ok(so.post(f"{url}/propose", json={"on": "2023-11-25"}))
            await ok(
                ubnd.post(
                    f"{url}/approve",
                    json={
                        "plan_decision": "3456/QĐ-UBND",
                        "decided_on": "2023-12-20",
                        "approved_support_vnd": recommended,
                    },
                )
            )
        url = f"/de-an/{machinery['id']}"
        for action, body in (
            (
                "contract",
                {
                    "contract_number": "12/2024/HĐ-KCĐP",
                    "signed_on": "2024-02-10",
                    "contracted_support_vnd": 200_000_000,
                },
            ),
            ("progress", {"month": "2024-06", "percent": 80}),
            ("advances", {"amount_vnd": 140_000_000, "paid_on": "2024-06-28"}),
            ("complete", {"on": "2024-10-30"}),
            ("acceptance", {"accepted_on": "2024-11-15", "outputs": {"may_moc": 1}}),
            (
                "settlement",
                {"settled_on": "2025-01-10", "dossier_on": "2024-11-28", "settled_support_vnd": 195_000_000},
            ),
        ):
            await ok(
                (unit if action in ("progress", "advances", "complete") else so).post(f"{url}/{action}", json=body)
            )
        await ok(
            so.post(
                f"/de-an/{training['id']}/contract",
                json={
                    "contract_number": "20/2024/HĐ-KCĐP",
                    "signed_on": "2024-08-01",
                    "contracted_support_vnd": 90_000_000,
                },
            )
        )

        async def view_has_everything() -> bool:
            rows = plan.state.programme.rows(year=2024)
            settled = [r for r in rows if r["settled_on"] == "2025-01-10"]
            contracted = [r for r in rows if r["contract_number"] == "20/2024/HĐ-KCĐP"]
            return len(rows) == 2 and bool(settled) and bool(contracted) and len(plan.state.establishments.names()) == 2

        await eventually(view_has_everything)

        # -- the periodic report for the whole year, as .xlsx ---------------------------------------------------
        forms = (await ok(so_plan.get("/reports")))["reports"]
        assert [f["code"] for f in forms] == ["tinh-hinh-thuc-hien", "quyet-toan"]
        year = await so_plan.get(
            "/reports/tinh-hinh-thuc-hien", params={"year": 2024, "period": "ca-nam", "format": "xlsx"}
        )
        assert year.status_code == 200, year.text
        assert year.headers["content-type"] == XLSX
        disposition = year.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == (
            "Báo cáo tình hình thực hiện kế hoạch khuyến công cả năm 2024 - Nghệ An.xlsx"
        )
        assert "report.form@TT28/2018-bao-cao" in year.headers["x-rule-versions"]
        text = sheet_text(year.content)
        for expected in (
            "ỦY BAN NHÂN DÂN TỈNH NGHỆ AN",
            "SỞ CÔNG THƯƠNG",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "BÁO CÁO TÌNH HÌNH THỰC HIỆN KẾ HOẠCH KHUYẾN CÔNG CẢ NĂM 2024",
            "Biểu số 01/BC-KC, căn cứ Thông tư số 28/2018/TT-BTC",
            "từ 01/01/2024 đến 31/12/2024",
            "KHUYẾN CÔNG ĐỊA PHƯƠNG",
            "Mô hình trình diễn kỹ thuật, chuyển giao công nghệ",
            "Đào tạo nghề, truyền nghề",
            "Cơ sở chế biến chè Thông Thụ",
            "Hợp tác xã mây tre đan Hải Châu",
            "Trung tâm Khuyến công Nghệ An",
            "Đã nghiệm thu",
            "Đang thực hiện (đã ký hợp đồng)",
            "Cục Công Thương địa phương - Bộ Công Thương",
            "GIÁM ĐỐC",
            "NGƯỜI LẬP BIỂU",
        ):
            assert expected in text, expected
        assert not CODES.search(text), CODES.search(text)
        book = load_workbook(io.BytesIO(year.content))
        sheet = book.active
        assert sheet is not None
        headers = [c.value for c in sheet[9]]
        assert headers[:5] == ["STT", "Tên đề án", "Đơn vị thực hiện", "Cơ sở thụ hưởng", "Địa điểm"]
        machine_row = next(
            r for r in sheet.iter_rows(values_only=True) if r[1] == "Hỗ trợ ứng dụng máy sấy chè tiên tiến"
        )
        assert machine_row[5:10] == (200_000_000, 200_000_000, 140_000_000, 200_000_000, 0)  # settled in January
        assert machine_row[10] == "Đã nghiệm thu"
        total = next(r for r in sheet.iter_rows(values_only=True) if r[1] == "TỔNG CỘNG")
        assert total[5:10] == (290_000_000, 290_000_000, 140_000_000, 200_000_000, 0)

        # -- the six-month report, as PDF: the figures as they stood on 30/06/2024 ----------------------------
        half = await so_plan.get(
            "/reports/tinh-hinh-thuc-hien", params={"year": 2024, "period": "6-thang", "format": "pdf"}
        )
        assert half.status_code == 200, half.text
        assert half.headers["content-type"] == "application/pdf" and half.content.startswith(b"%PDF")
        text = " ".join(pdf_text(half.content).split())
        for expected in (
            "ỦY BAN NHÂN DÂN TỈNH NGHỆ AN",
            "BÁO CÁO TÌNH HÌNH THỰC HIỆN KẾ HOẠCH KHUYẾN CÔNG 6 THÁNG ĐẦU NĂM 2024",
            "từ 01/01/2024 đến 30/06/2024",
            "Cơ sở chế biến chè Thông Thụ",
            "Hợp tác xã mây tre đan Hải Châu",
            "Đào tạo nghề, truyền nghề",
            "140.000.000",  # June's advance, in the Vietnamese format
            "Đã phê duyệt, chưa ký hợp đồng",  # the training was contracted in August
            "Đang thực hiện (đã ký hợp đồng)",
        ):
            assert expected in text, (expected, text)
        assert "195.000.000" not in text  # settled in December: not in the six months
        assert not CODES.search(text), CODES.search(text)

        # -- the settlement table, .xlsx and PDF -----------------------------------------------------------------
        table = await so_plan.get("/reports/quyet-toan", params={"year": 2024, "period": "ca-nam", "format": "pdf"})
        assert table.status_code == 200, table.text
        text = " ".join(pdf_text(table.content).split())
        for expected in (
            "BẢNG TỔNG HỢP QUYẾT TOÁN KINH PHÍ KHUYẾN CÔNG CẢ NĂM 2024",
            "Biểu số 02/QT-KC",
            "12/2024/HĐ-KCĐP, 10/02/2024",
            "10/01/2025",  # settled by 22/01 of the next year: in the year's table
            "Quyết toán được duyệt đến ngày 22/01/2025",
            "195.000.000",
            "5.000.000",  # contract minus settlement
            "Máy sấy chè (Ứng dụng máy móc thiết bị, chuyển giao công nghệ)",
            "Chưa quyết toán",
            "Cơ sở chế biến chè Thông Thụ",
        ):
            assert expected in text, (expected, text)
        assert not CODES.search(text), CODES.search(text)
        sheet_bytes = await so_plan.get("/reports/quyet-toan", params={"year": 2024, "format": "xlsx"})
        assert sheet_bytes.headers["content-type"] == XLSX
        text = sheet_text(sheet_bytes.content)
        assert "Cơ sở chế biến chè Thông Thụ" in text and "Hợp tác xã mây tre đan Hải Châu" in text
        assert "Biểu số 02/QT-KC" in text and not CODES.search(text)

        # -- bad input: problem+json naming the field, Vietnamese first -----------------------------------------
        for params, field in (
            ({"year": 2024, "period": "quy-5"}, "ky"),
            ({"year": 1999}, "year"),
            ({"year": 2012}, "year"),  # before the first form in force (10/02/2014)
            ({"year": 2024, "format": "docx"}, "format"),
        ):
            bad = await so_plan.get("/reports/tinh-hinh-thuc-hien", params=params)
            assert bad.status_code == 422, (params, bad.text)
            assert bad.headers["content-type"].startswith("application/problem+json")
            assert bad.json()["errors"][0]["field"] == field, bad.text
        unknown_period = await so_plan.get("/reports/quyet-toan", params={"year": 2024, "period": "quy-5"})
        assert unknown_period.json()["detail"].startswith("Không có kỳ báo cáo «quy-5»; chọn «6 tháng đầu năm»")
        unknown = await so_plan.get("/reports/bao-cao-khac", params={"year": 2024})
        assert unknown.status_code == 404 and unknown.json()["detail"].startswith("Không có báo cáo")
        for http in (so_reg, so, so_plan, ubnd, unit):
            await http.aclose()
