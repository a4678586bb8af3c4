"""Issue 14 item 9: dossier documents were served inline with their uploaded content type.

The attack: upload as a "document" an HTML page (``text/html``) with a script; whoever opens its
download link in a browser runs the script in the registry's origin — with the officer's session if
a console ever shares it. A file uploaded as ``image/png`` but holding HTML was sniffed as HTML too.

Now a document is served as an attachment (``Content-Disposition: attachment``, the browser saves
it), with ``X-Content-Type-Options: nosniff`` and a sandboxing ``Content-Security-Policy``.

Real parts: the registry under uvicorn on this test's nats-server and store.
"""

from __future__ import annotations

import httpx
import pytest
from kc_registry.main import create_app
from kc_testing.fixtures import SettingsFactory, bearer, served

PAGE = b"<!doctype html><script>fetch('/establishments').then(r => r.text()).then(alert)</script>"


@pytest.fixture
def store() -> str:
    return "sqlite"


def test_a_dossier_document_is_downloaded_as_an_attachment_never_rendered(make_settings: SettingsFactory) -> None:
    settings = make_settings("registry")
    app = create_app(settings)
    with served(app) as base, httpx.Client(base_url=base, headers=bearer(settings), timeout=30) as http:
        created = http.post(
            "/establishments",
            json={
                "name": "Cơ sở mây tre đan Phú Vinh",
                "tax_code": "0100112437",
                "legal_form": "ho_kinh_doanh",
                "commune_code": "17419",
            },
        )
        assert created.status_code == 201, created.text
        eid = created.json()["id"]
        for name, media_type in (("bctc.html", "text/html"), ("anh.png", "image/png")):
            uploaded = http.post(
                f"/establishments/{eid}/documents",
                files={"file": (name, PAGE + media_type.encode(), media_type)},
                data={"kind": "bao_cao_tai_chinh"},
            )
            assert uploaded.status_code == 201, uploaded.text
            sha = uploaded.json()["sha256"]
            got = http.get(f"/establishments/{eid}/documents/{sha}")
            assert got.status_code == 200
            assert got.content == PAGE + media_type.encode()
            assert got.headers["content-disposition"].startswith("attachment;"), got.headers
            assert sha[:12] in got.headers["content-disposition"]
            assert got.headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in got.headers["content-security-policy"]
    app.state.runtime.close()
