"""The establishments view on a real SQLite store: rows and tracking in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from kc_contracts import Envelope
from kc_contracts.registry_events import EstablishmentRegisteredV1
from kc_planning.projections.establishments import DDL, EstablishmentsView
from kc_runtime.store.eventstore import sqlite_env
from kc_runtime.store.views import ViewStore


def registered(commune: str) -> tuple[Envelope, EstablishmentRegisteredV1]:
    event = EstablishmentRegisteredV1(
        establishment_id=uuid4(),
        name="Cơ sở",
        province_code="40",
        commune_code=commune,
        legal_form="ho_kinh_doanh",
        registered_at=datetime(2024, 3, 1, tzinfo=UTC),
    )
    envelope = Envelope.wrap(
        event,
        instance="tinh-40",
        service="registry",
        stream_id=event.establishment_id,
        stream_version=1,
        time=event.registered_at,
    )
    return envelope, event


def test_counts_by_commune_and_refuses_to_apply_the_same_message_twice(tmp_path: Path) -> None:
    view = EstablishmentsView(ViewStore(sqlite_env(tmp_path / "p.sqlite"), "planning_views", DDL))
    for seq, commune in enumerate(["16681", "16681", "17104"], start=1):
        view.apply(*registered(commune), Tracking("c@KC_TINH_40", seq))

    assert view.by_commune("40") == [
        {"province_code": "40", "commune_code": "16681", "establishments": 2},
        {"province_code": "40", "commune_code": "17104", "establishments": 1},
    ]
    assert view.store.has_tracked(Tracking("c@KC_TINH_40", 3))
    with pytest.raises(IntegrityError):
        view.apply(*registered("17104"), Tracking("c@KC_TINH_40", 3))
    assert view.count() == 3  # the rejected duplicate left no row behind
    view.store.close()
