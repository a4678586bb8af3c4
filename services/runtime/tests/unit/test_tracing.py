"""W3C trace context: what is read from a caller, what is passed on, and what a stored event keeps."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event
from kc_runtime import tracing
from kc_runtime.store.eventstore import ServiceApplication, sqlite_env
from kc_runtime.tracing import TraceContext

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_traceparent_is_continued_in_a_child_span() -> None:
    parent = TraceContext.parse(VALID, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
    assert parent is not None
    assert (parent.trace_id, parent.span_id, parent.flags) == (
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        "01",
    )
    child = parent.child()
    assert child.trace_id == parent.trace_id and child.span_id != parent.span_id
    assert child.state == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    assert TraceContext.parse(child.traceparent) == TraceContext(child.trace_id, child.span_id, "01")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # no flags
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # version 00 has four fields
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nX-Injected: 1",
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace_and_drops_its_tracestate(value: str) -> None:
    assert TraceContext.parse(value, "congo=t61rcWkgMzE") is None
    with tracing.continued(value, "congo=t61rcWkgMzE") as span:
        assert span.trace_id not in value and span.state is None


def test_a_later_version_is_read_for_its_first_four_fields() -> None:
    parsed = TraceContext.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later")
    assert parsed is not None and parsed.traceparent == VALID


@pytest.mark.parametrize("state", ["no-equals-sign", "a=1," * 40, "x" * 600, "Upper=1", "k=v\x00"])
def test_a_malformed_or_oversized_tracestate_is_not_passed_on(state: str) -> None:
    parsed = TraceContext.parse(VALID, state)
    assert parsed is not None and parsed.state is None


class Thing(Aggregate):
    @event("Made")
    def __init__(self, name: str) -> None:
        self.name = name


class Things(ServiceApplication):
    def make(self, name: str) -> UUID:
        thing = Thing(name)
        self.save(thing)
        return thing.id


def test_events_saved_in_a_span_keep_it_in_the_store_and_others_keep_none(tmp_path: Path) -> None:
    app = Things(env=sqlite_env(tmp_path / "things.sqlite"))
    outside = app.make("outside")
    with tracing.continued(VALID, "congo=t61rcWkgMzE") as span:
        inside = app.make("inside")

    reread = Things(env=sqlite_env(tmp_path / "things.sqlite"))  # read back from the database
    (made,) = list(reread.events.get(inside))
    assert tracing.of(made) == (span.traceparent, "congo=t61rcWkgMzE")
    assert span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    (plain,) = list(reread.events.get(outside))
    assert tracing.of(plain) == (None, None)
    # the aggregate does not see it: replayed state is the domain's own
    assert reread.repository.get(inside).name == "inside"
    assert tracing.current() is None
