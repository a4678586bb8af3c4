"""Plan events stored before they recorded correlation and causation still replay."""

from __future__ import annotations

import json
from datetime import date

from eventsourcing.persistence import StoredEvent
from kc_planning.domain.plan import AnnualPlan
from kc_runtime.store.eventstore import ServiceApplication

LINE = {"de_an_id": "0b7c4f7e-1f3a-4a55-9a8e-2f6c7b1f9a31", "code": "KCQG-2024-40-01", "recommended_support_vnd": 5}


def test_a_plan_stored_without_correlation_and_causation_replays() -> None:
    plan = AnnualPlan.open(level="quoc_gia", owner="bo", year=2024, actor="cuc")
    plan.propose_line(LINE, actor="he-thong", correlation_id="c", causation_id="m")
    plan.approve_batch(decision_number="1/QĐ", decision_date=date(2023, 12, 28), signer="BT", amounts=None, actor="b")
    app = ServiceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    stored = []
    for event in plan.collect_events():
        record = app.mapper.to_stored_event(event)
        state = json.loads(record.state)
        for new in ("correlation_id", "causation_id", "class_version"):  # as the first version wrote them
            state.pop(new, None)
        stored.append(
            StoredEvent(record.originator_id, record.originator_version, record.topic, json.dumps(state).encode())
        )
    app.recorder.insert_events(stored)

    replayed: AnnualPlan = app.repository.get(plan.id)
    assert replayed.lines == plan.lines and replayed.batches == plan.batches
    events = list(app.events.get(plan.id))
    assert [(e.correlation_id, e.causation_id) for e in events if isinstance(e, AnnualPlan.LineProposed)] == [
        (None, None)
    ]
