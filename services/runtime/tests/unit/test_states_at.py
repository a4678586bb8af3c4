"""The relay's translator sees each event with its aggregate as of the event's version (StatesAt): kept
from the event before and brought forward, the same state a full replay gives, without replaying."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.domain import Aggregate, event
from kc_runtime.store.eventstore import ServiceApplication, StatesAt, sqlite_env


class Tally(Aggregate):
    @event("Opened")
    def __init__(self) -> None:
        self.marks: list[int] = []

    @event("Marked")
    def mark(self, n: int) -> None:
        self.marks.append(n)


def test_each_event_gets_its_aggregate_at_its_version_with_one_replay_per_stream(tmp_path: Path) -> None:
    app = ServiceApplication(env=sqlite_env(tmp_path / "tally.sqlite"))
    try:
        tally = Tally()
        for n in range(1, 8):
            tally.mark(n)
            if n % 3 == 0:
                app.save(tally)
        app.save(tally)
        events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 100)]
        states = StatesAt(app)
        seen = []
        for i, e in enumerate(events):
            if i in (2, 5):
                continue  # a translator asks for some events only: the state is brought over the gap
            at = states(e)
            assert at.version == e.originator_version
            assert at.marks == app.repository.get(tally.id, version=e.originator_version).marks
            seen.append(at.version)
        assert seen == [1, 2, 4, 5, 7, 8]
        assert states.replays == 1  # the first sight only
        assert states(events[3]).marks == [1, 2, 3]  # an older event than the one kept: replayed
        assert states.replays == 2
    finally:
        app.close()


def test_a_reader_passing_every_event_never_reads_the_store(tmp_path: Path) -> None:
    """The relay passes every event, published or not: each brings its aggregate forward, so the ones it
    publishes find theirs at their version with no replay at all — the same state as a full replay."""
    app = ServiceApplication(env=sqlite_env(tmp_path / "tally.sqlite"))
    try:
        tallies = [Tally() for _ in range(3)]
        for n in range(4):
            for tally in tallies:
                tally.mark(n)
                app.save(tally)
        states = StatesAt(app)
        published = []

        def translate(e: object) -> int | None:  # publishes the marks only, with the tally as of then
            if isinstance(e, Tally.Marked):  # type: ignore[attr-defined]
                at = states(e)
                published.append((at.version, list(at.marks)))
                return at.version
            return None

        follow = states.following(translate)
        events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 100)]
        for e in events:
            follow(e)
        assert states.replays == 0
        assert published == [
            (e.originator_version, app.repository.get(e.originator_id, version=e.originator_version).marks)
            for e in events
            if e.originator_version > 1
        ]
    finally:
        app.close()
