"""A đề án's own files (issue 18 item 6): its documents and the photos of its monthly progress reports,
kept at the province (content-addressed; the events carry hashes only, nothing is published), checked by
what their bytes are, served back as attachments never rendered; a unit reaches its own đề án's only."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kc_appraisal.domain.de_an import DeAn
from kc_appraisal.main import create_app
from kc_appraisal.translators import translator
from kc_testing.fixtures import SettingsFactory, bearer

PROBLEM = "application/problem+json"
CENTRE = "trung-tam-khuyen-cong-nghe-an"
PDF = b"%PDF-1.4 thuyet minh de an\n%%EOF"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def draft(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "title": "Hỗ trợ máy chẻ nan",
        "level": "dia_phuong",
        "de_an_type": "kcdp",
        "plan_year": 2024,
        "implementing_unit": "Trung tâm Khuyến công Nghệ An",
        "activity_contents": ["3"],
        "budget_lines": [
            {
                "cost_item": "Máy chẻ nan",
                "support_item": "may_moc_thiet_bi",
                "total_cost_vnd": 90_000_000,
                "support_requested_vnd": 30_000_000,
                "counterpart_vnd": 60_000_000,
            }
        ],
    }


@pytest.fixture
def client(make_settings: SettingsFactory) -> Iterator[TestClient]:
    app = create_app(make_settings("appraisal", instance="tinh-40"))
    yield TestClient(app, raise_server_exceptions=False)
    app.state.runtime.close()


def upload(client: TestClient, path: str, name: str, data: bytes, declared: str, headers: Any, **form: str) -> Any:
    return client.post(path, data=form, files={"file": (name, data, declared)}, headers=headers)


def test_documents_are_kept_by_what_their_bytes_are_and_served_as_attachments(client: TestClient) -> None:
    s = client.app.state.runtime.settings  # type: ignore[attr-defined]
    unit = bearer(s, "don_vi", unit=CENTRE)
    other_unit = bearer(s, "don_vi", unit="trung-tam-khac")
    ministry = bearer(s, "cuc")
    d = client.post("/de-an", json=draft("KCĐP-40-2024-81"), headers=unit).json()
    url = f"/de-an/{d['id']}/documents"

    made = upload(client, url, "thuyet-minh.pdf", PDF, "application/pdf", unit, kind="thuyet_minh")
    assert made.status_code == 201, made.text
    doc = made.json()
    assert (doc["kind"], doc["media_type"], doc["size_bytes"]) == ("thuyet_minh", "application/pdf", len(PDF))
    word = upload(client, url, "du-toan.docx", docx(), "application/octet-stream", unit, kind="du_toan")
    assert word.status_code == 201 and word.json()["media_type"].endswith("wordprocessingml.document")

    listed = client.get(url, headers=unit).json()
    assert [x["kind"] for x in listed] == ["thuyet_minh", "du_toan"]
    got = client.get(f"/de-an/{d['id']}/files/{doc['sha256']}", headers=ministry)  # the ministry reads it too
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"].startswith("sandbox")

    # what a file is comes from its bytes: HTML sent as a PDF, an empty file, a kind that does not exist
    html = upload(client, url, "a.pdf", b"<html><script>alert(1)</script>", "application/pdf", unit, kind="khac")
    assert html.status_code == 422 and html.headers["content-type"] == PROBLEM
    assert (
        "Loại tệp không được nhận" in html.json()["errors"][0]["message"]
        and html.json()["errors"][0]["field"] == "file"
    )
    empty = upload(client, url, "a.pdf", b"", "application/pdf", unit, kind="khac")
    assert empty.status_code == 422 and "rỗng" in empty.json()["errors"][0]["message"]
    kind = upload(client, url, "a.pdf", PDF + b"x", "application/pdf", unit, kind="bi_mat")
    assert kind.status_code == 422 and kind.json()["errors"][0]["field"] == "kind"
    again = upload(client, url, "lai.pdf", PDF, "application/pdf", unit, kind="khac")
    assert again.status_code == 422 and "đã có" in again.json()["errors"][0]["message"]
    assert len(client.get(url, headers=unit).json()) == 2  # nothing of the refused ones

    # another unit neither sees, adds to, nor downloads them; nor does a hash the đề án does not hold open
    assert client.get(url, headers=other_unit).status_code == 404
    assert upload(client, url, "x.pdf", PDF + b"y", "application/pdf", other_unit, kind="khac").status_code == 404
    assert client.get(f"/de-an/{d['id']}/files/{doc['sha256']}", headers=other_unit).status_code == 404
    stranger = "0" * 64
    assert client.get(f"/de-an/{d['id']}/files/{stranger}", headers=unit).status_code == 404
    for sneaky in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", doc["sha256"].upper()):  # only a hash it holds
        assert client.get(f"/de-an/{d['id']}/files/{sneaky}", headers=unit).status_code in (404, 422)
    public = bearer(s, "cong_chung")
    assert client.get(f"/de-an/{d['id']}/files/{doc['sha256']}", headers=public).status_code == 403

    # the events carry hashes only, and none is published
    timeline = client.get(f"/de-an/{d['id']}/timeline", headers=unit).json()
    filed = [t for t in timeline if t["event"] == "DocumentFiled"]
    assert len(filed) == 2 and filed[0]["data"]["sha256"] == doc["sha256"]
    assert "thuyet-minh.pdf" not in str(timeline)  # the file name is not kept
    to_contract = translator(lambda e: client.app.state.application.get(e.originator_id))  # type: ignore[attr-defined]
    stored = client.app.state.application.events.get(d["id"])  # type: ignore[attr-defined]
    assert all(to_contract(e) is None for e in stored if isinstance(e, DeAn.DocumentFiled))


def test_photos_attach_to_a_monthly_progress_report(client: TestClient) -> None:
    s = client.app.state.runtime.settings  # type: ignore[attr-defined]
    so_ct = bearer(s, "so_ct", name="can-bo")
    ubnd = bearer(s, "ubnd_tinh", name="chu-tich")
    d = client.post("/de-an", json=draft("KCĐP-40-2024-82"), headers=so_ct).json()
    url = f"/de-an/{d['id']}"
    for action, body, who in (
        ("submit", {"submitted_on": "2023-10-20"}, so_ct),
        (
            "base-appraisal",
            {
                "mode": "can_bo",
                "conclusion": "dong_y",
                "recommended_support_vnd": 30_000_000,
                "appraised_on": "2023-11-01",
            },
            so_ct,
        ),
        ("propose", {"on": "2023-11-05"}, so_ct),
        (
            "approve",
            {"plan_decision": "1/QĐ-UBND", "decided_on": "2023-12-20", "approved_support_vnd": 30_000_000},
            ubnd,
        ),
        (
            "contract",
            {"contract_number": "5/HĐ", "signed_on": "2024-02-01", "contracted_support_vnd": 30_000_000},
            so_ct,
        ),
    ):
        done = client.post(f"{url}/{action}", json=body, headers=who)
        assert done.status_code == 200, (action, done.text)

    early = upload(client, f"{url}/progress/2024-05/photos", "anh.jpg", JPEG, "image/jpeg", so_ct)
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "month"  # no report for May yet
    assert client.post(f"{url}/progress", json={"month": "2024-05", "percent": 40}, headers=so_ct).status_code == 200
    photo = upload(client, f"{url}/progress/2024-05/photos", "anh.jpg", JPEG, "image/jpeg", so_ct, caption="Lắp máy")
    assert photo.status_code == 201, photo.text
    assert photo.json()["media_type"] == "image/jpeg" and photo.json()["caption"] == "Lắp máy"
    png = upload(client, f"{url}/progress/2024-05/photos", "anh.png", PNG, "image/png", so_ct)
    assert png.status_code == 201
    pdf = upload(client, f"{url}/progress/2024-05/photos", "anh.jpg", PDF, "image/jpeg", so_ct)
    assert pdf.status_code == 422 and "JPEG, PNG" in pdf.json()["errors"][0]["message"]  # a photo is a photo
    bad_month = upload(client, f"{url}/progress/2024-13/photos", "anh.jpg", JPEG + b"1", "image/jpeg", so_ct)
    assert bad_month.status_code == 422

    state = client.get(url, headers=so_ct).json()
    (report,) = state["progress"]
    assert [p["media_type"] for p in report["photos"]] == ["image/jpeg", "image/png"]
    got = client.get(f"{url}/files/{photo.json()['sha256']}", headers=so_ct)
    assert got.status_code == 200 and got.content == JPEG and got.headers["content-type"] == "image/jpeg"
    assert (
        got.headers["content-disposition"].startswith("attachment;")
        and got.headers["x-content-type-options"] == "nosniff"
    )


def test_oversize_files_are_refused_before_they_are_kept(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import kc_appraisal.application as application

    s = client.app.state.runtime.settings  # type: ignore[attr-defined]
    so_ct = bearer(s, "so_ct")
    d = client.post("/de-an", json=draft("KCĐP-40-2024-83"), headers=so_ct).json()
    monkeypatch.setattr(application, "MAX_DOCUMENT_BYTES", 1_000)
    big = upload(
        client, f"/de-an/{d['id']}/documents", "a.pdf", PDF + b"x" * 1_000, "application/pdf", so_ct, kind="khac"
    )
    assert big.status_code == 422 and "quá lớn" in big.json()["errors"][0]["message"]
    files = client.app.state.application.files.root  # type: ignore[attr-defined]
    assert not files.exists() or not any(files.rglob("*"))  # nothing written
    # the request guard refuses a body larger than any upload before the service reads it
    huge = upload(
        client, f"/de-an/{d['id']}/documents", "a.pdf", PDF + b"x" * (21 << 20), "application/pdf", so_ct, kind="khac"
    )
    assert huge.status_code == 413
