"""``python -m kc_planning.rebuild``: replay the bus log into fresh programme tables, swap them in,
print the digest (and the live one). Reads the same ``KC_*`` settings as the service."""

from __future__ import annotations

import asyncio
import sys

from kc_runtime.bus.rebuild import ensure_tables, live_digest, rebuild
from kc_runtime.keys import TrustFile
from kc_runtime.settings import Settings
from kc_runtime.store.eventstore import persistence_env
from kc_runtime.store.views import ViewStore
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kc_planning.projections.programme import ProgrammeView, programme_sources


def main() -> int:
    console = Console(stderr=True)
    try:
        settings = Settings(service="planning")
    except ValidationError as exc:
        console.print(f"[red]cấu hình sai / bad configuration:[/] {exc.errors()[0]['msg']}")
        return 2
    store = ViewStore(persistence_env(settings), name="planning_views")
    view = ProgrammeView()
    ensure_tables(store, view)
    before = live_digest(store, view)
    with Progress(
        TextColumn("rebuild"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("events", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = asyncio.run(
                rebuild(
                    view,
                    store,
                    settings.nats_servers,
                    programme_sources(settings.instance, settings.peers),
                    progress=tick,
                    trust=TrustFile(settings.trust_path),
                )
            )
        except OSError as exc:
            console.print(f"[red]lỗi / error:[/] NATS {settings.nats_url}: {exc}")
            return 1
    after = live_digest(store, view)
    store.close()
    print(f"events {report.events}  skipped {report.skipped}  {report.events_per_second:,.0f} events/s")
    print(f"digest before {before}")
    print(f"digest rebuilt {report.digest}")
    print(f"digest live    {after}")
    return 0 if report.digest == after else 1


if __name__ == "__main__":
    sys.exit(main())
