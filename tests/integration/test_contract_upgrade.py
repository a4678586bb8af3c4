"""A contract's new version rolled out while the old consumers still run, on one real nats-server.

``planning.plan.approved`` gets a v2 (defined here, never shipped: the decision as one object instead of
three fields) with its upcaster. Nghệ An's planning is upgraded first: it publishes each approval in both
versions (the relay's own dual publishing: two envelopes, one event id, ``kcversions: "1,2"``), while
appraisal and notifications run on as they are, knowing v1 only. Then a consumer written for v2 starts.

- appraisal (subscribed to ``….plan.approved.v1``) approves the đề án of the approval made after the
  upgrade exactly as before;
- notifications (subscribed to ``….planning.>``: it receives the v2 copy too) passes over the copy it
  cannot read — no dead letter, no alarm — and records the approval once;
- the v2 consumer (subscribed to both versions) reads the approval published before the upgrade (v1
  only) through the upcaster and the one after from its v2 copy, each once, as v2;
- the stream's chain stays whole for an auditor (every copy is a signed link);
- a rebuild from the bus decides as the live consumers: an upgraded reader takes each event once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import httpx
import nats
import pytest
from kc_appraisal.main import create_app as appraisal_app
from kc_contracts import ContractEvent, Envelope
from kc_contracts.base import ContractRegistry, registry
from kc_contracts.integrity import TrustStore, verify_stream
from kc_contracts.planning_events import ApprovedLine, PlanApprovedV1
from kc_contracts.subjects import dead_letter_stream, stream_name
from kc_notifications.main import create_app as notifications_app
from kc_notifications.settings import NotificationSettings
from kc_planning.main import create_app as planning_app
from kc_runtime.bus import rebuild
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.service import ServiceRuntime
from kc_runtime.store.eventstore import persistence_env
from kc_runtime.store.views import ViewStore
from kc_testing.fixtures import SettingsFactory, bearer, de_an_draft, eventually
from pydantic import BaseModel


class Decision(BaseModel):
    number: str
    date: date
    signer: str


class PlanApprovedV2(ContractEvent):
    """v2 of a real event, for this test only: the decision is one object (number, date, signer)."""

    type = "planning.plan.approved"
    version = 2

    plan_id: UUID
    level: str
    owner: str
    year: int
    batch: int
    decision: Decision
    lines: list[ApprovedLine]
    total_support_vnd: int


def upcast_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    out["decision"] = {
        "number": out.pop("decision_number"),
        "date": out.pop("decision_date"),
        "signer": out.pop("signer"),
    }
    return out


def contracts_with_v2() -> ContractRegistry:
    """What an upgraded service's contracts package registers: every contract, the v2 and its upcaster."""
    upgraded = ContractRegistry(models=dict(registry.models), upcasters=dict(registry.upcasters))
    upgraded.register(PlanApprovedV2)
    upgraded.register_upcaster(PlanApprovedV2.type, 1, upcast_v1_v2)
    return upgraded


def both_versions(translate: Any) -> Any:
    """Planning's translator after the upgrade: each approval in v2 and, while the rollout lasts, v1."""

    def translated(event: Any) -> ContractEvent | Sequence[ContractEvent] | None:
        contract = translate(event)
        if isinstance(contract, PlanApprovedV1):
            return [PlanApprovedV2.model_validate(upcast_v1_v2(contract.model_dump(mode="json"))), contract]
        return contract  # type: ignore[no-any-return]

    return translated


def client(app: Any, role: str) -> httpx.AsyncClient:
    settings = app.state.runtime.settings
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=bearer(settings, role)
    )


async def proposed(apr: httpx.AsyncClient, code: str) -> str:
    made = await apr.post("/de-an", json=de_an_draft(code))
    assert made.status_code == 201, made.text
    url = f"/de-an/{made.json()['id']}"
    for action, body in [
        ("submit", {"submitted_on": "2023-10-20"}),
        (
            "base-appraisal",
            {
                "mode": "can_bo",
                "conclusion": "dong_y",
                "recommended_support_vnd": 90_000_000,
                "appraised_on": "2023-11-10",
            },
        ),
        ("propose", {"on": "2023-11-20"}),
    ]:
        response = await apr.post(f"{url}/{action}", json=body)
        assert response.status_code == 200, response.text
    return str(made.json()["id"])


@pytest.mark.parametrize("store", ["sqlite"])  # the bus and the inbox decide, whatever the store
async def test_plan_approved_v2_rolled_out_while_v1_consumers_still_run(make_settings: SettingsFactory) -> None:
    appraisal = appraisal_app(make_settings("appraisal"))
    planning = planning_app(make_settings("planning"))
    notifications = notifications_app(NotificationSettings(**make_settings("notifications").model_dump()))
    nc = await nats.connect(planning.state.runtime.settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(js, StreamPlan(("tinh-40", "bo")))

    # the consumer written for v2, in a service of its own (started after the upgrade)
    reader_settings = make_settings("reader")
    reader = ServiceRuntime(reader_settings)
    seen = ViewStore(persistence_env(reader_settings), name="reader_seen")
    taken: list[tuple[str, ContractEvent]] = []

    def take(envelope: Envelope, event: ContractEvent, tracking: Any) -> None:
        with seen.transaction() as cur:
            seen.track(cur, tracking)
        taken.append((envelope.type, event))

    upgraded_inbox = reader.consume(
        "reader-plans",
        source_instance="tinh-40",
        subjects=["kc.tinh-40.planning.plan.approved.>"],
        effect=take,
        is_tracked=seen.has_tracked,
        contracts=contracts_with_v2(),
    )

    apps = (appraisal, planning, notifications)
    lifespans = [app.router.lifespan_context(app) for app in apps]
    try:
        for lifespan in lifespans:
            await lifespan.__aenter__()
        await eventually(lambda: all(a.state.runtime.bus_started for a in apps), timeout=60)
        apr, plan = client(appraisal, "so_ct"), client(planning, "ubnd_tinh")
        before, after = await proposed(apr, "KCĐP-40-2024-21"), await proposed(apr, "KCĐP-40-2024-22")

        async def lines(n: int) -> bool:
            response = await plan.get("/plans/dia_phuong/2024")
            return response.status_code == 200 and len(response.json()["lines"]) == n

        await eventually(lambda: lines(2), timeout=60)

        async def status(de_an: str) -> str:
            return str((await apr.get(f"/de-an/{de_an}")).json()["status"])

        # batch 1, before the upgrade: v1 only
        first = await plan.post(
            "/plans/dia_phuong/2024/approvals",
            json={
                "decision_number": "12/QĐ-UBND",
                "decision_date": "2023-12-25",
                "signer": "Chủ tịch UBND tỉnh",
                "amounts": {before: 90_000_000},
            },
        )
        assert first.status_code == 200, first.text
        await eventually(lambda: _is(status(before), "da_phe_duyet"), timeout=60)

        # planning upgraded: from now on each approval goes out in v2 and v1
        relay = planning.state.runtime.relay
        relay.translate = both_versions(relay.translate)
        second = await plan.post(
            "/plans/dia_phuong/2024/approvals",
            json={"decision_number": "45/QĐ-UBND", "decision_date": "2024-03-15", "signer": "Chủ tịch UBND tỉnh"},
        )
        assert second.status_code == 200, second.text
        # appraisal, still on v1, approves the đề án of the approval published after the upgrade
        await eventually(lambda: _is(status(after), "da_phe_duyet"), timeout=60)

        old_planning_inbox = next(
            s.inbox
            for s in notifications.state.runtime.subscriptions
            if s.inbox.name == "notifications-planning-tinh-40"
        )
        await eventually(lambda: old_planning_inbox.stats.applied + old_planning_inbox.stats.other_versions >= 3)

        # the v2 consumer starts: it reads what was published before the upgrade, and after
        async with reader.lifespan():
            await eventually(lambda: len(taken) >= 2 and upgraded_inbox.stats.other_versions >= 1, timeout=60)
        await apr.aclose()
        await plan.aclose()
    finally:
        for lifespan in reversed(lifespans):
            await lifespan.__aexit__(None, None, None)
        seen.close()

    # the upgraded consumer took each approval once, as v2: batch 1 upcast from its v1, batch 2 from its v2
    assert [(t, type(e), e.batch) for t, e in taken] == [  # type: ignore[attr-defined]
        ("kc.planning.plan.approved.v1", PlanApprovedV2, 1),
        ("kc.planning.plan.approved.v2", PlanApprovedV2, 2),
    ]
    assert taken[0][1].decision == Decision(number="12/QĐ-UBND", date=date(2023, 12, 25), signer="Chủ tịch UBND tỉnh")  # type: ignore[attr-defined]
    assert (upgraded_inbox.stats.other_versions, upgraded_inbox.stats.dead_lettered) == (1, 0)
    # notifications, still on v1, passed over the v2 copy and took batch 2 once, from v1
    assert (old_planning_inbox.stats.other_versions, old_planning_inbox.stats.dead_lettered) == (1, 0)
    # no dead letter anywhere
    assert (await js.stream_info(dead_letter_stream("tinh-40"))).state.messages == 0

    info = await js.stream_info(stream_name("tinh-40"))
    raw = [
        (await js.get_msg(stream_name("tinh-40"), s)).data for s in range(info.state.first_seq, info.state.last_seq + 1)
    ]
    await nc.close()
    approvals = [e for e in map(Envelope.from_json, raw) if e.type.startswith("kc.planning.plan.approved.")]
    assert [(e.type, e.kcversions) for e in approvals] == [
        ("kc.planning.plan.approved.v1", None),
        ("kc.planning.plan.approved.v2", "1,2"),
        ("kc.planning.plan.approved.v1", "1,2"),
    ]
    assert approvals[1].id == approvals[2].id  # one event, two copies
    assert approvals[1].decode(contracts_with_v2()) == approvals[2].decode(contracts_with_v2())
    # an auditor's check of the whole stream: every copy signed, every link of every chain in place
    trust = TrustStore.load(planning.state.runtime.settings.trust_path)
    assert [r for r in verify_stream([json.loads(m) for m in raw], trust) if r is not None] == []

    # a rebuild from the bus takes what the live consumers took: with v2 known, each approval once
    registry.register(PlanApprovedV2)
    registry.register_upcaster(PlanApprovedV2.type, 1, upcast_v1_v2)
    try:
        rebuilt = [
            d
            for d in (rebuild._decode(m) for m in raw)
            if d is not None and d[0].type.startswith("kc.planning.plan.approved.")
        ]
    finally:
        del registry.models[PlanApprovedV2.key()]
        del registry.upcasters[(PlanApprovedV2.type, 1)]
    assert [(e.type, type(c), c.batch) for e, c in rebuilt] == [  # type: ignore[attr-defined]
        ("kc.planning.plan.approved.v1", PlanApprovedV2, 1),
        ("kc.planning.plan.approved.v2", PlanApprovedV2, 2),
    ]
    # and without it (the readers not upgraded), each once as v1
    plain = [
        d
        for d in (rebuild._decode(m) for m in raw)
        if d is not None and d[0].type.startswith("kc.planning.plan.approved.")
    ]
    assert [(e.type, type(c), c.batch) for e, c in plain] == [  # type: ignore[attr-defined]
        ("kc.planning.plan.approved.v1", PlanApprovedV1, 1),
        ("kc.planning.plan.approved.v1", PlanApprovedV1, 2),
    ]


async def _is(value: Any, expected: str) -> bool:
    return bool(await value == expected)
