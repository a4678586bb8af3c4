"""The registry's HTTP API on a real store (SQLite, and PostgreSQL where reachable)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from kc_registry.main import create_app
from kc_testing.fixtures import SettingsFactory, bearer
from openpyxl import Workbook

PROBLEM = "application/problem+json"


@pytest.fixture
def client(make_settings: SettingsFactory) -> Iterator[TestClient]:
    # no lifespan: the bus is not needed to accept commands (they land in the event store)
    app = create_app(make_settings("registry"))
    yield TestClient(app, raise_server_exceptions=False, headers=bearer(app.state.runtime.settings))
    app.state.runtime.close()


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Cơ sở chế biến chè Thanh Chương",
        "tax_code": "0100112437",
        "legal_form": "doanh_nghiep_nho_va_vua",
        "commune_code": "17419",
        "sectors": ["che_bien_nong_lam_thuy_san"],
    } | overrides


def register(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/establishments", json=body(**overrides))
    assert response.status_code == 201, response.text
    return dict(response.json())


def field_errors(response: Any) -> dict[str, str]:
    assert response.headers["content-type"] == PROBLEM
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_register_read_back_and_history_name_the_actor(client: TestClient) -> None:
    created = register(client)
    got = client.get(f"/establishments/{created['id']}").json()
    assert got == created
    history = client.get(f"/establishments/{created['id']}/history").json()
    assert [(h["event"], h["actor"]) for h in history] == [("Registered", "Cán bộ so_ct (so_ct@tinh-40)")]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"tax_code": "0100112438"}, "tax_code", "sai số kiểm tra"),
        ({"commune_code": "99999"}, "commune_code", "không có trong danh mục"),
        ({"commune_code": "10507"}, "commune_code", "thuộc Thành phố Hải Phòng, không thuộc Tỉnh Nghệ An"),
        ({"commune_code": "123"}, "commune_code", "Sai định dạng"),
        ({"sectors": ["ban_le"]}, "sectors", "không có trong danh mục"),
        ({"capital_vnd": 1.5}, "capital_vnd", "Phải là số nguyên"),
        ({"name": "A\u0000B"}, "name", "ký tự điều khiển"),
        ({"surprise": 1}, "surprise", "Trường không được phép"),
    ],
)
def test_bad_input_is_a_422_problem_naming_the_field_in_vietnamese(
    client: TestClient, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = client.post("/establishments", json=body(**overrides))
    assert response.status_code == 422
    assert message in field_errors(response)[field]
    assert client.get("/establishments").json()["total"] == 0  # nothing written


def test_a_duplicate_tax_number_is_a_409_conflict(client: TestClient) -> None:
    register(client)
    response = client.post("/establishments", json=body(name="Tên khác"))
    assert response.status_code == 409
    assert "đã được đăng ký" in field_errors(response)["tax_code"]
    assert client.get("/establishments").json()["total"] == 1


def test_a_stale_version_is_a_409_and_changes_nothing(client: TestClient) -> None:
    created = register(client)
    url = f"/establishments/{created['id']}"
    assert client.patch(url, json={"version": 1, "street": "Xóm 3"}).json()["version"] == 2
    stale = client.patch(url, json={"version": 1, "street": "Xóm 9"})
    assert stale.status_code == 409
    assert "phiên bản hiện tại 2" in field_errors(stale)["version"]
    assert client.get(url).json()["details"]["street"] == "Xóm 3"


def test_names_are_checked_after_nfc_normalisation(client: TestClient) -> None:
    import unicodedata

    long_nfd = unicodedata.normalize("NFD", "ễ" * 300)  # 900 code points, 300 letters
    created = register(client, name=long_nfd)
    assert created["details"]["name"] == "ễ" * 300


def test_search_ignores_accents_and_case_including_d(client: TestClient) -> None:
    register(client, name="Hợp tác xã gốm Đồng Tháp", tax_code="0100109106")
    register(client, name="Cơ sở mây tre Diễn Châu", tax_code="0100112437")
    for q in ("dong thap", "Đồng Tháp", "ĐỒNG THÁP", "đong thap"):
        page = client.get("/establishments", params={"q": q}).json()
        assert [i["name"] for i in page["items"]] == ["Hợp tác xã gốm Đồng Tháp"], q
    assert client.get("/establishments", params={"q": "0100112437"}).json()["total"] == 1


def test_list_filters(client: TestClient) -> None:
    register(client, tax_code="0100109106", legal_form="hop_tac_xa", sectors=["thu_cong_my_nghe"])
    register(client, unit_system="truoc_2025", commune_code="16675", sectors=["co_khi_che_tao"])

    def total(**params: str) -> int:
        return int(client.get("/establishments", params=params).json()["total"])

    assert total(province_code="40") == 2
    assert total(legal_form="hop_tac_xa") == 1
    assert total(sector="co_khi_che_tao") == 1
    assert total(commune_code="16675") == 1  # as recorded (before 2025) ...
    assert total(commune_code="16690") == 1  # ... and as it is now


def test_recognition_filter_follows_validity_and_revocation(client: TestClient) -> None:
    e = register(client)
    url = f"/establishments/{e['id']}/recognitions"
    ocop = client.post(
        url,
        json={
            "scheme": "ocop",
            "product_name": "Chè xanh",
            "stars": 4,
            "decision_number": "56/QĐ-UBND",
            "decision_date": "2024-05-10",
            "issuer": "UBND tỉnh Nghệ An",
        },
    )
    assert ocop.status_code == 201
    assert ocop.json()["valid_to"] == "2027-05-09"

    def holders(day: str) -> int:
        return int(client.get("/establishments", params={"recognition": "ocop", "valid_on": day}).json()["total"])

    assert (holders("2025-01-01"), holders("2027-06-01")) == (1, 0)
    revoked = client.post(
        f"{url}/{ocop.json()['id']}/revoke", json={"revoked_on": "2025-03-01", "reason": "Không duy trì chất lượng"}
    )
    assert revoked.status_code == 200
    assert (holders("2025-02-28"), holders("2025-03-01")) == (1, 0)
    assert client.get(url, params={"valid_on": "2025-03-01"}).json() == []


def test_eligibility_answers_with_every_reason_and_rule_version(client: TestClient) -> None:
    e = register(client, employees=40, revenue_vnd=8_000_000_000)
    answer = client.get(f"/establishments/{e['id']}/eligibility", params={"on": "2025-11-01"}).json()
    assert answer["outcome"] == "dat"
    assert {r["check"]: r["rule"] for r in answer["reasons"]} == {
        "legal_form": "eligibility.legal_form@ND235/2025",
        "location": "eligibility.location@ND235/2025",
        "sector": "eligibility.sector@ND45/2012",
        "size": "eligibility.sme@ND80/2021",
    }
    bad_date = client.get(f"/establishments/{e['id']}/eligibility", params={"on": "01/11/2025"})
    assert bad_date.status_code == 422


def test_documents_empty_oversize_and_decisions(client: TestClient) -> None:
    e = register(client)
    url = f"/establishments/{e['id']}/documents"
    empty = client.post(url, data={"kind": "khac"}, files={"file": ("a.pdf", b"", "application/pdf")})
    assert empty.status_code == 422 and "rỗng" in field_errors(empty)["file"]
    client.app.state.application.documents.max_bytes = 1_000  # type: ignore[attr-defined]
    big = client.post(url, data={"kind": "khac"}, files={"file": ("a.pdf", b"x" * 1_001, "application/pdf")})
    assert big.status_code == 422 and "quá lớn" in field_errors(big)["file"]
    assert client.get(url).json() == []  # nothing half-written

    ok = client.post(
        url, data={"kind": "bao_cao_tai_chinh"}, files={"file": ("bctc-2023.pdf", b"%PDF bao cao", "application/pdf")}
    )
    assert ok.status_code == 201
    sha = ok.json()["sha256"]
    assert client.get(f"{url}/{sha}").content == b"%PDF bao cao"
    rejected = client.post(f"{url}/{sha}/reject", json={"reason": "Thiếu chữ ký kế toán trưởng"})
    assert rejected.json()["status"] == "bi_tu_choi"
    again = client.post(f"{url}/{sha}/verify", json={})
    assert again.status_code == 422 and "đã được xử lý" in field_errors(again)["sha256"]


def test_unknown_ids_routes_and_methods_are_problems(client: TestClient) -> None:
    assert client.get(f"/establishments/{uuid4()}").headers["content-type"] == PROBLEM
    assert client.get("/khong-co").status_code == 404
    wrong = client.delete("/establishments")
    assert wrong.status_code == 405 and wrong.headers["allow"]  # Starlette names the first matching route
    malformed = client.post("/establishments", content=b'{"name":"X",', headers={"content-type": "application/json"})
    assert field_errors(malformed)["(body)"].startswith("JSON không hợp lệ")


# -- bulk import ----------------------------------------------------------------------------------

HEADER = ["Tên cơ sở", "Mã số thuế", "Loại hình", "Mã xã", "Hệ đơn vị", "Ngành nghề", "Số lao động"]
GOOD = [
    ["Cơ sở mộc Đông Thành", "0100109106", "Hộ kinh doanh", "17419", "từ 2025", "Thủ công mỹ nghệ, làng nghề", "8"],
    ["HTX chè Thanh Mai", "0100112437", "Hợp tác xã", "16741", "trước 2025", "che_bien_nong_lam_thuy_san", "1.200"],
]


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [HEADER, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: TestClient, name: str, data: bytes, dry_run: bool) -> Any:
    return client.post(
        "/imports/establishments",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (name, data, "application/octet-stream")},
    )


def test_an_xlsx_with_broken_rows_reports_every_row_and_writes_nothing(client: TestClient) -> None:
    broken = [
        *GOOD,
        ["Cơ sở A", "0100112438", "Hộ kinh doanh", "17419", "", "", ""],
        ["Cơ sở B", "0101234567", "Công ty đa quốc gia", "17419", "", "", "nhiều"],
        ["Cơ sở C", "0100109106", "Hộ kinh doanh", "99999", "", "", ""],
    ]
    for dry_run in (True, False):
        response = upload(client, "danh-sach.xlsx", xlsx(broken), dry_run)
        assert response.status_code == 422
        errors = {(e["row"], e["field"]) for e in response.json()["errors"]}
        assert errors == {(4, "tax_code"), (5, "legal_form"), (5, "employees"), (6, "commune_code")}
        assert all(e["message"] for e in response.json()["errors"])
    assert client.get("/establishments").json()["total"] == 0


def test_a_clean_file_imports_all_rows_and_reimporting_creates_no_duplicates(client: TestClient) -> None:
    data = xlsx(GOOD)
    dry = upload(client, "ds.xlsx", data, True)
    assert (dry.status_code, dry.json()["new"], dry.json()["applied"]) == (200, 2, False)
    assert client.get("/establishments").json()["total"] == 0
    applied = upload(client, "ds.xlsx", data, False)
    assert (applied.status_code, applied.json()["new"]) == (201, 2)
    again = upload(client, "ds.xlsx", data, False)
    assert (again.json()["new"], again.json()["existing"]) == (0, 2)
    page = client.get("/establishments").json()
    assert page["total"] == 2
    tea = next(i for i in page["items"] if i["name"] == "HTX chè Thanh Mai")
    assert (tea["employees"], tea["unit_system"], tea["current_commune_code"]) == (1200, "truoc_2025", "16744")


def test_csv_with_semicolons_and_a_duplicate_row_inside_the_file(client: TestClient) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerows([HEADER, *GOOD, GOOD[0]])
    response = upload(client, "ds.csv", out.getvalue().encode("utf-8-sig"), True)
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"] == "Trùng với dòng 2 trong tệp"


def test_files_that_are_not_lists_are_refused(client: TestClient) -> None:
    assert "Chỉ nhận tệp .xlsx hoặc .csv" in field_errors(upload(client, "a.pdf", b"%PDF", True))["file"]
    assert "Không đọc được tệp .xlsx" in field_errors(upload(client, "a.xlsx", b"not a zip", True))["file"]
    no_header = xlsx([])[:0] or b"Ten;MST\nA;1\n"
    assert "Thiếu cột bắt buộc" in field_errors(upload(client, "a.csv", no_header, True))["file"]


def test_the_template_is_an_xlsx_with_vietnamese_headers(client: TestClient) -> None:
    from openpyxl import load_workbook

    response = client.get("/imports/establishments/template.xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert next(sheet.iter_rows(values_only=True))[:4] == ("Tên cơ sở", "Mã số thuế", "Số đăng ký", "Loại hình")


def test_priority_comes_from_official_lists_and_regional_certificates_only_while_valid(client: TestClient) -> None:
    # xã Mỹ Lý, huyện Kỳ Sơn (pre-2025): a poor (NQ 30a) and border district of Nghệ An
    e = register(client, unit_system="truoc_2025", commune_code="16816", employees=60)
    url = f"/establishments/{e['id']}"
    for level, issued in (("huyen", "2021-05-10"), ("tinh", "2021-08-20"), ("khu_vuc", "2021-11-05")):
        made = client.post(
            f"{url}/recognitions",
            json={
                "scheme": "san_pham_cnnt_tieu_bieu",
                "product_name": "Thổ cẩm Mỹ Lý",
                "level": level,
                "decision_number": f"{level}/QĐ",
                "decision_date": issued,
                "issuer": "x",
            },
        )
        assert made.status_code == 201, made.text
    on_last_day = client.get(f"{url}/priority", params={"on": "2023-12-31"}).json()
    assert on_last_day["areas"] == ["vung_cao_bien_gioi_dtts", "huyen_ngheo_30a"]
    assert on_last_day["recognition"] is True and on_last_day["sector_groups"] == ["b", "a"]  # b before a
    assert (on_last_day["region_as_recorded"], on_last_day["region_now"]) == ("bac", "bac")
    day_after = client.get(f"{url}/priority", params={"on": "2024-01-01"}).json()
    assert day_after["recognition"] is False  # the regional certificate lapsed; the provincial one never counted
    criteria = {c["criterion"]: c for c in day_after["criteria"]}
    assert "Điều 17 khoản 3" in criteria["cong_nhan"]["legal_basis"]
    assert criteria["nganh_nghe.b.nhieu_lao_dong"]["outcome"] == "dat"
    before_rules = client.get(f"{url}/priority", params={"on": "2010-01-01"})
    assert before_rules.status_code == 422 and field_errors(before_rules).keys() == {"on"}
    cuc = client.get("/organisations/cuc", params={"on": "2025-06-01"}).json()
    assert cuc["name"] == "Cục Đổi mới sáng tạo, Chuyển đổi xanh và Khuyến công"
    assert client.get("/organisations/khong-co").status_code == 404


def test_documents_to_verify_are_listed_across_establishments_oldest_first(
    client: TestClient, make_settings: SettingsFactory
) -> None:
    """GET /documents?status=cho_xac_minh: the officers' queue without reading each establishment."""
    first = register(client)
    second = register(client, name="HTX mây tre Hưng Nguyên", tax_code="0101243150")
    shas = []
    for e, name in ((first, "dkkd.pdf"), (second, "bctc.pdf"), (first, "khac.pdf")):
        made = client.post(
            f"/establishments/{e['id']}/documents",
            data={"kind": "khac"},
            files={"file": (name, f"%PDF {name}".encode(), "application/pdf")},
        )
        assert made.status_code == 201, made.text
        shas.append(made.json()["sha256"])
    client.post(f"/establishments/{first['id']}/documents/{shas[0]}/verify", json={})

    pending = client.get("/documents", params={"status": "cho_xac_minh"}).json()
    assert pending["total"] == 2
    assert [(d["sha256"], d["establishment"]) for d in pending["items"]] == [
        (shas[1], "HTX mây tre Hưng Nguyên"),
        (shas[2], "Cơ sở chế biến chè Thanh Chương"),
    ]
    assert {"establishment_id", "kind", "size_bytes", "media_type", "attached_at"} <= set(pending["items"][0])
    verified = client.get("/documents", params={"status": "da_xac_minh"}).json()
    assert [d["sha256"] for d in verified["items"]] == [shas[0]] and verified["items"][0]["decided_by"]
    assert client.get("/documents", params={"limit": 1, "offset": 2}).json()["total"] == 3
    bad = client.get("/documents", params={"status": "pending"})
    assert bad.status_code == 422 and "status" in field_errors(bad)

    # another province's officer, and no token at all, are refused
    other = bearer(make_settings("registry", instance="tinh-31"))
    assert client.get("/documents", headers=other).status_code == 403
    assert client.get("/documents", headers={"Authorization": ""}).status_code == 401
