"""Run a service (``python -m reliability_clock``) with its clock shifted by an offset that can change while it runs.

The offset, in seconds, is read from the file named by ``KC_TEST_CLOCK_FILE`` whenever that file
changes, so a test makes the service's clock jump forwards or backwards by rewriting it. The service
module (``KC_TEST_CLOCK_MODULE``, e.g. ``kc_notifications.main``) is imported, its clock seams are
shifted, then its ``main()`` runs as ``python -m <module>`` would. The seams are where time enters
the system's decisions:

- the timestamp of every domain event (``eventsourcing.domain.datetime_now_with_tzinfo``): event
  times, envelope ``time``, the programme view's ``event_time``;
- ``datetime.now`` and ``date.today`` in every module of the service's own package (the notifications
  scheduler's "today", the date a đề án is drafted on and so the rules applied to it, the day the
  registry's eligibility is judged on, mail and webhook times).

The runtime (``kc_runtime``: token checks, keys, the relay) keeps the real clock, so a jump does not
simply expire every token: what is tested is the system's own use of time.

Every read of ``datetime.now`` by the service's main module is counted in ``<clock file>.<instance>-<service>.beat``
(``<count> <ISO time>``), so a test can wait until the scheduler has run on the new day instead of
sleeping.
"""

from __future__ import annotations

import importlib
import os
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

_real = datetime
_real_date = date


class _Clock:
    def __init__(self, path: Path) -> None:
        self.path = path
        # one per process: <clock file>.<instance>-<service>.beat
        who = f"{os.environ.get('KC_INSTANCE', '')}-{os.environ.get('KC_SERVICE', '')}"
        self.beat = path.with_name(f"{path.name}.{who}.beat")
        self._stamp: int | None = None
        self._offset = timedelta(0)
        self.reads = 0

    def offset(self) -> timedelta:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return timedelta(0)
        if stamp != self._stamp:
            self._stamp = stamp
            self._offset = timedelta(seconds=float(self.path.read_text().strip() or 0))
        return self._offset

    def now(self, tz: Any = None) -> datetime:
        return _real.now(tz) + self.offset()

    def tick(self, moment: datetime) -> None:
        self.reads += 1
        tmp = self.beat.with_name(f"{self.beat.name}.{os.getpid()}.tmp")
        tmp.write_text(f"{self.reads} {moment.isoformat()}")
        tmp.replace(self.beat)


class _Stands(type):
    """A shifted class is the real one to ``isinstance`` and to pydantic (FastAPI resolves a route's
    annotations when the app is built, after the shift, so ``today: date | None`` names the shifted one)."""

    stands_for: type

    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, cls.stands_for)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.stands_for)

    def __get_pydantic_core_schema__(cls, _source: Any, handler: Any) -> Any:
        return handler.generate_schema(cls.stands_for)


def main() -> None:
    clock = _Clock(Path(os.environ["KC_TEST_CLOCK_FILE"]))
    module_name = os.environ["KC_TEST_CLOCK_MODULE"]

    import eventsourcing.domain

    eventsourcing.domain.datetime_now_with_tzinfo = lambda: clock.now(eventsourcing.domain.TZINFO)  # type: ignore[assignment]

    class ShiftedDatetime(_real, metaclass=_Stands):
        stands_for = _real

        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            moment = clock.now(tz)
            if sys._getframe(1).f_globals.get("__name__") == module_name:
                clock.tick(moment)  # a read by the service's main module (the scheduler's daily tick)
            return moment

    class ShiftedDate(_real_date, metaclass=_Stands):
        stands_for = _real_date

        @classmethod
        def today(cls) -> date:  # type: ignore[override]
            return clock.now().date()

    module = importlib.import_module(module_name)
    package = module_name.split(".", 1)[0]
    for name, loaded in list(sys.modules.items()):
        if name == package or name.startswith(package + "."):
            if getattr(loaded, "datetime", None) is _real:
                loaded.datetime = ShiftedDatetime  # type: ignore[attr-defined]
            if getattr(loaded, "date", None) is _real_date:
                loaded.date = ShiftedDate  # type: ignore[attr-defined]
    sys.argv[0] = module_name
    module.main()


if __name__ == "__main__":
    main()
