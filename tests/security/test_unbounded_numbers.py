"""Issue 14 item 5: unbounded numbers poisoned a projection.

The attack: a đề án with an amount of 10^20 VND was accepted (201); SQLite cannot hold it in the
list's 64-bit column, so the local list projection failed on that event at every later save and
``GET /de-an`` never showed a new đề án again (the error was only logged).

Now money and counts have upper bounds in the contracts (``kc_contracts.limits``): beyond them a 422
names the field in Vietnamese. And a projection that cannot apply an event (one stored before the
bounds, or any other poison) sets it aside in a quarantine table with the reason, goes on with the
next, and ``/readyz`` reports it.

Real parts: the appraisal service under uvicorn on this test's nats-server, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import nats
from eventsourcing.persistence import StoredEvent
from kc_appraisal.main import create_app
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_testing.fixtures import SettingsFactory, bearer, de_an_draft, served

TEN_TO_THE_20 = 10**20


def draft(code: str, support_vnd: int = 90_000_000, total_vnd: int = 90_000_000) -> dict[str, Any]:
    return de_an_draft(code, support_vnd=support_vnd, total_vnd=total_vnd)


async def ensure(url: str) -> None:
    nc = await nats.connect(url)
    try:
        await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40", "bo")))
    finally:
        await nc.close()


def poison_copy(app: Any, of: str) -> str:
    """Store a copy of đề án ``of``'s Drafted event with a 10^20 VND line, as a đề án saved before the
    bounds existed would be: straight into the event store (the API refuses it now)."""
    application = app.state.application
    original = application.recorder.select_events(uuid.UUID(of))[0]
    state = json.loads(original.state)
    for line in state["details"]["budget_lines"]:
        line["support_requested_vnd"] = line["total_cost_vnd"] = TEN_TO_THE_20
    state["details"]["code"] = "KCĐP-40-2024-POISON"
    poisoned = uuid.uuid4()
    application.recorder.insert_events([StoredEvent(poisoned, 1, original.topic, json.dumps(state).encode())])
    return str(poisoned)


async def test_an_amount_of_10_to_the_20_is_refused_and_a_poison_event_is_quarantined_not_blocking(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings("appraisal")
    await ensure(settings.nats_url)
    app = create_app(settings)
    with served(app) as base:
        async with httpx.AsyncClient(base_url=base, headers=bearer(settings), timeout=30) as http:
            # the attack: 10^20 VND on a budget line
            refused = await http.post("/de-an", json=draft("KCĐP-40-2024-01", TEN_TO_THE_20, TEN_TO_THE_20))
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            fields = {e["field"]: e["message"] for e in refused.json()["errors"]}
            assert "budget_lines.0.support_requested_vnd" in fields, fields
            assert "budget_lines.0.total_cost_vnd" in fields, fields
            assert fields["budget_lines.0.support_requested_vnd"].startswith("Phải nhỏ hơn hoặc bằng")
            assert "1.000.000.000.000" in fields["budget_lines.0.support_requested_vnd"]  # đồng, as people read it

            # lines each under the bound but together beyond the bound per đề án
            many = draft("KCĐP-40-2024-02")
            many["budget_lines"] = many["budget_lines"] * 2
            for line in many["budget_lines"]:
                line["total_cost_vnd"] = line["support_requested_vnd"] = 600_000_000_000
            too_much = await http.post("/de-an", json=many)
            assert too_much.status_code == 422, too_much.text
            assert [e["field"] for e in too_much.json()["errors"]] == ["budget_lines"]

            # counts are bounded too
            outputs = draft("KCĐP-40-2024-03") | {"expected_outputs": {"hoc_vien": TEN_TO_THE_20}}
            bad_count = await http.post("/de-an", json=outputs)
            assert bad_count.status_code == 422, bad_count.text
            assert bad_count.json()["errors"][0]["field"] == "expected_outputs.hoc_vien"

            # a poison event in the store (saved before the bounds): the list goes on past it
            first = await http.post("/de-an", json=draft("KCĐP-40-2024-04"))
            assert first.status_code == 201, first.text
            poisoned = poison_copy(app, first.json()["id"])
            later = await http.post("/de-an", json=draft("KCĐP-40-2024-05"))
            assert later.status_code == 201, later.text

            listed = (await http.get("/de-an", params={"limit": 500})).json()
            codes = {item["code"] for item in listed["items"]}
            assert {"KCĐP-40-2024-04", "KCĐP-40-2024-05"} <= codes, codes
            assert "KCĐP-40-2024-POISON" not in codes

            # /readyz says so, with the event and the reason
            for _ in range(100):
                ready = await http.get("/readyz")
                if ready.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            body = ready.json()
            assert ready.status_code == 200, body  # degraded, not down: the service still answers
            assert body["degraded"] is True, body
            quarantined = body["quarantine"]
            assert len(quarantined) == 1, quarantined
            assert quarantined[0]["projection"].startswith("appraisal-de-an-list")
            assert quarantined[0]["originator_id"] == poisoned
            assert "too large" in quarantined[0]["reason"] or "out of range" in quarantined[0]["reason"]
    app.state.runtime.close()


async def test_an_event_beyond_its_contract_is_quarantined_by_the_relay_which_publishes_the_next(
    make_settings: SettingsFactory,
) -> None:
    """The outbox relay too: a stored event that cannot become its contract (here a support record of
    10^20 VND, beyond ``SupportRecordedV1``'s bound) used to be retried for ever, and nothing the
    service saved after it was ever published. Now it is quarantined, shown on ``/readyz``, and the
    relay goes on."""
    settings = make_settings("registry")
    await ensure(settings.nats_url)
    app = registry_app(settings)
    with served(app) as base:
        async with httpx.AsyncClient(base_url=base, headers=bearer(settings), timeout=30) as http:
            created = await http.post(
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
            support = {
                "cost_item": "Máy chẻ nan",
                "amount_vnd": 50_000_000,
                "funding_source": "dia_phuong",
                "year": 2023,
                "reference": "KCĐP-40-2023-01",
            }
            assert (await http.post(f"/establishments/{eid}/support", json=support)).status_code == 201

            # the poison: the same record again at 10^20 VND, as saved before the bounds existed
            application = app.state.application
            stored = application.recorder.select_events(uuid.UUID(eid))
            state = json.loads(stored[-1].state)
            state["support"]["amount_vnd"] = TEN_TO_THE_20
            application.recorder.insert_events(
                [StoredEvent(uuid.UUID(eid), len(stored) + 1, stored[-1].topic, json.dumps(state).encode())]
            )
            later = await http.post(
                "/establishments",
                json={
                    "name": "Cơ sở đúc đồng Đông Hà",
                    "tax_code": "0101243150",
                    "legal_form": "ho_kinh_doanh",
                    "commune_code": "17419",
                },
            )
            assert later.status_code == 201, later.text

            nc = await nats.connect(settings.nats_url)
            try:
                js = nc.jetstream()
                published: set[str] = set()
                for _ in range(150):
                    info = await js.stream_info("KC_TINH_40")
                    published = {
                        json.loads((await js.get_msg("KC_TINH_40", seq)).data)["data"].get("establishment_id", "")
                        for seq in range(info.state.first_seq, info.state.last_seq + 1)
                    }
                    if later.json()["id"] in published:
                        break
                    await asyncio.sleep(0.1)
            finally:
                await nc.close()
            assert later.json()["id"] in published, "the relay is stuck behind the poison"

            body = (await http.get("/readyz")).json()
            assert body["degraded"] is True, body
            outbox = [q for q in body["quarantine"] if q["projection"] == "outbox:registry"]
            assert len(outbox) == 1, body["quarantine"]
            assert outbox[0]["originator_id"] == eid
            assert "amount_vnd" in outbox[0]["reason"]
    app.state.runtime.close()
