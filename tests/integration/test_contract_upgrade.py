"""A contract's new version rolled out while the old consumers still run, on one real nats-server.

``planning.plan.approved`` gets a v2 (defined here, never shipped: the decision as one object instead of
three fields) with its upcaster, rolled out in the README's four steps. Nghệ An's planning is upgraded
first: it publishes each approval in both versions (the relay's own dual publishing: two envelopes, one
event id, ``kcversions: "1,2"``), while appraisal and notifications run on as they are, knowing v1 only.

- appraisal (subscribed to ``….plan.approved.v1``) approves the đề án of the approval made after the
  upgrade exactly as before;
- notifications (subscribed to ``….planning.>``: it receives the v2 copy too) passes over the copy it
  cannot read — no dead letter — and records the approval once;
- a consumer written for v2 reads every approval once, v1 ones through the upcaster; another, upgraded
  in place from its v1 version, goes on where it stopped (its durable's subjects widened) — nothing
  missed, nothing twice;
- once v1 is off, the upgraded consumers take v2, and notifications, never upgraded, dead-letters it
  with the reason (never silence);
- the stream's chains stay whole for an auditor; a rebuild from the bus decides as the live consumers.
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
from kc_runtime.bus.inbox import Inbox
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


class Reader:
    """A consumer of ``plan.approved`` in a service of its own: what it takes, tracked in its database."""

    def __init__(self, settings: Any, name: str) -> None:
        self.settings, self.name = settings, name
        self.seen = ViewStore(persistence_env(settings), name=f"{name.replace('-', '_')}_seen")
        self.taken: list[tuple[str, ContractEvent]] = []
        self.runtime = ServiceRuntime(settings)

    def start(self, subjects: list[str], contracts: ContractRegistry) -> Inbox:
        """This version of the reader (its subjects, the contracts it knows), on a runtime of its own."""
        self.runtime = ServiceRuntime(self.settings)
        return self.runtime.consume(
            self.name,
            source_instance="tinh-40",
            subjects=subjects,
            effect=self.take,
            is_tracked=self.seen.has_tracked,
            contracts=contracts,
        )

    def take(self, envelope: Envelope, event: ContractEvent, tracking: Any) -> None:
        with self.seen.transaction() as cur:
            self.seen.track(cur, tracking)
        self.taken.append((envelope.type, event))

    def close(self) -> None:
        self.seen.close()


def v2_only(translate: Any) -> Any:
    """Planning's translator once the rollout is over: v2 alone."""

    def translated(event: Any) -> ContractEvent | Sequence[ContractEvent] | None:
        contract = translate(event)
        if isinstance(contract, PlanApprovedV1):
            return PlanApprovedV2.model_validate(upcast_v1_v2(contract.model_dump(mode="json")))
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

    # a consumer written for v2, in a service of its own, first started once v2 is out
    fresh = Reader(make_settings("reader"), "reader-plans")
    fresh_inbox = fresh.start(["kc.tinh-40.planning.plan.approved.*"], contracts_with_v2())
    # and one running its old version (v1, its own subject) before the upgrade, upgraded in place after
    in_place = Reader(make_settings("reader-b"), "reader-b-plans")
    old_reader = in_place.start(["kc.tinh-40.planning.plan.approved.v1"], registry)

    apps = (appraisal, planning, notifications)
    lifespans = [app.router.lifespan_context(app) for app in apps]
    try:
        for lifespan in lifespans:
            await lifespan.__aenter__()
        await eventually(lambda: all(a.state.runtime.bus_started for a in apps), timeout=60)
        apr, plan = client(appraisal, "so_ct"), client(planning, "ubnd_tinh")
        ids = [await proposed(apr, f"KCĐP-40-2024-2{n}") for n in (1, 2, 3)]

        async def lines(n: int) -> bool:
            response = await plan.get("/plans/dia_phuong/2024")
            return response.status_code == 200 and len(response.json()["lines"]) == n

        await eventually(lambda: lines(3), timeout=60)

        async def status(de_an: str) -> str:
            return str((await apr.get(f"/de-an/{de_an}")).json()["status"])

        async def approve(batch: int, de_an: str) -> None:
            response = await plan.post(
                "/plans/dia_phuong/2024/approvals",
                json={
                    "decision_number": f"{batch}/QĐ-UBND",
                    "decision_date": f"2024-0{batch}-15",
                    "signer": "Chủ tịch UBND tỉnh",
                    "amounts": {de_an: 90_000_000},
                },
            )
            assert response.status_code == 200, response.text

        # batch 1, before the upgrade: v1 only; the old reader takes it
        await approve(1, ids[0])
        await eventually(lambda: _is(status(ids[0]), "da_phe_duyet"), timeout=60)
        async with in_place.runtime.lifespan():
            await eventually(lambda: len(in_place.taken) == 1, timeout=60)

        # step 2: planning upgraded, each approval goes out in v2 and v1
        relay = planning.state.runtime.relay
        v1_only = relay.translate
        relay.translate = both_versions(v1_only)
        await approve(2, ids[1])
        # appraisal, still on v1, approves the đề án of the approval published after the upgrade
        await eventually(lambda: _is(status(ids[1]), "da_phe_duyet"), timeout=60)
        old_planning_inbox = next(
            s.inbox
            for s in notifications.state.runtime.subscriptions
            if s.inbox.name == "notifications-planning-tinh-40"
        )
        # notifications, still on v1 and subscribed to planning.>, takes the v1 copy, passes over the v2
        await eventually(lambda: old_planning_inbox.stats.other_versions == 1, timeout=60)

        # step 3: the v2 consumers run — the reader upgraded in place goes on from where its old version
        # stopped, its durable's subjects widened to v2; the fresh one reads everything from the start
        upgraded = in_place.start(
            ["kc.tinh-40.planning.plan.approved.v1", "kc.tinh-40.planning.plan.approved.v2"], contracts_with_v2()
        )
        async with fresh.runtime.lifespan(), in_place.runtime.lifespan():
            await eventually(lambda: len(fresh.taken) == 2 and len(in_place.taken) == 2, timeout=60)

            # step 4: v1 off; a consumer still on v1 now dead-letters the event, loudly
            relay.translate = v2_only(v1_only)
            await approve(3, ids[2])
            await eventually(lambda: len(fresh.taken) == 3 and len(in_place.taken) == 3, timeout=60)
            await eventually(lambda: old_planning_inbox.stats.dead_lettered == 1, timeout=60)
        await apr.aclose()
        await plan.aclose()
    finally:
        for lifespan in reversed(lifespans):
            await lifespan.__aexit__(None, None, None)
        fresh.close()
        in_place.close()

    # each reader took each approval once: v1 before and during the rollout (upcast by the upgraded
    # readers), v2 once it is the only copy
    as_v2 = [
        ("kc.planning.plan.approved.v1", PlanApprovedV2, 1),
        ("kc.planning.plan.approved.v1", PlanApprovedV2, 2),
        ("kc.planning.plan.approved.v2", PlanApprovedV2, 3),
    ]
    assert [(t, type(e), getattr(e, "batch", None)) for t, e in fresh.taken] == as_v2
    decided = Decision(number="1/QĐ-UBND", date=date(2024, 1, 15), signer="Chủ tịch UBND tỉnh")
    assert getattr(fresh.taken[0][1], "decision", None) == decided
    assert (fresh_inbox.stats.other_versions, fresh_inbox.stats.dead_lettered) == (1, 0)
    # the one upgraded in place: batch 1 by its old version, the rest by the new, nothing twice
    assert [(t, type(e), getattr(e, "batch", None)) for t, e in in_place.taken] == [
        ("kc.planning.plan.approved.v1", PlanApprovedV1, 1),
        *as_v2[1:],
    ]
    assert (old_reader.stats.applied, upgraded.stats.applied, upgraded.stats.dead_lettered) == (1, 2, 0)
    # notifications, not upgraded: batch 2 once (v1), and batch 3 dead-lettered with the reason
    assert (old_planning_inbox.stats.other_versions, old_planning_inbox.stats.dead_lettered) == (1, 1)
    letters = await js.stream_info(dead_letter_stream("tinh-40"))
    assert letters.state.messages == 1
    letter = await js.get_msg(dead_letter_stream("tinh-40"), letters.state.first_seq)
    assert "unknown contract version" in (letter.headers or {})["Kc-Dead-Letter-Reason"]

    info = await js.stream_info(stream_name("tinh-40"))
    raw = [
        (await js.get_msg(stream_name("tinh-40"), s)).data or b""
        for s in range(info.state.first_seq, info.state.last_seq + 1)
    ]
    await nc.close()
    approvals = [e for e in map(Envelope.from_json, raw) if e.type.startswith("kc.planning.plan.approved.")]
    assert [(e.type, e.kcversions) for e in approvals] == [
        ("kc.planning.plan.approved.v1", None),
        ("kc.planning.plan.approved.v2", "1,2"),
        ("kc.planning.plan.approved.v1", "1,2"),
        ("kc.planning.plan.approved.v2", None),
    ]
    assert approvals[1].id == approvals[2].id  # one event, two copies
    assert approvals[1].decode(contracts_with_v2()) == approvals[2].decode(contracts_with_v2())
    # an auditor's check of the whole stream: every copy signed, every link of every chain in place
    trust = TrustStore.load(planning.state.runtime.settings.trust_path)
    assert [r for r in verify_stream([json.loads(m) for m in raw], trust) if r is not None] == []

    # a rebuild from the bus decides as the live consumers: with v2 known, each approval once, as v2
    def rebuilt() -> list[tuple[str, type[ContractEvent], int | None]]:
        decoded = [rebuild._decode(m) for m in raw]
        return [
            (e.type, type(c), getattr(c, "batch", None))
            for e, c in (d for d in decoded if d is not None)
            if e.type.startswith("kc.planning.plan.approved.")
        ]

    registry.register(PlanApprovedV2)
    registry.register_upcaster(PlanApprovedV2.type, 1, upcast_v1_v2)
    try:
        assert rebuilt() == as_v2
    finally:
        del registry.models[PlanApprovedV2.key()]
        del registry.upcasters[(PlanApprovedV2.type, 1)]
    # and without it, as the readers not upgraded: v1 once each, v2 alone refused
    assert rebuilt() == [
        ("kc.planning.plan.approved.v1", PlanApprovedV1, 1),
        ("kc.planning.plan.approved.v1", PlanApprovedV1, 2),
    ]


async def _is(value: Any, expected: str) -> bool:
    return bool(await value == expected)
