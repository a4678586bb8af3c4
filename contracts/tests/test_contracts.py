"""The public contract: committed schemas, compatibility of published versions, the envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from kc_contracts import Envelope, registry, subject_for
from kc_contracts.base import ContractEvent, ContractRegistry, UnknownContractError
from kc_contracts.registry_events import EstablishmentRegisteredV1
from kc_contracts.schemas import drift, generate, incompatibilities, render, schema_of
from kc_contracts.subjects import parse_subject, stream_name
from pydantic import ValidationError


def _registered() -> EstablishmentRegisteredV1:
    return EstablishmentRegisteredV1(
        establishment_id=uuid4(),
        name="Cơ sở đúc đồng Đông Hà",
        province_code="40",
        commune_code="16681",
        legal_form="ho_kinh_doanh",
        registered_at=datetime(2024, 3, 1, 8, 30, tzinfo=UTC),
    )


def test_every_committed_schema_matches_its_model() -> None:
    assert drift() == []


def test_a_schema_that_differs_from_its_model_is_reported(tmp_path: Path) -> None:
    generate(directory=tmp_path)
    path = tmp_path / "registry.establishment.registered.v1.json"
    schema = json.loads(path.read_text())
    schema["properties"]["name"]["type"] = "integer"
    path.write_text(render(schema))

    assert drift(directory=tmp_path) == [
        "registry.establishment.registered.v1: committed schema differs from the model"
    ]


def _variant(**fields: object) -> type[ContractEvent]:
    """A model standing in for an edited EstablishmentRegisteredV1."""
    annotations = {k: v for k, v in fields.items() if not isinstance(v, tuple)}
    defaults = {k: v[1] for k, v in fields.items() if isinstance(v, tuple)}
    annotations |= {k: v[0] for k, v in fields.items() if isinstance(v, tuple)}
    return type(
        "Variant",
        (ContractEvent,),
        {"__annotations__": annotations, "type": "x.y.z", "version": 1, **defaults},
    )


BASE = {"establishment_id": UUID, "name": str, "commune_code": str}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"establishment_id": UUID, "commune_code": str}, "field 'name' was removed or renamed"),
        (
            {"establishment_id": UUID, "ten": str, "commune_code": str},
            "field 'name' was removed or renamed",
        ),
        (
            {"establishment_id": UUID, "name": int, "commune_code": str},
            "field 'name' changed type",
        ),
        ({**BASE, "sector": str}, "field 'sector' became required"),
    ],
)
def test_breaking_changes_to_a_published_version_are_refused(edit: dict[str, object], expected: str) -> None:
    published = schema_of(_variant(**BASE))
    problems = incompatibilities(published, schema_of(_variant(**edit)))
    assert any(p.startswith(expected) for p in problems), problems


def test_adding_an_optional_field_keeps_a_published_version_compatible() -> None:
    published = schema_of(_variant(**BASE))
    candidate = schema_of(_variant(**BASE, sector=(str | None, None)))
    assert incompatibilities(published, candidate) == []


def test_generate_refuses_to_overwrite_a_published_schema_with_a_breaking_change(
    tmp_path: Path,
) -> None:
    contracts = ContractRegistry()
    old = _variant(**BASE)
    contracts.register(old)
    assert generate(contracts, tmp_path) == []
    committed = (tmp_path / "x.y.z.v1.json").read_text()

    broken = ContractRegistry()
    broken.register(_variant(establishment_id=UUID, commune_code=str))
    assert generate(broken, tmp_path) == ["x.y.z.v1: field 'name' was removed or renamed"]
    assert (tmp_path / "x.y.z.v1.json").read_text() == committed


def test_envelope_round_trips_through_the_cloudevents_sdk() -> None:
    event = _registered()
    envelope = Envelope.wrap(
        event,
        instance="tinh-40",
        service="registry",
        stream_id=event.establishment_id,
        stream_version=1,
        time=datetime(2024, 3, 1, 1, 30, tzinfo=UTC),
    )

    parsed = JSONFormat().read(CloudEvent, envelope.to_json())
    attributes = parsed.get_attributes()
    assert attributes["specversion"] == "1.0"
    assert attributes["type"] == "kc.registry.establishment.registered.v1"
    assert attributes["kcinstance"] == "tinh-40"
    assert attributes["kcstreamversion"] == 1
    assert attributes["id"] == f"tinh-40:{event.establishment_id}:1"

    again = Envelope.from_json(JSONFormat().write(parsed))
    assert again == envelope
    assert again.decode() == event
    assert again.decode().name == "Cơ sở đúc đồng Đông Hà"  # type: ignore[attr-defined]


def test_the_trace_context_travels_as_the_cloudevents_distributed_tracing_extension() -> None:
    event = _registered()
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    envelope = Envelope.wrap(
        event,
        instance="tinh-40",
        service="registry",
        stream_id=event.establishment_id,
        stream_version=1,
        time=datetime(2024, 3, 1, 1, 30, tzinfo=UTC),
        traceparent=traceparent,
        tracestate="congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
    )

    parsed = JSONFormat().read(CloudEvent, envelope.to_json())
    attributes = parsed.get_attributes()
    assert attributes["traceparent"] == traceparent
    assert attributes["tracestate"] == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    assert Envelope.from_json(JSONFormat().write(parsed)) == envelope
    # without a trace context the envelope names none (absent, not null)
    plain = Envelope.wrap(
        event,
        instance="tinh-40",
        service="registry",
        stream_id=event.establishment_id,
        stream_version=1,
        time=datetime(2024, 3, 1, 1, 30, tzinfo=UTC),
    )
    assert "traceparent" not in plain.body() and "tracestate" not in plain.body()


def test_consumers_ignore_fields_they_do_not_know() -> None:
    data = _registered().model_dump(mode="json") | {"added_in_a_later_release": 1}
    decoded = registry.decode("registry.establishment.registered", 1, data)
    assert decoded == EstablishmentRegisteredV1.model_validate(data)


def test_an_unknown_version_is_a_named_error() -> None:
    with pytest.raises(UnknownContractError, match=r"registry\.establishment\.registered v9"):
        registry.decode("registry.establishment.registered", 9, {})


def test_upcasters_carry_old_versions_to_the_newest() -> None:
    contracts = ContractRegistry()

    class V1(ContractEvent):
        type = "planning.plan.approved"
        version = 1
        total: int

    class V2(ContractEvent):
        type = "planning.plan.approved"
        version = 2
        total_vnd: int
        currency: str

    contracts.register(V1)
    contracts.register(V2)
    contracts.register_upcaster("planning.plan.approved", 1, lambda d: {"total_vnd": d["total"], "currency": "VND"})

    assert contracts.decode("planning.plan.approved", 1, {"total": 5}) == V2(total_vnd=5, currency="VND")
    assert contracts.decode("planning.plan.approved", 1, {"total": 5}, to=1) == V1(total=5)


def test_an_event_published_in_two_versions_is_taken_once_by_every_reader_from_the_same_copy() -> None:
    old, new = ContractRegistry(), ContractRegistry()

    class V1(ContractEvent):
        type = "planning.plan.approved"
        version = 1
        total: int

    class V2(ContractEvent):
        type = "planning.plan.approved"
        version = 2
        total_vnd: int

    old.register(V1)
    new.register(V1)
    new.register(V2)
    kind = "planning.plan.approved"
    # during the rollout (published as 1 and 2) both take the v1 copy — the upgraded reader upcast —
    # so its choice is the one its old version made: an upgrade mid-stream misses and doubles nothing
    assert (old.takes(kind, 1, (1, 2)), old.takes(kind, 2, (1, 2))) == (True, False)
    assert (new.takes(kind, 1, (1, 2)), new.takes(kind, 2, (1, 2))) == (True, False)
    # before it (v1 only) both take v1; after it (v2 only) the upgraded reader takes v2, and the old one
    # the copy it cannot read, so that decoding refuses it as unknown (a dead letter, never silence)
    assert new.takes(kind, 1, (1,)) and new.takes(kind, 2, (2,)) and old.takes(kind, 2, (2,))
    envelope = Envelope.wrap(
        V2(total_vnd=5),
        instance="bo",
        service="planning",
        stream_id="p",
        stream_version=3,
        time=datetime(2024, 1, 1, tzinfo=UTC),
        versions=[2, 1],
    )
    assert envelope.kcversions == "1,2" and envelope.published_versions() == (1, 2)
    alone = Envelope.wrap(
        V1(total=5),
        instance="bo",
        service="planning",
        stream_id="p",
        stream_version=3,
        time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert alone.kcversions is None and alone.published_versions() == (1,) and "kcversions" not in alone.body()


def test_contract_events_are_frozen() -> None:
    event = _registered()
    with pytest.raises(ValidationError):
        event.name = "khác"  # type: ignore[misc]


def test_subjects_follow_the_naming_rule() -> None:
    subject = subject_for("tinh-40", EstablishmentRegisteredV1)
    assert subject == "kc.tinh-40.registry.establishment.registered.v1"
    assert parse_subject(subject) == ("tinh-40", "registry.establishment.registered", 1)
    assert stream_name("tinh-40") == "KC_TINH_40"
    assert stream_name("bo") == "KC_BO"
    with pytest.raises(ValueError, match="mã instance không hợp lệ"):
        subject_for("hanoi", EstablishmentRegisteredV1)


def test_the_published_event_catalogue_is_in_sync_with_the_contracts() -> None:
    from kc_contracts.asyncapi import document, files

    stale = [str(path) for path, text in files().items() if not path.exists() or path.read_text() != text]
    assert stale == [], "run `make schemas`"
    doc = document()
    assert doc["channels"]["planning.plan.approved.v1"]["address"] == "kc.{instance}.planning.plan.approved.v1"
    assert set(doc["channels"]) == {m.schema_name() for m in registry.all()}
