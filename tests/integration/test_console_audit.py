"""The console's Kiểm toán page shows what ``kc audit verify`` prints (issue 18 item 1): every signature,
every publisher's hash chain, gaps in the sequence and an event missing at the tail of a chain,
read-only, for an auditor.

Real parts: the registry under uvicorn publishing its signed events to this test's nats-server, the
console's own app (its SQLite, its sign-in) reading that bus and asking the registry for its chain head
over HTTP with the auditor's token. The stream is then tampered with as an attacker holding the stream
would: the registry's last event deleted (a gap and a missing tail) and an unsigned message slipped in.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import nats
import pytest
from fastapi.testclient import TestClient
from kc_console.main import create_app as console_app
from kc_console.settings import ConsoleSettings
from kc_contracts.subjects import stream_name
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.settings import Settings
from kc_testing.fixtures import SettingsFactory, bearer, served

PASSWORD = "mat-khau-kiem-toan-1"
TAX_CODES = ("0100112437", "0101243150", "0100109106")  # valid check digits


@pytest.fixture
def store() -> str:
    return "sqlite"


def stream(settings: Settings, action: str) -> list[tuple[int, str]]:
    async def run() -> list[tuple[int, str]]:
        nc = await nats.connect(settings.nats_url)
        try:
            js = nc.jetstream()
            if action == "ensure":
                await ensure_streams(js, StreamPlan(("tinh-40",)))
                return []
            info = await js.stream_info(stream_name("tinh-40"))
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(stream_name("tinh-40"), seq)
                except nats.js.errors.NotFoundError:
                    continue
                out.append((seq, str(json.loads(msg.data).get("source"))))
            if action == "tamper":
                last = max(seq for seq, source in out if source == "/kc/tinh-40/registry")
                await js.delete_msg(stream_name("tinh-40"), last)
                unsigned = {"id": "gia-mao-1", "source": "/kc/tinh-40/registry", "kcinstance": "tinh-40"}
                await js.publish(
                    "kc.tinh-40.registry.establishment.registered.v1",
                    json.dumps(unsigned).encode(),
                    stream=stream_name("tinh-40"),
                )
            return out
        finally:
            await nc.close()

    return asyncio.run(run())


def sign_in(client: TestClient, username: str) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dang-nhap").text)
    assert token
    done = client.post(
        "/dang-nhap",
        data={"csrf_token": token[1], "username": username, "password": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|dd|table)>', html, re.S)
    assert found, f"no #{element_id} in the page"
    return re.sub(r"<[^>]+>", " ", found[1])


def test_the_audit_page_verifies_the_stream_and_names_what_was_tampered_with(make_settings: SettingsFactory) -> None:
    settings = make_settings("registry")
    stream(settings, "ensure")
    registry = registry_app(settings)
    with served(registry) as base:
        with httpx.Client(base_url=base, headers=bearer(settings), timeout=30) as http:
            for n, tax_code in enumerate(TAX_CODES):
                made = http.post(
                    "/establishments",
                    json={
                        "name": f"Cơ sở mây tre đan số {n + 1}",
                        "tax_code": tax_code,
                        "legal_form": "ho_kinh_doanh",
                        "commune_code": "17419",
                    },
                )
                assert made.status_code == 201, made.text
        deadline = time.monotonic() + 30
        while len(stream(settings, "list")) < 3:  # the relay publishes in the background
            assert time.monotonic() < deadline, "the registry's events did not reach the stream"
            time.sleep(0.1)

        console = console_app(
            ConsoleSettings(
                instance="tinh-40",
                var_dir=settings.var_dir,  # the same keys folder and trust file
                nats_url=settings.nats_url,
                service_urls={"tinh-40/registry": base},
            )
        )
        accounts = console.state.console.store
        accounts.create_account(
            "kiemtoan.test", display_name="Kiểm toán", role="kiem_toan_tinh", password=PASSWORD, by="t"
        )
        accounts.create_account("so.test", display_name="Sở", role="so_ct", password=PASSWORD, by="t")
        with TestClient(console, base_url="http://testserver") as client:
            sign_in(client, "so.test")  # an officer who does not audit: no page
            assert client.get("/kiem-toan").status_code == 403
            client.cookies.clear()

            sign_in(client, "kiemtoan.test")
            page = client.get("/kiem-toan", params={"xac_minh": 1})
            assert page.status_code == 200, page.text
            assert "Đã xác minh toàn bộ 3 sự kiện" in text_of(page.text, "ket-qua-kiem-tra")
            chains = text_of(page.text, "chuoi-bam")
            assert "Cơ sở dữ liệu cơ sở CNNT" in chains and "#3" in chains  # its chain and the head it reports
            assert text_of(page.text, "khoang-trong").strip() == "0"
            main = page.text.split("<main", 1)[1].split("</main>", 1)[0]
            assert "<form" in main and 'method="post"' not in main  # nothing on this page writes

            stream(settings, "tamper")
            page = client.get("/kiem-toan", params={"xac_minh": 1})
            assert page.status_code == 200, page.text
            assert "XÁC MINH THẤT BẠI" in text_of(page.text, "ket-qua-kiem-tra")
            failures = text_of(page.text, "loi-xac-minh")
            assert "Sự kiện không có chữ ký" in failures  # the message slipped in
            assert "Thiếu sự kiện cuối chuỗi" in failures  # the registry's deleted last event
            assert "missing_tail" not in failures and "unsigned" not in failures  # labels, not codes
            assert text_of(page.text, "khoang-trong").strip() == "1"  # the deleted sequence number
            assert "kiem_tra_nhat_ky" in [r["action"] for r in accounts.activity("kiemtoan.test")]
    registry.state.runtime.close()
