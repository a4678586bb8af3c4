"""Stored đề án histories stay readable: the events as the code wrote them before the domain became
a package (module ``kc_appraisal.domain.de_an``, one ``Appraised`` event for both appraisal stages,
no causation) replay to exactly the state they had then."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from kc_runtime.store.eventstore import ServiceApplication

FIXTURE = Path(__file__).parent / "data" / "stored_events_before_split.json"


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@pytest.mark.parametrize("index", [0, 1], ids=["local-closed", "national-not-funded"])
def test_histories_stored_before_the_split_replay_to_the_same_state(index: int) -> None:
    recorded = json.loads(FIXTURE.read_text("utf-8"))[index]
    app = ServiceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=UUID(e["originator_id"]),
                originator_version=e["originator_version"],
                topic=e["topic"],
                state=e["state"].encode(),
            )
            for e in recorded["events"]
        ]
    )
    de_an = app.repository.get(UUID(recorded["events"][0]["originator_id"]))
    state = _json(de_an.state())
    assert state.pop("documents") == []  # the đề án's own files came later: an older history has none
    assert state == recorded["state"]
