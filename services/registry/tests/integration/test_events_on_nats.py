"""The registry on a real nats-server: its contract events, and no dossier bytes on any subject."""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
import nats
from kc_contracts import Envelope
from kc_contracts.subjects import dead_letter_stream, stream_name
from kc_registry.main import create_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, bearer, eventually


async def test_contract_events_are_published_and_dossier_bytes_never_leave(make_settings: SettingsFactory) -> None:
    settings = make_settings("registry")
    nc = await nats.connect(settings.nats_url)
    await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40",)))
    seen: list[tuple[str, bytes, dict[str, str]]] = []

    async def everything(msg: Any) -> None:  # every subject, JetStream API traffic included
        seen.append((msg.subject, msg.data, dict(msg.headers or {})))

    await nc.subscribe(">", cb=everything)

    secret = b"%PDF-1.7 BAO CAO TAI CHINH " + os.urandom(64)
    secret_name = "bao-cao-tai-chinh-bi-mat-2023.pdf"
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry", headers=bearer(settings)) as http:
            await eventually(lambda: app.state.runtime.bus_started)
            created = (
                await http.post(
                    "/establishments",
                    json={
                        "name": "Cơ sở đúc đồng Đông Hà",
                        "tax_code": "0100112437",
                        "legal_form": "ho_kinh_doanh",
                        "commune_code": "17419",
                        "sectors": ["co_khi_che_tao"],
                        "women_owned": True,
                    },
                )
            ).json()
            eid = created["id"]
            doc = await http.post(
                f"/establishments/{eid}/documents",
                data={"kind": "bao_cao_tai_chinh"},
                files={"file": (secret_name, secret, "application/pdf")},
            )
            assert doc.status_code == 201
            sha = doc.json()["sha256"]
            assert (await http.post(f"/establishments/{eid}/documents/{sha}/verify", json={})).status_code == 200
            rec = await http.post(
                f"/establishments/{eid}/recognitions",
                json={
                    "scheme": "ocop",
                    "product_name": "Chuông đồng",
                    "stars": 3,
                    "decision_number": "9/QĐ",
                    "decision_date": "2024-04-01",
                    "issuer": "UBND tỉnh Nghệ An",
                },
            )
            assert rec.status_code == 201
            assert (
                await http.patch(f"/establishments/{eid}", json={"version": 4, "street": "Xóm 3"})
            ).status_code == 200
            assert (
                await http.post(
                    f"/establishments/{eid}/support",
                    json={
                        "cost_item": "Máy đúc áp lực",
                        "amount_vnd": 150_000_000,
                        "funding_source": "quoc_gia",
                        "year": 2023,
                        "reference": "Đề án 12/KCQG-2023",
                    },
                )
            ).status_code == 201
            relay = app.state.runtime.relay
            await eventually(lambda: relay.published == 6)

    js = nc.jetstream()
    stored = []
    for stream in (stream_name("tinh-40"), dead_letter_stream("tinh-40")):
        info = await js.stream_info(stream)
        for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else []:
            stored.append(await js.get_msg(stream, seq))
    await nc.close()

    envelopes = [Envelope.from_json(m.data) for m in stored]
    assert [e.type for e in envelopes] == [
        "kc.registry.establishment.registered.v1",
        "kc.registry.establishment.document-attached.v1",
        "kc.registry.establishment.document-verified.v1",
        "kc.registry.establishment.recognition-recorded.v1",
        "kc.registry.establishment.updated.v1",
        "kc.registry.establishment.support-recorded.v1",
    ]
    attached = envelopes[1].decode()
    assert attached.sha256 == sha and attached.size_bytes == len(secret)  # type: ignore[attr-defined]
    assert envelopes[0].decode().women_owned is True  # type: ignore[attr-defined]
    assert envelopes[4].decode().changed_fields == ["street"]  # type: ignore[attr-defined]

    published = [data for _, data, _ in seen] + [m.data for m in stored]
    headers = [str(h) for _, _, h in seen]
    assert len(published) > len(stored)  # the wiretap really saw the traffic
    forbidden = [secret, secret[:24], base64.b64encode(secret), secret.hex().encode(), secret_name.encode()]
    for needle in forbidden:
        assert not any(needle in data for data in published), needle[:30]
        assert not any(needle.decode("latin-1") in h for h in headers)
